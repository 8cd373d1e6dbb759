package cdc

import "fmt"

// Kind is the portable type of a column: it fixes both the Go type of the
// column's values in an Event and the Avro type the column maps to
// (SPEC §4).
type Kind uint8

// The kinds. The Go type each value has in a row is given after the colon; a
// NULL is always a nil interface.
const (
	KindInvalid Kind = iota
	// KindInt32: int64 in the int32 range; Avro int.
	KindInt32
	// KindInt64: int64; Avro long.
	KindInt64
	// KindUint64: uint64; Avro bytes, decimal(20,0).
	KindUint64
	// KindDecimal: *big.Int holding the unscaled value (value = unscaled *
	// 10^-Scale); Avro bytes, decimal(Precision,Scale).
	KindDecimal
	// KindDecimalText: string holding exact decimal text (PostgreSQL numeric
	// without precision, special values such as NaN); Avro string.
	KindDecimalText
	// KindFloat32: float32; Avro float.
	KindFloat32
	// KindFloat64: float64; Avro double.
	KindFloat64
	// KindBool: bool; Avro boolean.
	KindBool
	// KindBytes: []byte; Avro bytes. Also bit(n>1) as an unsigned big-endian
	// number of ceil(n/8) bytes, and geometry as WKB.
	KindBytes
	// KindString: string; Avro string. Also enum, set, json and other types
	// kept as text.
	KindString
	// KindUUID: string in canonical form; Avro string, logicalType uuid.
	KindUUID
	// KindDate: int64 days since 1970-01-01; Avro int, logicalType date.
	KindDate
	// KindTimeMicros: int64 microseconds since midnight; Avro long,
	// logicalType time-micros.
	KindTimeMicros
	// KindDurationMicros: int64 signed microseconds (MySQL TIME); Avro long
	// with no logical type.
	KindDurationMicros
	// KindLocalTimestampMicros: int64 microseconds since 1970-01-01T00:00
	// with no time zone; Avro long, logicalType local-timestamp-micros.
	KindLocalTimestampMicros
	// KindTimestampMicros: int64 microseconds since the Unix epoch, UTC;
	// Avro long, logicalType timestamp-micros.
	KindTimestampMicros
	// KindArray: []any whose elements follow Column.Elem; Avro array.
	KindArray
)

var kindNames = [...]string{
	KindInvalid: "invalid", KindInt32: "int32", KindInt64: "int64", KindUint64: "uint64",
	KindDecimal: "decimal", KindDecimalText: "decimal_text", KindFloat32: "float32",
	KindFloat64: "float64", KindBool: "bool", KindBytes: "bytes", KindString: "string",
	KindUUID: "uuid", KindDate: "date", KindTimeMicros: "time_micros",
	KindDurationMicros: "duration_micros", KindLocalTimestampMicros: "local_timestamp_micros",
	KindTimestampMicros: "timestamp_micros", KindArray: "array",
}

// String returns the kind's name, as used in checkpoints.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Column describes one captured column of a table.
type Column struct {
	// Name is the column name as the source spells it.
	Name string `json:"name"`
	// Kind fixes the Go value type and the Avro mapping.
	Kind Kind `json:"kind"`
	// Type is the source column type as a user would declare it, e.g.
	// "decimal(10,2) unsigned"; it becomes the Avro property "fluxo.type".
	Type string `json:"type"`
	// SemanticName is the Debezium semantic type name for the same physical
	// type (e.g. "io.debezium.data.Json"), or empty; it becomes the Avro
	// property "connect.name".
	SemanticName string `json:"semantic,omitempty"`
	// Precision and Scale are set for KindDecimal.
	Precision int `json:"precision,omitempty"`
	Scale     int `json:"scale,omitempty"`
	// Optional reports whether the source column accepts NULL.
	Optional bool `json:"optional"`
	// Elem describes the elements of a KindArray column.
	Elem *Column `json:"elem,omitempty"`
}

// TableID names a table: Schema is the MySQL database or the PostgreSQL
// schema.
type TableID struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
}

// String returns "schema.name".
func (id TableID) String() string { return id.Schema + "." + id.Name }

// Table is the schema of a captured table at one point in the source's
// history. A Table is immutable once an Event refers to it: a schema change
// produces a new *Table, so consumers may cache per pointer.
type Table struct {
	ID TableID `json:"id"`
	// Columns are the captured columns in source order (excluded columns are
	// absent).
	Columns []Column `json:"columns"`
	// Key holds indexes into Columns of the key columns (the primary key, or
	// the configured key_columns); empty means the table has no key and its
	// records get a null Kafka key.
	Key []int `json:"key,omitempty"`
}

// ColumnIndex returns the index of the named column, or -1.
func (t *Table) ColumnIndex(name string) int {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return i
		}
	}
	return -1
}
