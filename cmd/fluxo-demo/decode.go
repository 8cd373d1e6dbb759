package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	hamba "github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// change is one Kafka record, decoded and rendered for printing.
type change struct {
	Topic     string
	Partition int32
	Offset    int64
	// Op is the envelope's op (r, c, u, d, t), or "" for a tombstone.
	Op string
	// Key, Before and After are compact JSON ("null" when absent); Before
	// and After are empty for a tombstone.
	Key, Before, After string
}

// decoder decodes Confluent-framed Avro (byte 0, a 4-byte big-endian
// schema id, the Avro binary datum) with the registry's schemas, as any
// consumer does; it caches the schemas by id.
type decoder struct {
	registry *sr.Client
	schemas  map[uint32]hamba.Schema
	names    *hamba.SchemaCache // named types, instead of hamba's global cache
}

func newDecoder(registryURL string) (*decoder, error) {
	cl, err := sr.NewClient(sr.URLs(registryURL))
	if err != nil {
		return nil, err
	}
	return &decoder{registry: cl, schemas: map[uint32]hamba.Schema{}, names: &hamba.SchemaCache{}}, nil
}

// change decodes the key and value of r.
func (d *decoder) change(ctx context.Context, r *kgo.Record) (change, error) {
	c := change{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: "null"}
	if r.Key != nil {
		schema, key, err := d.decode(ctx, r.Key)
		if err != nil {
			return c, fmt.Errorf("%s %d/%d: key: %w", r.Topic, r.Partition, r.Offset, err)
		}
		c.Key = render(schema, key)
	}
	if r.Value == nil {
		return c, nil // a tombstone
	}
	schema, val, err := d.decode(ctx, r.Value)
	if err != nil {
		return c, fmt.Errorf("%s %d/%d: value: %w", r.Topic, r.Partition, r.Offset, err)
	}
	env, _ := val.(map[string]any)
	rec, ok := schema.(*hamba.RecordSchema)
	if env == nil || !ok {
		return c, fmt.Errorf("%s %d/%d: the value is not an Avro record", r.Topic, r.Partition, r.Offset)
	}
	c.Op, _ = env["op"].(string)
	c.Before = render(fieldType(rec, "before"), env["before"])
	c.After = render(fieldType(rec, "after"), env["after"])
	return c, nil
}

// decode unframes b, fetches its writer schema and decodes the datum into
// hamba's generic form (maps, with unions as one-entry maps).
func (d *decoder) decode(ctx context.Context, b []byte) (hamba.Schema, any, error) {
	if len(b) < 5 || b[0] != 0 {
		return nil, nil, errors.New("not in the Confluent wire format")
	}
	schema, err := d.schema(ctx, binary.BigEndian.Uint32(b[1:5]))
	if err != nil {
		return nil, nil, err
	}
	var v any
	if err := hamba.Unmarshal(schema, b[5:], &v); err != nil {
		return nil, nil, err
	}
	return schema, v, nil
}

// schema returns the schema registered under id.
func (d *decoder) schema(ctx context.Context, id uint32) (hamba.Schema, error) {
	if s, ok := d.schemas[id]; ok {
		return s, nil
	}
	doc, err := d.registry.SchemaByID(ctx, int(id))
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	s, err := hamba.ParseWithCache(doc.Schema, "", d.names)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	d.schemas[id] = s
	return s, nil
}

// subjects lists the registry's subjects: <topic>-key and <topic>-value
// per table (TopicNameStrategy).
func subjects(ctx context.Context, registryURL string) ([]string, error) {
	cl, err := sr.NewClient(sr.URLs(registryURL))
	if err != nil {
		return nil, err
	}
	subs, err := cl.Subjects(ctx)
	sort.Strings(subs)
	return subs, err
}

// fieldType returns the type of rec's field called name (nil if missing).
func fieldType(rec *hamba.RecordSchema, name string) hamba.Schema {
	for _, f := range rec.Fields() {
		if f.Name() == name {
			return f.Type()
		}
	}
	return nil
}

// render formats a decoded value as compact JSON; records keep their field
// order.
func render(s hamba.Schema, v any) string {
	return string(marshal(humane(s, v)))
}

// humane converts a value decoded with schema s into something JSON shows
// well: it unwraps ["null", T] unions (hamba decodes the T branch as a map
// keyed by T's name), prints decimals with their scale, timestamps as text
// and JSON columns (connect.name io.debezium.data.Json) as JSON.
func humane(s hamba.Schema, v any) any {
	if v == nil {
		return nil
	}
	switch s := s.(type) {
	case *hamba.UnionSchema:
		return humane(nonNull(s), unwrap(v))
	case *hamba.RefSchema:
		return humane(s.Schema(), v)
	case *hamba.RecordSchema:
		return renderRecord(s, v)
	case *hamba.PrimitiveSchema:
		return humanePrimitive(s, v)
	}
	return v
}

// nonNull returns the branch of a ["null", T] union that is not null.
func nonNull(u *hamba.UnionSchema) hamba.Schema {
	for _, t := range u.Types() {
		if t.Type() != hamba.Null {
			return t
		}
	}
	return nil
}

// unwrap returns the value of a decoded union: the only entry of its map.
func unwrap(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for _, inner := range m {
			return inner
		}
	}
	return v
}

// renderRecord renders a decoded record as a JSON object in field order.
func renderRecord(s *hamba.RecordSchema, v any) json.RawMessage {
	m, _ := v.(map[string]any)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range s.Fields() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(marshal(f.Name()))
		b.WriteByte(':')
		b.Write(marshal(humane(f.Type(), m[f.Name()])))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// humanePrimitive formats the logical types and Debezium semantic types
// the demo's columns use.
func humanePrimitive(s *hamba.PrimitiveSchema, v any) any {
	switch v := v.(type) {
	case *big.Rat:
		if d, ok := s.Logical().(*hamba.DecimalLogicalSchema); ok {
			return json.Number(v.FloatString(d.Scale()))
		}
		return json.Number(v.FloatString(6))
	case time.Time:
		return humaneTime(s, v)
	case []byte:
		return "0x" + hex.EncodeToString(v)
	case string:
		if s.Prop("connect.name") == "io.debezium.data.Json" && json.Valid([]byte(v)) {
			return json.RawMessage(v)
		}
	}
	return v
}

// humaneTime formats dates, local (wall-clock) timestamps like MySQL's
// DATETIME and UTC timestamps.
func humaneTime(s *hamba.PrimitiveSchema, t time.Time) string {
	if s.Logical() == nil {
		return t.String()
	}
	switch s.Logical().Type() {
	case hamba.Date:
		return t.Format(time.DateOnly)
	case hamba.LocalTimestampMicros, hamba.LocalTimestampMillis:
		return t.Format("2006-01-02 15:04:05.999999") // hamba keeps the wall clock
	}
	return t.UTC().Format("2006-01-02T15:04:05.999999Z")
}

// marshal is json.Marshal without HTML escaping; values it cannot encode
// show as their error.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return marshal(fmt.Sprintf("!%v", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
