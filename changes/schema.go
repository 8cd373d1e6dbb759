package changes

import (
	"fmt"
	"math/big"

	"github.com/hamba/avro/v2"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/boxarena"
)

// change is one decoded record value: a row change in the Debezium
// envelope.
type change struct {
	op            string
	before, after []any
	source        sourceBlock
}

// sourceBlock holds the envelope's source fields the sink uses.
type sourceBlock struct {
	tsMs              int64
	db, schema, table string
	file              string // MySQL
	pos, row          int64  // MySQL
	lsn               int64  // PostgreSQL
	hasLSN            bool
	txID              string // the envelope's transaction.id, when present
}

// envelope is a compiled registry value schema: the columns of its row
// record and a decoder of its binary values.
type envelope struct {
	cols   []cdc.Column
	fields []func(r *reader, c *change)
}

// decode decodes one value (without its Confluent framing), boxing the
// row's values in a (the caller's own, see boxarena).
func (e *envelope) decode(b []byte, a *boxarena.Arena) (change, error) {
	r := reader{b: b, a: a}
	var c change
	for _, f := range e.fields {
		f(&r, &c)
	}
	if r.err != nil {
		return c, r.err
	}
	if c.op == "" {
		return c, fmt.Errorf("the envelope has no op")
	}
	return c, nil
}

// compileEnvelope compiles the value schema of a stream topic (fluxo's or
// Debezium's envelope: before, after, source, op, ...).
func compileEnvelope(schemaJSON string) (*envelope, error) {
	s, err := avro.ParseWithCache(schemaJSON, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("parse the value schema: %w", err)
	}
	rec, ok := s.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("the value schema is a %s, not the Debezium envelope record", s.Type())
	}
	e := &envelope{}
	var haveRow, haveOp bool
	for _, f := range rec.Fields() {
		h, err := e.field(f, &haveRow, &haveOp)
		if err != nil {
			return nil, fmt.Errorf("envelope field %s: %w", f.Name(), err)
		}
		e.fields = append(e.fields, h)
	}
	if !haveRow || !haveOp {
		return nil, fmt.Errorf("the value schema %s is not a Debezium envelope (before, after, source, op)", rec.FullName())
	}
	return e, nil
}

// field compiles the handler of one envelope field.
func (e *envelope) field(f *avro.Field, haveRow, haveOp *bool) (func(*reader, *change), error) {
	switch f.Name() {
	case "before", "after":
		rowSchema := nonNull(f.Type())
		rs, ok := deref(rowSchema).(*avro.RecordSchema)
		if !ok {
			return nil, fmt.Errorf("not a record of columns")
		}
		dec, cols, err := compileRow(rs)
		if err != nil {
			return nil, err
		}
		if e.cols == nil {
			e.cols = cols
		}
		*haveRow = true
		after := f.Name() == "after"
		opt := optional(f.Type(), func(r *reader) any { return dec(r) })
		return func(r *reader, c *change) {
			v, _ := opt(r).([]any)
			if after {
				c.after = v
			} else {
				c.before = v
			}
		}, nil
	case "op":
		*haveOp = true
		read, err := scalar(f.Type())
		if err != nil {
			return nil, err
		}
		return func(r *reader, c *change) { c.op, _ = read(r).(string) }, nil
	case "transaction":
		rs, ok := deref(nonNull(f.Type())).(*avro.RecordSchema)
		if !ok {
			break
		}
		block, err := compileSource(rs) // its id lands in txID
		if err != nil {
			return nil, err
		}
		return optionalRecord(f.Type(), block), nil
	case "source":
		rs, ok := deref(nonNull(f.Type())).(*avro.RecordSchema)
		if !ok {
			return nil, fmt.Errorf("not a record")
		}
		src, err := compileSource(rs)
		if err != nil {
			return nil, err
		}
		return optionalRecord(f.Type(), src), nil
	}
	skip, err := skipper(f.Type())
	if err != nil {
		return nil, err
	}
	return func(r *reader, _ *change) { skip(r) }, nil
}

// optionalRecord wraps the handler of a record for a nullable field.
func optionalRecord(s avro.Schema, h func(*reader, *change)) func(*reader, *change) {
	u, ok := s.(*avro.UnionSchema)
	if !ok {
		return h
	}
	null, _ := u.Indices()
	return func(r *reader, c *change) {
		if int(r.long()) != null {
			h(r, c)
		}
	}
}

// compileSource compiles the source block: the fields the sink keeps are
// read, the others skipped.
func compileSource(rs *avro.RecordSchema) (func(*reader, *change), error) {
	var steps []func(*reader, *change)
	for _, f := range rs.Fields() {
		set := sourceSetter(f.Name())
		read, err := scalar(f.Type())
		if err != nil || set == nil { // skipped, not decoded
			skip, serr := skipper(f.Type())
			if serr != nil {
				return nil, fmt.Errorf("source.%s: %w", f.Name(), serr)
			}
			steps = append(steps, func(r *reader, _ *change) { skip(r) })
			continue
		}
		steps = append(steps, func(r *reader, c *change) {
			v := read(r)
			if c != nil && v != nil {
				set(&c.source, v)
			}
		})
	}
	return func(r *reader, c *change) {
		for _, s := range steps {
			s(r, c)
		}
	}, nil
}

// sourceSetter returns how a source field's value is kept, or nil.
func sourceSetter(name string) func(*sourceBlock, any) {
	str := func(dst func(*sourceBlock) *string) func(*sourceBlock, any) {
		return func(s *sourceBlock, v any) { *dst(s), _ = v.(string) }
	}
	num := func(dst func(*sourceBlock) *int64) func(*sourceBlock, any) {
		return func(s *sourceBlock, v any) { *dst(s), _ = v.(int64) }
	}
	switch name {
	case "ts_ms":
		return num(func(s *sourceBlock) *int64 { return &s.tsMs })
	case "db":
		return str(func(s *sourceBlock) *string { return &s.db })
	case "schema":
		return str(func(s *sourceBlock) *string { return &s.schema })
	case "table":
		return str(func(s *sourceBlock) *string { return &s.table })
	case "file":
		return str(func(s *sourceBlock) *string { return &s.file })
	case "pos":
		return num(func(s *sourceBlock) *int64 { return &s.pos })
	case "row":
		return num(func(s *sourceBlock) *int64 { return &s.row })
	case "lsn":
		return func(s *sourceBlock, v any) { s.lsn, s.hasLSN = v.(int64) }
	case "id": // of the transaction block
		return str(func(s *sourceBlock) *string { return &s.txID })
	}
	return nil
}

// compileRow compiles a row record into a decoder of []any (one value per
// field, typed as cdc.Kind prescribes) and the columns it describes.
func compileRow(rs *avro.RecordSchema) (func(*reader) []any, []cdc.Column, error) {
	decs := make([]func(*reader) any, len(rs.Fields()))
	cols := make([]cdc.Column, len(rs.Fields()))
	for i, f := range rs.Fields() {
		col, dec, err := column(f.Type())
		if err != nil {
			return nil, nil, fmt.Errorf("column %s: %w", f.Name(), err)
		}
		col.Name = f.Name()
		if orig, ok := f.Prop("fluxo.column").(string); ok && orig != "" {
			col.Name = orig
		}
		cols[i], decs[i] = col, dec
	}
	return func(r *reader) []any {
		row := make([]any, len(decs), len(decs)+len(metaColumns)) // room for row's change columns
		for i, d := range decs {
			row[i] = d(r)
		}
		return row
	}, cols, nil
}

// column maps a field type to a column and the decoder of its values.
func column(s avro.Schema) (cdc.Column, func(*reader) any, error) {
	_, nullable := s.(*avro.UnionSchema)
	inner := deref(nonNull(s))
	col, dec, err := kindOf(inner)
	if err != nil {
		return col, nil, err
	}
	col.Optional = nullable
	if p, ok := inner.(avro.PropertySchema); ok {
		col.Type, _ = p.Prop("fluxo.type").(string)
		col.SemanticName, _ = p.Prop("connect.name").(string)
	}
	return col, optional(s, dec), nil
}

// kindOf maps a non-union type to a cdc.Kind and its decoder.
func kindOf(s avro.Schema) (cdc.Column, func(*reader) any, error) {
	switch t := s.(type) {
	case *avro.PrimitiveSchema:
		return primitive(t)
	case *avro.EnumSchema:
		syms := t.Symbols()
		return cdc.Column{Kind: cdc.KindString}, func(r *reader) any {
			i := r.long()
			if i < 0 || int(i) >= len(syms) {
				r.fail(fmt.Errorf("enum index %d out of range", i))
				return nil
			}
			return syms[i]
		}, nil
	case *avro.FixedSchema:
		n := t.Size()
		if d, ok := t.Logical().(*avro.DecimalLogicalSchema); ok {
			return cdc.Column{Kind: cdc.KindDecimal, Precision: d.Precision(), Scale: d.Scale()},
				func(r *reader) any { return unscaled(r.fixed(n)) }, nil
		}
		return cdc.Column{Kind: cdc.KindBytes}, func(r *reader) any { return r.a.Bytes(r.fixed(n)) }, nil
	case *avro.ArraySchema:
		elem, dec, err := column(t.Items())
		if err != nil {
			return cdc.Column{}, nil, fmt.Errorf("array items: %w", err)
		}
		return cdc.Column{Kind: cdc.KindArray, Elem: &elem}, func(r *reader) any {
			out := []any{}
			r.blocks(func() { out = append(out, dec(r)) })
			return out
		}, nil
	}
	return cdc.Column{}, nil, fmt.Errorf("Avro type %s has no column kind in the lake", s.Type())
}

// primitive maps a primitive type, with its logical type, to a kind.
func primitive(p *avro.PrimitiveSchema) (cdc.Column, func(*reader) any, error) {
	logical := avro.LogicalType("")
	if l := p.Logical(); l != nil {
		logical = l.Type()
	}
	long := func(r *reader) any { return r.a.Int64(r.long()) }
	switch p.Type() {
	case avro.Boolean:
		return cdc.Column{Kind: cdc.KindBool}, func(r *reader) any { return r.boolean() }, nil
	case avro.Int:
		if logical == avro.Date {
			return cdc.Column{Kind: cdc.KindDate}, long, nil
		}
		return cdc.Column{Kind: cdc.KindInt32}, long, nil
	case avro.Long:
		kinds := map[avro.LogicalType]cdc.Kind{avro.TimestampMicros: cdc.KindTimestampMicros,
			avro.LocalTimestampMicros: cdc.KindLocalTimestampMicros, avro.TimeMicros: cdc.KindTimeMicros}
		if k, ok := kinds[logical]; ok {
			return cdc.Column{Kind: k}, long, nil
		}
		return cdc.Column{Kind: cdc.KindInt64}, long, nil
	case avro.Float:
		return cdc.Column{Kind: cdc.KindFloat32}, func(r *reader) any { return r.a.Float32(r.float()) }, nil
	case avro.Double:
		return cdc.Column{Kind: cdc.KindFloat64}, func(r *reader) any { return r.a.Float64(r.double()) }, nil
	case avro.String:
		k := cdc.KindString
		if logical == avro.UUID {
			k = cdc.KindUUID
		}
		return cdc.Column{Kind: k}, func(r *reader) any { return r.a.String(r.bytes()) }, nil
	case avro.Bytes:
		if d, ok := p.Logical().(*avro.DecimalLogicalSchema); ok {
			return cdc.Column{Kind: cdc.KindDecimal, Precision: d.Precision(), Scale: d.Scale()},
				func(r *reader) any { return unscaled(r.bytes()) }, nil
		}
		return cdc.Column{Kind: cdc.KindBytes}, func(r *reader) any { return r.a.Bytes(r.bytes()) }, nil
	}
	return cdc.Column{}, nil, fmt.Errorf("Avro type %s has no column kind in the lake", p.Type())
}

// unscaled decodes a big-endian two's complement integer.
func unscaled(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return n
}

// scalar returns the decoder of a primitive (or nullable primitive) field
// as int64, string, bool, float64 or nil; it fails for other types.
func scalar(s avro.Schema) (func(*reader) any, error) {
	p, ok := deref(nonNull(s)).(*avro.PrimitiveSchema)
	if !ok || p.Type() == avro.Null {
		return nil, fmt.Errorf("not a primitive: %s", s.Type())
	}
	_, dec, err := primitive(p)
	if err != nil {
		return nil, err
	}
	return optional(s, dec), nil
}

// optional wraps dec for a union of null and one type (either order);
// other types are returned as they are.
func optional(s avro.Schema, dec func(*reader) any) func(*reader) any {
	u, ok := s.(*avro.UnionSchema)
	if !ok {
		return dec
	}
	null, _ := u.Indices()
	return func(r *reader) any {
		if int(r.long()) == null {
			return nil
		}
		return dec(r)
	}
}

// nonNull returns the non-null branch of a nullable union, or s.
func nonNull(s avro.Schema) avro.Schema {
	if u, ok := s.(*avro.UnionSchema); ok && u.Nullable() {
		_, typ := u.Indices()
		return u.Types()[typ]
	}
	return s
}

// deref resolves a reference to a named type.
func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// skipper returns a decoder that reads past a value of s.
func skipper(s avro.Schema) (func(*reader), error) {
	switch t := deref(s).(type) {
	case *avro.UnionSchema:
		var branches []func(*reader)
		for _, b := range t.Types() {
			sk, err := skipper(b)
			if err != nil {
				return nil, err
			}
			branches = append(branches, sk)
		}
		return func(r *reader) {
			i := r.long()
			if i < 0 || int(i) >= len(branches) {
				r.fail(fmt.Errorf("union index %d out of range", i))
				return
			}
			branches[i](r)
		}, nil
	case *avro.RecordSchema:
		var fields []func(*reader)
		for _, f := range t.Fields() {
			sk, err := skipper(f.Type())
			if err != nil {
				return nil, err
			}
			fields = append(fields, sk)
		}
		return func(r *reader) {
			for _, f := range fields {
				f(r)
			}
		}, nil
	case *avro.ArraySchema:
		item, err := skipper(t.Items())
		if err != nil {
			return nil, err
		}
		return func(r *reader) { r.blocks(func() { item(r) }) }, nil
	case *avro.MapSchema:
		val, err := skipper(t.Values())
		if err != nil {
			return nil, err
		}
		return func(r *reader) { r.blocks(func() { r.bytes(); val(r) }) }, nil
	case *avro.EnumSchema:
		return func(r *reader) { r.long() }, nil
	case *avro.FixedSchema:
		n := t.Size()
		return func(r *reader) { r.fixed(n) }, nil
	case *avro.NullSchema:
		return func(*reader) {}, nil
	case *avro.PrimitiveSchema:
		switch t.Type() {
		case avro.Null:
			return func(*reader) {}, nil
		case avro.Boolean:
			return func(r *reader) { r.fixed(1) }, nil
		case avro.Int, avro.Long:
			return func(r *reader) { r.long() }, nil
		case avro.Float:
			return func(r *reader) { r.fixed(4) }, nil
		case avro.Double:
			return func(r *reader) { r.fixed(8) }, nil
		case avro.String, avro.Bytes:
			return func(r *reader) { r.bytes() }, nil
		}
	}
	return nil, fmt.Errorf("cannot read Avro type %s", s.Type())
}
