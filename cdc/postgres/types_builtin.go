package postgres

import (
	"log/slog"
	"sync/atomic"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/jackc/pgx/v5/pgtype"
)

// Built-in type OIDs that pgtype does not name.
const (
	moneyOID   = 790
	pgLSNOID   = 3220
	tsqueryOID = 3615
)

// Debezium semantic names (cdc.Column.SemanticName).
const (
	semanticJSON     = "io.debezium.data.Json"
	semanticXML      = "io.debezium.data.Xml"
	semanticUUID     = "io.debezium.data.Uuid"
	semanticInterval = "io.debezium.time.Interval"
)

// textTypes are the built-in types kept as text on purpose (no warning),
// with their semantic names.
var textTypes = map[uint32]string{
	pgtype.QCharOID: "", pgtype.NameOID: "", pgtype.TextOID: "", pgtype.BPCharOID: "",
	pgtype.VarcharOID: "", pgtype.JSONOID: semanticJSON, pgtype.JSONBOID: semanticJSON,
	pgtype.XMLOID: semanticXML, pgtype.InetOID: "", pgtype.CIDROID: "", pgtype.MacaddrOID: "",
	pgtype.Macaddr8OID: "", pgtype.IntervalOID: semanticInterval, pgtype.TimetzOID: "",
	pgtype.TSVectorOID: "", tsqueryOID: "", pgtype.JSONPathOID: "", pgLSNOID: "",
	pgtype.PointOID: "", pgtype.LineOID: "", pgtype.LsegOID: "", pgtype.BoxOID: "",
	pgtype.PathOID: "", pgtype.PolygonOID: "", pgtype.CircleOID: "",
	// varbit keeps its bit string ("0101"), which unlike bytes keeps the
	// length in bits.
	pgtype.VarbitOID: "",
}

// builtinColumn sets col.Kind (and precision, scale, semantic name) for the
// base type t with typmod and returns its decoder, or nil for a type without
// a mapping.
func builtinColumn(col *cdc.Column, t *pgType, typmod int32, f *fallback) textDecoder {
	if sem, ok := textTypes[t.oid]; ok || (t.name == "citext" && t.oid >= 16384) {
		col.Kind, col.SemanticName = cdc.KindString, sem
		return decodeText
	}
	if dec := numberColumn(col, t.oid, typmod, f); dec != nil {
		return dec
	}
	return timeColumn(col, t.oid, f)
}

// numberColumn handles the numeric, boolean, bit and binary types.
func numberColumn(col *cdc.Column, oid uint32, typmod int32, f *fallback) textDecoder {
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID:
		col.Kind = cdc.KindInt32
		return decodeInt
	case pgtype.Int8OID, pgtype.OIDOID:
		col.Kind = cdc.KindInt64
		return decodeInt
	case pgtype.NumericOID:
		return numericColumn(col, typmod, f)
	case moneyOID:
		col.Kind, col.Precision, col.Scale = cdc.KindDecimal, moneyPrecision, moneyScale
		return decodeMoney
	case pgtype.Float4OID:
		col.Kind = cdc.KindFloat32
		return decodeFloat32
	case pgtype.Float8OID:
		col.Kind = cdc.KindFloat64
		return decodeFloat64
	case pgtype.BoolOID:
		col.Kind = cdc.KindBool
		return decodeBool
	case pgtype.BitOID:
		if typmod == 1 {
			col.Kind = cdc.KindBool
			return decodeBit1
		}
		col.Kind = cdc.KindBytes
		return bitsDecoder(int(typmod))
	case pgtype.ByteaOID:
		col.Kind = cdc.KindBytes
		return decodeBytea
	case pgtype.UUIDOID:
		col.Kind, col.SemanticName = cdc.KindUUID, semanticUUID
		return decodeUUID
	}
	return nil
}

// numericColumn maps numeric(p,s) to KindDecimal (see avroDecimal) and an
// unconstrained numeric to KindDecimalText (exact text, NaN and infinities
// included). numeric(p,s) cannot hold infinities but can hold NaN, which no
// decimal represents: it becomes nil in a nullable column (with a warning,
// once) and is an error that stops the stream otherwise, since any number
// would be a lie.
func numericColumn(col *cdc.Column, typmod int32, f *fallback) textDecoder {
	p, s, ok := numericTypmod(typmod)
	if !ok {
		col.Kind = cdc.KindDecimalText
		return decodeText
	}
	col.Kind = cdc.KindDecimal
	col.Precision, col.Scale = avroDecimal(p, s)
	scale := col.Scale
	return func(b []byte) (any, error) {
		if n, ok := parseDecimal(b, scale); ok {
			return n, nil
		}
		if string(b) == "NaN" {
			return numericNaN(f)
		}
		return nil, badText("numeric", b)
	}
}

// numericNaN returns the value of a NaN in f's numeric(p,s) column: nil when
// it is nullable, else an error that stops the stream.
func numericNaN(f *fallback) (any, error) {
	if f.optional {
		return f.use([]byte("NaN"), nil, "null")
	}
	return nil, &cdc.PermanentError{Err: &nanError{column: f.column, typ: f.typ},
		Fix: "make the column nullable (a NaN then becomes null) or exclude it (source.exclude_columns)"}
}

// nanError reports a numeric NaN in a NOT NULL decimal column.
type nanError struct{ column, typ string }

// Error implements error.
func (e *nanError) Error() string {
	return "postgres: column " + e.column + " of type " + e.typ +
		" holds NaN, which an Avro decimal cannot represent"
}

// decodeMoney decodes money under lc_monetary 'C' into cents.
func decodeMoney(b []byte) (any, error) {
	if n, ok := parseMoney(b); ok {
		return n, nil
	}
	return nil, badText("money (is lc_monetary 'C'?)", b)
}

// timeColumn handles the date and time types.
func timeColumn(col *cdc.Column, oid uint32, f *fallback) textDecoder {
	switch oid {
	case pgtype.DateOID:
		col.Kind = cdc.KindDate
		return dateDecoder(f)
	case pgtype.TimeOID:
		col.Kind = cdc.KindTimeMicros
		return decodeTime
	case pgtype.TimestampOID:
		col.Kind = cdc.KindLocalTimestampMicros
		return timestampDecoder(f, false)
	case pgtype.TimestamptzOID:
		col.Kind = cdc.KindTimestampMicros
		return timestampDecoder(f, true)
	}
	return nil
}

// fallback handles, for one column, values that Avro cannot hold (SPEC §4):
// nil when the column is nullable, a documented value otherwise, with a
// warning the first time.
type fallback struct {
	log         *slog.Logger
	column, typ string
	optional    bool
	warned      atomic.Bool
}

// use returns the value of text that Avro cannot hold: nil in a nullable
// column, else value (described by desc for the warning).
func (f *fallback) use(text []byte, value any, desc string) (any, error) {
	if f.optional {
		value, desc = nil, "null"
	}
	if !f.warned.Swap(true) {
		f.log.Warn("value has no Avro representation; using the documented fallback",
			"column", f.column, "type", f.typ, "value", string(text), "fallback", desc)
	}
	return value, nil
}
