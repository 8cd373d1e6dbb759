package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Read implements cdc.Dumper. It runs one SELECT on a worker connection with
// the extended protocol, asking for the columns whose types have a binary
// decoder (see binary.go) in binary format and for the others in text
// format, and decodes each row in place from the protocol buffer into a
// reused row. (A binary COPY would need the same decoders and could not mix
// in the text output of the other types: a cast to text is not always the
// output function, e.g. for char(n) or inet.)
//
// The values themselves are fresh and immutable: fn may keep them without
// copying, though a kept scalar keeps the block of values it was boxed in
// (a few KiB, see boxer) alive.
func (d *Dumper) Read(ctx context.Context, c cdc.Chunk, fn func(row []any) error) error {
	t, err := d.table(ctx, c.Table)
	if err != nil {
		return err
	}
	if t.gone {
		return fmt.Errorf("postgres: table %s was dropped or replaced since the snapshot: %w", c.Table, cdc.ErrTableGone)
	}
	q, err := t.query(c)
	if err != nil {
		return err
	}
	w, err := d.acquire(ctx)
	if err != nil {
		return err
	}
	defer d.release(w)
	if err := d.ready(ctx, w); err != nil {
		return err
	}
	return d.readRows(ctx, w.conn.PgConn(), t, q, fn)
}

// readRows runs q and hands its rows to fn. When it stops early (fn or a
// decoder failed, ctx ended) it abandons the query by ending a context of
// its own, which closes the connection at once instead of reading the rest
// of the result; ready replaces it on the next use.
func (d *Dumper) readRows(ctx context.Context, pc *pgconn.PgConn, t *dumpTable, q string, fn func(row []any) error) error {
	formats, decs := t.formats, t.decs
	if d.textOnly {
		formats, decs = nil, t.textDecs
	}
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rr := pc.ExecParams(qctx, q, nil, nil, nil, formats)
	row := make([]any, len(decs))
	var bx boxer
	var stop error
rows:
	for rr.NextRow() {
		vals := rr.Values()
		if len(vals) != len(decs) {
			stop = fmt.Errorf("postgres: table %s: %d columns in a row, want %d", t.info.Table.ID, len(vals), len(decs))
			break
		}
		for i, raw := range vals {
			if raw == nil {
				row[i] = nil
				continue
			}
			v, err := decs[i](raw, &bx)
			if err != nil {
				stop = fmt.Errorf("postgres: table %s, column %s: %w", t.info.Table.ID, t.info.Table.Columns[i].Name, err)
				break rows
			}
			row[i] = v
		}
		if err := fn(row); err != nil {
			stop = err // unwrapped, as cdc.Dumper promises
			break
		}
	}
	if stop != nil {
		cancel()
		rr.Close()
		return stop
	}
	_, err := rr.Close()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("postgres: read %s: %w", t.info.Table.ID, ctx.Err())
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return fmt.Errorf("postgres: read %s: %w (%w)", t.info.Table.ID, cdc.ErrTableGone, err)
	}
	return fmt.Errorf("postgres: read %s: %w", t.info.Table.ID, err)
}
