package avro

import (
	"fmt"
	"strconv"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// KeySchema returns the Avro schema of the Kafka key of t's records: record
// Key in the namespace derived from topic, with one non-nullable field per
// key column. ok is false (and schema empty) when t has no key, i.e. its
// records get a null Kafka key. The output is compact, deterministic JSON.
func KeySchema(t *cdc.Table, topic string) (schema string, ok bool, err error) {
	if len(t.Key) == 0 {
		return "", false, nil
	}
	fields, err := columnFields(t, t.Key)
	if err != nil {
		return "", false, err
	}
	ns := sanitizeNamespace(topic)
	b := appendRecordStart(nil, "Key", ns)
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendField(b, f, false); err != nil {
			return "", false, fmt.Errorf("avro: table %s: %w", t.ID, err)
		}
	}
	b = append(b, `],"connect.name":`...)
	b = appendJSONString(b, fullName(ns, "Key"))
	return string(append(b, '}')), true, nil
}

// ValueSchema returns the Avro schema of the values of t's records: the
// Debezium-style record Envelope in the namespace derived from topic, whose
// before and after fields hold the record Value (one nullable field per
// column, default null). The output is compact, deterministic JSON. It fails
// when two columns sanitise to the same field name, when a column is
// invalid, or when c is unknown.
func ValueSchema(t *cdc.Table, topic string, c cdc.Connector) (string, error) {
	source, err := sourceSchema(c)
	if err != nil {
		return "", err
	}
	ns := sanitizeNamespace(topic)
	b := appendRecordStart(nil, "Envelope", ns)
	b = append(b, `{"name":"before","type":["null",`...)
	if b, err = appendValueRecord(b, t, ns); err != nil {
		return "", err
	}
	b = append(b, `],"default":null},{"name":"after","type":["null","Value"],"default":null},`...)
	b = append(b, `{"name":"source","type":`...)
	b = append(b, source...)
	b = append(b, `},{"name":"op","type":"string"},{"name":"ts_ms","type":"long"},`...)
	b = append(b, `{"name":"transaction","type":["null",`...)
	b = append(b, blockSchema...)
	b = append(b, `],"default":null}],"connect.version":1,"connect.name":`...)
	b = appendJSONString(b, fullName(ns, "Envelope"))
	return string(append(b, '}')), nil
}

// appendValueRecord appends the record Value of t.
func appendValueRecord(b []byte, t *cdc.Table, ns string) ([]byte, error) {
	fields, err := columnFields(t, nil)
	if err != nil {
		return nil, err
	}
	b = appendRecordStart(b, "Value", ns)
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendField(b, f, true); err != nil {
			return nil, fmt.Errorf("avro: table %s: %w", t.ID, err)
		}
	}
	b = append(b, `],"connect.name":`...)
	b = appendJSONString(b, fullName(ns, "Value"))
	return append(b, '}'), nil
}

// appendRecordStart appends a record's opening up to and including the
// '[' of its fields.
func appendRecordStart(b []byte, name, ns string) []byte {
	b = append(b, `{"type":"record","name":`...)
	b = appendJSONString(b, name)
	if ns != "" {
		b = append(b, `,"namespace":`...)
		b = appendJSONString(b, ns)
	}
	return append(b, `,"fields":[`...)
}

// appendField appends the field of one column; a nullable field is
// ["null", T] with default null. The original column name is kept as
// "fluxo.column" when sanitising changed it.
func appendField(b []byte, f field, nullable bool) ([]byte, error) {
	b = append(b, `{"name":`...)
	b = appendJSONString(b, f.name)
	b = append(b, `,"type":`...)
	if nullable {
		b = append(b, `["null",`...)
	}
	b, err := appendColumnType(b, f.col, true)
	if err != nil {
		return nil, err
	}
	if nullable {
		b = append(b, `],"default":null`...)
	}
	if f.name != f.col.Name {
		b = append(b, `,"fluxo.column":`...)
		b = appendJSONString(b, f.col.Name)
	}
	return append(b, '}'), nil
}

// appendColumnType appends the Avro type of a column's values (SPEC §4) as
// an object carrying "fluxo.type" (always for a column, when set for an
// array element) and "connect.name" (when the column has a semantic name).
func appendColumnType(b []byte, c *cdc.Column, top bool) ([]byte, error) {
	if err := checkColumn(c); err != nil {
		return nil, err
	}
	b = append(b, `{"type":`...)
	switch c.Kind {
	case cdc.KindUint64:
		b = append(b, `"bytes","logicalType":"decimal","precision":20,"scale":0`...)
	case cdc.KindDecimal:
		b = append(b, `"bytes","logicalType":"decimal","precision":`...)
		b = strconv.AppendInt(b, int64(c.Precision), 10)
		b = append(b, `,"scale":`...)
		b = strconv.AppendInt(b, int64(c.Scale), 10)
	case cdc.KindArray:
		b = append(b, `"array","items":["null",`...)
		var err error
		if b, err = appendColumnType(b, c.Elem, false); err != nil {
			return nil, err
		}
		b = append(b, ']')
	default:
		b = appendPrimitive(b, c.Kind)
	}
	if top || c.Type != "" {
		b = append(b, `,"fluxo.type":`...)
		b = appendJSONString(b, c.Type)
	}
	if c.SemanticName != "" {
		b = append(b, `,"connect.name":`...)
		b = appendJSONString(b, c.SemanticName)
	}
	return append(b, '}'), nil
}

// appendPrimitive appends the type name (and logical type) of a kind that
// maps to a primitive Avro type.
func appendPrimitive(b []byte, k cdc.Kind) []byte {
	switch k {
	case cdc.KindInt32:
		return append(b, `"int"`...)
	case cdc.KindInt64, cdc.KindDurationMicros:
		return append(b, `"long"`...)
	case cdc.KindDecimalText, cdc.KindString:
		return append(b, `"string"`...)
	case cdc.KindUUID:
		return append(b, `"string","logicalType":"uuid"`...)
	case cdc.KindFloat32:
		return append(b, `"float"`...)
	case cdc.KindFloat64:
		return append(b, `"double"`...)
	case cdc.KindBool:
		return append(b, `"boolean"`...)
	case cdc.KindBytes:
		return append(b, `"bytes"`...)
	case cdc.KindDate:
		return append(b, `"int","logicalType":"date"`...)
	case cdc.KindTimeMicros:
		return append(b, `"long","logicalType":"time-micros"`...)
	case cdc.KindLocalTimestampMicros:
		return append(b, `"long","logicalType":"local-timestamp-micros"`...)
	case cdc.KindTimestampMicros:
		return append(b, `"long","logicalType":"timestamp-micros"`...)
	}
	panic("avro: unchecked kind " + k.String()) // checkColumn rejects the rest
}

// checkColumn validates what the schema and the encoder rely on: a known
// kind, a valid decimal(p,s), an array element description.
func checkColumn(c *cdc.Column) error {
	switch c.Kind {
	case cdc.KindInvalid:
		return fmt.Errorf("column %q: invalid kind", c.Name)
	case cdc.KindDecimal:
		if c.Precision < 1 || c.Scale < 0 || c.Scale > c.Precision {
			return fmt.Errorf("column %q: invalid decimal(%d,%d)", c.Name, c.Precision, c.Scale)
		}
	case cdc.KindArray:
		if c.Elem == nil {
			return fmt.Errorf("column %q: array without element type", c.Name)
		}
		if err := checkColumn(c.Elem); err != nil {
			return fmt.Errorf("column %q: array element: %w", c.Name, err)
		}
	default:
		if c.Kind > cdc.KindArray {
			return fmt.Errorf("column %q: unknown kind %s", c.Name, c.Kind)
		}
	}
	return nil
}

// RowSchema returns the Avro schema of one full row of t: the record Value
// that ValueSchema embeds as the type of the envelope's before and after
// fields, byte for byte, in namespace (sanitised like ValueSchema sanitises
// its topic; "" gives the null namespace). Every field is ["null", T] with
// default null. It is the schema of Avro object container files written by
// ContainerWriter. It fails when two columns sanitise to the same field name
// or when a column is invalid.
func RowSchema(t *cdc.Table, namespace string) (string, error) {
	b, err := appendValueRecord(nil, t, sanitizeNamespace(namespace))
	if err != nil {
		return "", err
	}
	return string(b), nil
}
