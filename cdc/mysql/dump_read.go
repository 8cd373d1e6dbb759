package mysql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/boxarena"
)

// Read implements cdc.Dumper. It streams the chunk's rows (selectStreaming)
// on a free connection of the view; in a per-table view, the read is one
// consistent-snapshot transaction of its own.
func (d *Dumper) Read(ctx context.Context, c cdc.Chunk, fn func(row []any) error) error {
	if c.FirstPage != 0 || c.EndPage != 0 {
		return fmt.Errorf("read %s: MySQL tables have no page ranges", c.Table)
	}
	if !d.opts.Filter.Match(c.Table.Schema, c.Table.Name) {
		return fmt.Errorf("read %s: the table is not captured (source.tables, source.exclude_tables)", c.Table)
	}
	t := d.table(c.Table)
	if t == nil {
		err := d.withMeta(ctx, func(meta *client.Conn) error {
			var err error
			t, err = d.describe(meta, c.Table)
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read %s: %w", c.Table, err)
		}
	}
	if (c.Lo != nil || c.Hi != nil) && (!d.global || t.key == "") {
		return fmt.Errorf("read %s: key bounds given for a table the view reads in one chunk (SplitNone)", c.Table)
	}
	w, err := d.acquire(ctx)
	if err != nil {
		return err
	}
	defer d.release(w)
	return d.inView(ctx, w, func() error { return d.stream(ctx, w, t, c, fn) })
}

// inView runs fn, which reads tables on w, inside the view: between a
// savepoint and its rollback in a global view (which releases the metadata
// locks fn took, see Dumper), in a consistent-snapshot transaction of its
// own in a per-table view.
func (d *Dumper) inView(ctx context.Context, w *worker, fn func() error) error {
	begin, end := "SAVEPOINT "+readSavepoint, "ROLLBACK TO SAVEPOINT "+readSavepoint
	if !d.global {
		begin, end = startSnapshotTx, "COMMIT"
	}
	if _, err := d.exec(ctx, w, begin); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("mysql %s: %s: %w", d.opts.Conn.addr(), begin, err)
	}
	err := fn()
	if w.broken {
		return err
	}
	// The read's context may be over: end with a context of its own.
	cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	r, endErr := d.exec(cctx, w, end)
	if endErr == nil {
		r.Close()
		if d.global && !w.conn.IsInTransaction() {
			endErr = errors.New("the snapshot transaction ended")
		}
	}
	if endErr != nil {
		d.log.Warn("cannot end a read; dropping its connection", "statement", end, cdc.LogError, endErr.Error())
		w.broken = true
		if err == nil && d.global {
			err = fmt.Errorf("mysql %s: %s: %w", d.opts.Conn.addr(), end, endErr)
		}
	}
	return err
}

// stream runs the chunk's SELECT on w and passes the converted rows to fn.
func (d *Dumper) stream(ctx context.Context, w *worker, t *dumpTable, c cdc.Chunk, fn func(row []any) error) error {
	table := t.ts.table
	row := make([]any, len(t.reader.decoders))
	var values boxarena.Arena
	g := d.arm(ctx, w)
	done := ctx.Done()
	err := selectStreaming(w.conn, t.query(c), &w.result, func(fields []gomysql.FieldValue) error {
		if g.fired.Load() {
			return nil // stopping: skip the rows still on their way
		}
		select {
		case <-done: // seen before the guard's own callback runs
			g.fire(ctx.Err())
			return nil
		default:
		}
		if err := t.reader.decode(fields, row, &values); err != nil {
			g.fire(err)
			return nil
		}
		if err := fn(row); err != nil {
			g.fire(err)
		}
		return nil
	}, func(r *gomysql.Result) error {
		if len(r.Fields) < len(t.reader.decoders) {
			g.fire(fmt.Errorf("read %s: the server returned %d columns, want %d", table.ID, len(r.Fields), len(t.reader.decoders)))
		}
		return nil
	})
	if err != nil && errorCode(err) == 0 {
		w.broken = true
	}
	if cause := g.stop(); cause != nil {
		return cause
	}
	if err != nil {
		return tableError(table.ID, err)
	}
	return nil
}

// tableError explains a server error about reading table id.
func tableError(id cdc.TableID, err error) error {
	switch errorCode(err) {
	case gomysql.ER_NO_SUCH_TABLE, gomysql.ER_BAD_DB_ERROR:
		return fmt.Errorf("read %s: %w (dropped or renamed): %w", id, cdc.ErrTableGone, err)
	case gomysql.ER_TABLE_DEF_CHANGED:
		return fmt.Errorf("read %s: the table was altered, truncated or re-created after the consistent view began, "+
			"so the view cannot read it; a new run reads its current rows: %w", id, err)
	case gomysql.ER_BAD_FIELD_ERROR:
		return fmt.Errorf("read %s: a column was dropped or renamed since the table was described: %w", id, err)
	case gomysql.ER_TABLEACCESS_DENIED_ERROR, gomysql.ER_COLUMNACCESS_DENIED_ERROR:
		return fmt.Errorf("read %s: %w", id, explainPrivilege(err, "SELECT"))
	}
	return fmt.Errorf("read %s: %w", id, err)
}

// valueText renders a value for an error message, clipped.
func valueText(fv *gomysql.FieldValue) string {
	if fv.Type != gomysql.FieldValueTypeString {
		return fv.String()
	}
	b := fv.AsString()
	if len(b) > 64 {
		return strconv.Quote(string(b[:64])) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return strconv.Quote(string(b))
}

// fieldDecoder converts a non-NULL value read by selectStreaming into the Go
// type its column's Kind prescribes, boxed in a (the read's own). The
// common types are converted from the protocol buffer directly; the others
// go through the column's converter (the one the stream and its snapshot
// use).
type fieldDecoder func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error)

func newFieldDecoder(desc colDesc, col cdc.Column, conv converter) fieldDecoder {
	generic := func(fv *gomysql.FieldValue, _ *boxarena.Arena) (any, error) { return conv(fieldValue(fv, desc)) }
	switch col.Kind {
	case cdc.KindInt32, cdc.KindInt64:
		return func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error) {
			switch fv.Type {
			case gomysql.FieldValueTypeSigned:
				return a.Int64(fv.AsInt64()), nil
			case gomysql.FieldValueTypeUnsigned:
				if u := fv.AsUint64(); u <= math.MaxInt64 {
					return a.Int64(int64(u)), nil
				}
			}
			return generic(fv, a)
		}
	case cdc.KindUint64:
		return func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error) {
			if fv.Type == gomysql.FieldValueTypeUnsigned {
				return a.Uint64(fv.AsUint64()), nil
			}
			return generic(fv, a)
		}
	case cdc.KindFloat64:
		return func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error) {
			if fv.Type == gomysql.FieldValueTypeFloat {
				return a.Float64(fv.AsFloat64()), nil
			}
			return generic(fv, a)
		}
	case cdc.KindFloat32:
		return func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error) {
			if fv.Type == gomysql.FieldValueTypeFloat {
				return a.Float32(float32(fv.AsFloat64())), nil
			}
			return generic(fv, a)
		}
	case cdc.KindDecimal:
		return func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error) {
			if fv.Type == gomysql.FieldValueTypeString {
				if u, neg, ok := cdc.ParseSmallUnscaled(fv.AsString(), desc.Scale); ok {
					return a.Decimal(u, neg), nil
				}
			}
			return generic(fv, a)
		}
	case cdc.KindBool:
		return func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error) {
			if b := fv.AsString(); fv.Type == gomysql.FieldValueTypeString && len(b) == 1 {
				return b[0] != 0, nil
			}
			return generic(fv, a)
		}
	case cdc.KindDate:
		return func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error) {
			if fv.Type == gomysql.FieldValueTypeString {
				if days, zero, err := parseDate(fv.AsString()); err == nil && !zero {
					return a.Int64(days), nil
				}
			}
			return generic(fv, a) // zero dates, errors
		}
	case cdc.KindTimestampMicros, cdc.KindLocalTimestampMicros:
		return func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error) {
			if fv.Type == gomysql.FieldValueTypeString {
				if us, zero, err := parseTimestamp(fv.AsString()); err == nil && !zero {
					return a.Int64(us), nil
				}
			}
			return generic(fv, a)
		}
	case cdc.KindDurationMicros:
		return func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error) {
			if fv.Type == gomysql.FieldValueTypeString {
				if us, err := parseDuration(fv.AsString()); err == nil {
					return a.Int64(us), nil
				}
			}
			return generic(fv, a)
		}
	case cdc.KindString:
		return stringDecoder(desc, generic)
	case cdc.KindBytes:
		switch desc.Base {
		case "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
			return func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error) {
				if fv.Type == gomysql.FieldValueTypeString {
					return a.Bytes(fv.AsString()), nil
				}
				return generic(fv, a)
			}
		}
	}
	return generic
}

// stringDecoder decodes text, which the server sends in utf8mb4 whatever
// the column's character set.
func stringDecoder(desc colDesc, generic fieldDecoder) fieldDecoder {
	if fixedBinaryLength(desc.Base) > 0 {
		return generic
	}
	if desc.Base == "enum" {
		members := make(map[string]any, len(desc.Members)) // boxed once, not per row
		for _, m := range desc.Members {
			members[m] = m
		}
		return func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error) {
			if fv.Type == gomysql.FieldValueTypeString {
				if v, ok := members[string(fv.AsString())]; ok {
					return v, nil
				}
			}
			return generic(fv, a)
		}
	}
	return func(fv *gomysql.FieldValue, a *boxarena.Arena) (any, error) {
		if fv.Type == gomysql.FieldValueTypeString {
			return a.String(fv.AsString()), nil
		}
		return generic(fv, a)
	}
}
