package avro

import (
	"fmt"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Encoder writes the Avro binary encoding of one table's keys and envelopes,
// matching KeySchema and ValueSchema. It is compiled once per table and is
// safe for concurrent use.
type Encoder struct {
	table     *cdc.Table
	connector cdc.Connector
	columns   []columnEncoder
}

// columnEncoder encodes the values of one column.
type columnEncoder struct {
	path string // "table.column", for errors
	col  *cdc.Column
	enc  encodeFunc
}

// NewEncoder compiles the encoder of t's records for connector c. It fails
// on an unknown connector, on an invalid column, or when the Avro field
// names of t's columns would collide.
func NewEncoder(t *cdc.Table, c cdc.Connector) (*Encoder, error) {
	if _, err := sourceSchema(c); err != nil {
		return nil, err
	}
	if _, err := columnFields(t, t.Key); err != nil {
		return nil, err
	}
	if _, err := columnFields(t, nil); err != nil {
		return nil, err
	}
	e := &Encoder{table: t, connector: c, columns: make([]columnEncoder, len(t.Columns))}
	for i := range t.Columns {
		col := &t.Columns[i]
		enc, err := compile(col)
		if err != nil {
			return nil, fmt.Errorf("avro: table %s: %w", t.ID, err)
		}
		e.columns[i] = columnEncoder{path: t.ID.Name + "." + col.Name, col: col, enc: enc}
	}
	return e, nil
}

// AppendKey appends the encoding of the Key record of row, a full row of
// the table (one value per column): the values at the table's key indexes,
// none of which may be nil. On error buf is returned unextended.
func (e *Encoder) AppendKey(buf []byte, row []any) ([]byte, error) {
	if len(e.table.Key) == 0 {
		return buf, fmt.Errorf("avro: table %s has no key", e.table.ID)
	}
	if err := e.checkRow(row); err != nil {
		return buf, err
	}
	start := len(buf)
	for _, i := range e.table.Key {
		c := &e.columns[i]
		if row[i] == nil {
			return buf[:start], fmt.Errorf("%s: null key value", c.path)
		}
		var err error
		if buf, err = c.enc(buf, row[i]); err != nil {
			return buf[:start], cdc.ValueError(c.path, c.col, err)
		}
	}
	return buf, nil
}

// AppendValue appends the encoding of ev's Envelope record. h supplies
// source.version, source.name and the envelope's ts_ms; source.connector is
// the encoder's connector. A nil Before or After is written as null. On
// error buf is returned unextended.
func (e *Encoder) AppendValue(buf []byte, ev *cdc.Event, h Header) ([]byte, error) {
	if ev.Table != nil && ev.Table != e.table {
		return buf, fmt.Errorf("avro: event of table %s given to the encoder of table %s", ev.Table.ID, e.table.ID)
	}
	switch ev.Op {
	case cdc.OpCreate, cdc.OpUpdate, cdc.OpDelete, cdc.OpRead, cdc.OpTruncate:
	default:
		return buf, fmt.Errorf("avro: table %s: unknown op %q", e.table.ID, rune(ev.Op))
	}
	start := len(buf)
	buf, err := e.appendRow(buf, ev.Before)
	if err == nil {
		buf, err = e.appendRow(buf, ev.After)
	}
	if err != nil {
		return buf[:start], err
	}
	buf = appendSource(buf, e.connector, &ev.Source, &h)
	buf = append(appendLong(buf, 1), byte(ev.Op))
	buf = appendLong(buf, h.TsMs)
	return appendTx(buf, ev.Tx), nil
}

// appendRow appends a ["null", Value] union: null for a nil row.
func (e *Encoder) appendRow(buf []byte, row []any) ([]byte, error) {
	if row == nil {
		return append(buf, unionNull), nil
	}
	if err := e.checkRow(row); err != nil {
		return buf, err
	}
	buf = append(buf, unionValue)
	for i, v := range row {
		if v == nil {
			buf = append(buf, unionNull)
			continue
		}
		c := &e.columns[i]
		var err error
		if buf, err = c.enc(append(buf, unionValue), v); err != nil {
			return buf, cdc.ValueError(c.path, c.col, err)
		}
	}
	return buf, nil
}

// checkRow checks that row has one value per column.
func (e *Encoder) checkRow(row []any) error {
	if len(row) != len(e.columns) {
		return fmt.Errorf("avro: table %s: row has %d values for %d columns", e.table.ID, len(row), len(e.columns))
	}
	return nil
}

// AppendRow appends the encoding of row, a full row of the table (one value
// per column, nil for NULL), as the record Value of RowSchema: each field
// is its ["null", T] union, with no union around the record itself. It does
// not allocate when buf has room. Errors name the column (table.column); on
// error buf is returned unextended.
func (e *Encoder) AppendRow(buf []byte, row []any) ([]byte, error) {
	if err := e.checkRow(row); err != nil {
		return buf, err
	}
	start := len(buf)
	for i, v := range row {
		if v == nil {
			buf = append(buf, unionNull)
			continue
		}
		c := &e.columns[i]
		var err error
		if buf, err = c.enc(append(buf, unionValue), v); err != nil {
			return buf[:start], cdc.ValueError(c.path, c.col, err)
		}
	}
	return buf, nil
}
