package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/boxarena"
)

// tableReader reads the rows of one captured table: the one reader behind
// fluxo fullload (Dumper.Read), the consistent snapshot and incremental
// chunks. It selects the captured columns in table order, asks for those
// whose base type has a binary decoder (see binary.go) in binary format
// and for the others in text, and decodes rows with the same text
// decoders as the stream (binary decoders agree with them: see
// TestDumper's types cases).
type tableReader struct {
	table      *cdc.Table
	from       string // the FROM clause
	selectList string
	formats    []int16        // per column of table: 1 binary, 0 text
	decs       []valueDecoder // per column of table: binary or text
	textDecs   []valueDecoder // per column of table: text
	bases      []uint32       // per column of table: the base type's OID
}

// baseTyper resolves domains to the type they store.
type baseTyper interface {
	// baseType returns the type a column of type oid with typmod stores:
	// the base type of a domain.
	baseType(ctx context.Context, oid uint32, typmod int32) (*pgType, error)
}

// newTableReader builds the reader of rs from the relation columns cols
// it was described from, reading FROM from. With types nil every column
// is read as text.
func newTableReader(ctx context.Context, rs *relState, cols []relColumn, from string, types baseTyper, log *slog.Logger) (*tableReader, error) {
	n := len(rs.table.Columns)
	r := &tableReader{table: rs.table, from: from, formats: make([]int16, n), decs: make([]valueDecoder, n),
		textDecs: make([]valueDecoder, n), bases: make([]uint32, n)}
	names := make([]string, n)
	for i, c := range cols {
		idx := rs.idx[i]
		if idx < 0 {
			continue
		}
		col := &rs.table.Columns[idx]
		names[idx] = pgx.Identifier{c.name}.Sanitize()
		r.textDecs[idx] = textValue(rs.dec[i])
		r.decs[idx], r.bases[idx] = r.textDecs[idx], c.oid
		if types == nil {
			continue
		}
		base, err := types.baseType(ctx, c.oid, c.typmod)
		if err != nil {
			return nil, fmt.Errorf("postgres: table %s column %s: %w", rs.table.ID, c.name, err)
		}
		r.bases[idx] = base.oid
		f := &fallback{log: log, column: col.Name, typ: col.Type, optional: col.Optional}
		if dec := binaryDecoder(col, base.oid, base.typtype, f); dec != nil {
			r.decs[idx], r.formats[idx] = dec, 1
		}
	}
	r.selectList = strings.Join(names, ", ")
	return r, nil
}

// withTextKey returns a copy of r that reads the key columns as text, so
// that a read can bind the last row's key text as the next one's bound.
func (r *tableReader) withTextKey() *tableReader {
	c := *r
	c.formats, c.decs = append([]int16(nil), r.formats...), append([]valueDecoder(nil), r.decs...)
	for _, k := range r.table.Key {
		c.formats[k], c.decs[k] = 0, r.textDecs[k]
	}
	return &c
}

// query is the SELECT of the captured columns, with where (SQL; "" for
// none) and the rest of the statement (ORDER BY, LIMIT; "" for none).
func (r *tableReader) query(where, rest string) string {
	q := "SELECT " + r.selectList + " FROM " + r.from
	if where != "" {
		q += " WHERE " + where
	}
	if rest != "" {
		q += " " + rest
	}
	return q
}

// decode decodes one row of values, as the reader's query returns them,
// into row (len(table.Columns)); text decodes every value as text (the
// query asked for text only).
func (r *tableReader) decode(values [][]byte, row []any, bx *boxarena.Arena, text bool) error {
	decs := r.decs
	if text {
		decs = r.textDecs
	}
	if len(values) != len(decs) {
		return fmt.Errorf("postgres: table %s: %d columns in a row, want %d", r.table.ID, len(values), len(decs))
	}
	for i, raw := range values {
		if raw == nil {
			row[i] = nil
			continue
		}
		v, err := decs[i](raw, bx)
		if err != nil {
			return fmt.Errorf("postgres: table %s, column %s: %w", r.table.ID, r.table.Columns[i].Name, err)
		}
		row[i] = v
	}
	return nil
}

// read runs q (with text-format args) on pc and hands each row, decoded
// into one reused slice, to fn; text asks for every column as text. When
// it stops early (fn or a decoder failed, ctx ended) it abandons the query
// by ending a context of its own, which closes the connection at once
// instead of reading the rest of the result; the caller replaces it. An
// error of fn is returned unwrapped.
func (r *tableReader) read(ctx context.Context, pc *pgconn.PgConn, q string, args [][]byte, text bool, fn func(row []any) error) error {
	formats := r.formats
	if text {
		formats = nil
	}
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rr := pc.ExecParams(qctx, q, args, nil, nil, formats)
	row := make([]any, len(r.decs))
	var bx boxarena.Arena
	var stop error
	for rr.NextRow() {
		if stop = r.decode(rr.Values(), row, &bx, text); stop != nil {
			break
		}
		if stop = fn(row); stop != nil {
			break
		}
	}
	if stop != nil {
		cancel()
		rr.Close()
		return stop
	}
	_, err := rr.Close()
	return r.readError(ctx, err)
}

// readError explains the error that ended a read.
func (r *tableReader) readError(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("postgres: read %s: %w", r.table.ID, ctx.Err())
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return fmt.Errorf("postgres: read %s: %w (%w)", r.table.ID, cdc.ErrTableGone, err)
	}
	return fmt.Errorf("postgres: read %s: %w", r.table.ID, err)
}

// tableReader returns the reader of rs (described from cols) for the
// stream's snapshots, binary where the catalog resolves base types.
func (s *Source) tableReader(ctx context.Context, rs *relState, cols []relColumn) (*tableReader, error) {
	types, _ := s.types.(baseTyper)
	return newTableReader(ctx, rs, cols, quoteID(rs.table.ID), types, s.log)
}
