package avro

import (
	"bytes"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// sentinel is appended after every encoding under test: reading it back
// proves the decoder consumed exactly the encoded bytes.
const sentinel = 0x5eed

// parse parses a generated schema with hamba, in a fresh cache so that
// tests with different definitions of the same names do not interfere.
func parse(t testing.TB, schema string) hamba.Schema {
	t.Helper()
	s, err := hamba.ParseWithCache(schema, "", &hamba.SchemaCache{})
	if err != nil {
		t.Fatalf("hamba rejects schema: %v\n%s", err, schema)
	}
	return s
}

// decode decodes data with hamba's generic reader and strips the union
// wrappers, so records are map[string]any and nullable values bare.
func decode(t testing.TB, s hamba.Schema, data []byte) any {
	t.Helper()
	data = appendLong(data, sentinel)
	r := hamba.NewReader(bytes.NewReader(data), len(data))
	v := r.ReadNext(s)
	if got := r.ReadLong(); r.Error != nil || got != sentinel {
		t.Fatalf("decode: err %v, sentinel %d (encoding length wrong?)", r.Error, got)
	}
	return unwrap(s, v)
}

// unwrap replaces hamba's {"type": value} union maps by their values.
func unwrap(s hamba.Schema, v any) any {
	switch s := s.(type) {
	case *hamba.RefSchema:
		return unwrap(s.Schema(), v)
	case *hamba.UnionSchema:
		if v == nil {
			return nil
		}
		for _, m := range v.(map[string]any) {
			for _, ts := range s.Types() {
				if ts.Type() != hamba.Null {
					return unwrap(ts, m)
				}
			}
		}
		return nil // the null branch
	case *hamba.RecordSchema:
		m := v.(map[string]any)
		for _, f := range s.Fields() {
			m[f.Name()] = unwrap(f.Type(), m[f.Name()])
		}
	case *hamba.ArraySchema:
		for i, item := range v.([]any) {
			v.([]any)[i] = unwrap(s.Items(), item)
		}
	}
	return v
}

// native converts what hamba decoded for a column back to the Go type of
// the column's kind.
func native(t testing.TB, c *cdc.Column, v any) any {
	t.Helper()
	if v == nil {
		return nil
	}
	switch c.Kind {
	case cdc.KindInt32:
		return int64(v.(int))
	case cdc.KindDate:
		return v.(time.Time).Unix() / 86400
	case cdc.KindTimeMicros:
		return int64(v.(time.Duration) / time.Microsecond)
	case cdc.KindTimestampMicros:
		return v.(time.Time).UnixMicro()
	case cdc.KindDecimal, cdc.KindUint64:
		return unscaled(t, v.(*big.Rat), c.Scale)
	case cdc.KindArray:
		out := make([]any, len(v.([]any)))
		for i, item := range v.([]any) {
			out[i] = native(t, c.Elem, item)
		}
		return out
	}
	return v
}

// unscaled returns r * 10^scale, which must be an integer.
func unscaled(t testing.TB, r *big.Rat, scale int) *big.Int {
	t.Helper()
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	x := new(big.Rat).Mul(r, new(big.Rat).SetInt(p))
	if !x.IsInt() {
		t.Fatalf("decimal %s has more than %d decimals", r.RatString(), scale)
	}
	return x.Num()
}

// canonical converts an input value to the value the round trip must give
// back: leniently accepted Go types become the kind's own type.
func canonical(c *cdc.Column, v any) any {
	switch x := v.(type) {
	case int:
		if c.Kind == cdc.KindUint64 {
			return new(big.Int).SetUint64(uint64(x))
		}
		return int64(x)
	case int32:
		if c.Kind == cdc.KindUint64 {
			return new(big.Int).SetUint64(uint64(x))
		}
		return int64(x)
	case uint64:
		return new(big.Int).SetUint64(x)
	case []byte:
		if c.Kind != cdc.KindBytes {
			return string(x)
		}
	case string:
		if c.Kind == cdc.KindBytes {
			return []byte(x)
		}
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = canonical(c.Elem, item)
		}
		return out
	}
	return v
}

// same compares a canonical input with a decoded value: big integers by
// value, floats by bits (NaN), byte slices by content, the rest deeply.
func same(want, got any) bool {
	switch w := want.(type) {
	case *big.Int:
		g, ok := got.(*big.Int)
		return ok && w.Cmp(g) == 0
	case float32:
		g, ok := got.(float32)
		return ok && math.Float32bits(w) == math.Float32bits(g)
	case float64:
		g, ok := got.(float64)
		return ok && math.Float64bits(w) == math.Float64bits(g)
	case []byte:
		g, ok := got.([]byte)
		return ok && bytes.Equal(w, g)
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !same(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(want, got)
}

// bigInt parses a decimal integer for test tables.
func bigInt(s string) *big.Int {
	x, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bad big.Int " + s)
	}
	return x
}

// pow2 returns sign * 2^n.
func pow2(n uint, sign int64) *big.Int {
	x := new(big.Int).Lsh(big.NewInt(1), n)
	return x.Mul(x, big.NewInt(sign))
}
