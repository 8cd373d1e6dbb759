package avro

import (
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// kindCase is a column and values of it that must round-trip.
type kindCase struct {
	name   string
	col    cdc.Column
	values []any
}

const (
	maxTimeMicros = int64(838*3600+59*60+59) * 1_000_000
	digits65      = "12345678901234567890123456789012345678901234567890123456789012345"
)

// kindCases covers every kind with its edge values.
func kindCases() []kindCase {
	return []kindCase{
		{"int32", cdc.Column{Kind: cdc.KindInt32, Type: "int"},
			[]any{int64(0), int64(-1), int64(math.MinInt32), int64(math.MaxInt32), 5, int32(-7)}},
		{"int64", cdc.Column{Kind: cdc.KindInt64, Type: "bigint"},
			[]any{int64(0), int64(math.MinInt64), int64(math.MaxInt64), int64(-64), int64(64), 9, int32(math.MinInt32)}},
		{"uint64", cdc.Column{Kind: cdc.KindUint64, Type: "bigint unsigned"},
			[]any{uint64(0), uint64(1), uint64(127), uint64(128), uint64(255), uint64(256),
				uint64(math.MaxInt64), uint64(math.MaxInt64) + 1, uint64(math.MaxUint64), 42, int32(7)}},
		{"decimal(10,2)", cdc.Column{Kind: cdc.KindDecimal, Type: "decimal(10,2)", Precision: 10, Scale: 2},
			[]any{big.NewInt(0), big.NewInt(12345), big.NewInt(-12345), big.NewInt(-1), big.NewInt(127),
				big.NewInt(128), big.NewInt(-128), big.NewInt(-129), big.NewInt(255), big.NewInt(-256),
				big.NewInt(-32768), big.NewInt(9_999_999_999), big.NewInt(-9_999_999_999)}},
		{"decimal(65,30)", cdc.Column{Kind: cdc.KindDecimal, Type: "decimal(65,30)", Precision: 65, Scale: 30},
			[]any{big.NewInt(0), bigInt(digits65), bigInt("-" + digits65),
				bigInt(strings.Repeat("9", 65)), bigInt("-" + strings.Repeat("9", 65)),
				pow2(63, 1), pow2(63, -1), pow2(64, 1), pow2(64, -1), pow2(127, -1), pow2(128, -1),
				new(big.Int).Sub(pow2(64, 1), big.NewInt(1)), new(big.Int).Add(pow2(64, -1), big.NewInt(1))}},
		{"decimal(1,1)", cdc.Column{Kind: cdc.KindDecimal, Type: "numeric(1,1)", Precision: 1, Scale: 1},
			[]any{big.NewInt(9), big.NewInt(-9), big.NewInt(0)}},
		{"decimal_text", cdc.Column{Kind: cdc.KindDecimalText, Type: "numeric"},
			[]any{"NaN", "-0.000000000000000000000000000001", "123456789012345678901234567890.5", "", []byte("Infinity")}},
		{"float32", cdc.Column{Kind: cdc.KindFloat32, Type: "float"},
			[]any{float32(0), float32(math.Copysign(0, -1)), float32(1.5), float32(-3.25), float32(math.MaxFloat32),
				float32(math.SmallestNonzeroFloat32), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}},
		{"float64", cdc.Column{Kind: cdc.KindFloat64, Type: "double"},
			[]any{0.0, math.Copysign(0, -1), 0.1, -1e300, math.MaxFloat64, math.SmallestNonzeroFloat64,
				math.Inf(1), math.Inf(-1), math.NaN()}},
		{"bool", cdc.Column{Kind: cdc.KindBool, Type: "tinyint(1)"}, []any{true, false}},
		{"bytes", cdc.Column{Kind: cdc.KindBytes, Type: "varbinary(255)"},
			[]any{[]byte{}, []byte{0}, []byte{0xff, 0, 0x80}, []byte(strings.Repeat("x", 1000)), "as string"}},
		{"bit(10)", cdc.Column{Kind: cdc.KindBytes, Type: "bit(10)"},
			[]any{[]byte{0x03, 0xff}, []byte{0, 0}, []byte{0x02, 0x01}}},
		{"string", cdc.Column{Kind: cdc.KindString, Type: "varchar(255)"},
			[]any{"", "plain", "héllo wörld", "😀 4-byte 𝄞 emoji", "quote\" back\\slash \x00 nul", []byte("from bytes")}},
		{"json", cdc.Column{Kind: cdc.KindString, Type: "json", SemanticName: "io.debezium.data.Json"},
			[]any{`{"a":[1,2,{"b":null}]}`}},
		{"uuid", cdc.Column{Kind: cdc.KindUUID, Type: "uuid", SemanticName: "io.debezium.data.Uuid"},
			[]any{"123e4567-e89b-12d3-a456-426614174000", []byte("00000000-0000-0000-0000-000000000000")}},
		{"date", cdc.Column{Kind: cdc.KindDate, Type: "date"},
			[]any{int64(0), int64(-1), int64(-719162), int64(2932896), int64(-25567), 19000}},
		{"time_micros", cdc.Column{Kind: cdc.KindTimeMicros, Type: "time(6)"},
			[]any{int64(0), int64(86_399_999_999), int64(43_200_000_001)}},
		{"duration", cdc.Column{Kind: cdc.KindDurationMicros, Type: "time(6)"},
			[]any{int64(0), -maxTimeMicros, maxTimeMicros, int64(-1)}},
		{"local_timestamp", cdc.Column{Kind: cdc.KindLocalTimestampMicros, Type: "datetime(6)"},
			[]any{int64(0), int64(-1), int64(-62135596800000000), int64(253402300799999999), int64(1700000000123456)}},
		{"timestamp", cdc.Column{Kind: cdc.KindTimestampMicros, Type: "timestamp(6)"},
			[]any{int64(0), int64(-1), int64(-62135596800000000), int64(253402300799999999), int64(1700000000123456)}},
		{"array of int", cdc.Column{Kind: cdc.KindArray, Type: "integer[]", Elem: &cdc.Column{Kind: cdc.KindInt32, Type: "integer"}},
			[]any{[]any{}, []any{int64(1), nil, int64(math.MinInt32)}, []any{nil}}},
		{"array of text", cdc.Column{Kind: cdc.KindArray, Type: "text[]", Elem: &cdc.Column{Kind: cdc.KindString}},
			[]any{[]any{"a", "", nil, "😀"}}},
		{"array of numeric", cdc.Column{Kind: cdc.KindArray, Type: "numeric(5,2)[]",
			Elem: &cdc.Column{Kind: cdc.KindDecimal, Precision: 5, Scale: 2}},
			[]any{[]any{big.NewInt(-99999), nil, big.NewInt(0)}}},
		{"nested array", cdc.Column{Kind: cdc.KindArray, Type: "bigint[][]",
			Elem: &cdc.Column{Kind: cdc.KindArray, Elem: &cdc.Column{Kind: cdc.KindInt64}}},
			[]any{[]any{[]any{int64(1), nil}, nil, []any{}, []any{int64(math.MaxInt64)}}}},
	}
}

// TestKindsRoundTrip encodes every kind's values as a Value field and as a
// Key field, decodes them with hamba and compares with the input.
func TestKindsRoundTrip(t *testing.T) {
	for _, kc := range kindCases() {
		t.Run(kc.name, func(t *testing.T) {
			kc.col.Name = "v"
			tbl := &cdc.Table{ID: cdc.TableID{Schema: "db", Name: "t"}, Columns: []cdc.Column{kc.col}, Key: []int{0}}
			enc, err := NewEncoder(tbl, cdc.ConnectorMySQL)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range append(kc.values, nil) {
				checkValueRoundTrip(t, enc, tbl, v)
				if v != nil {
					checkKeyRoundTrip(t, enc, tbl, v)
				}
			}
		})
	}
}

// checkValueRoundTrip encodes v as the after image of a one-column row.
func checkValueRoundTrip(t *testing.T, enc *Encoder, tbl *cdc.Table, v any) {
	t.Helper()
	vs, err := ValueSchema(tbl, "p.db.t", cdc.ConnectorMySQL)
	if err != nil {
		t.Fatal(err)
	}
	ev := &cdc.Event{Op: cdc.OpCreate, Table: tbl, After: []any{v}}
	data, err := enc.AppendValue(nil, ev, Header{})
	if err != nil {
		t.Fatalf("encode %#v: %v", v, err)
	}
	env := decode(t, parse(t, vs), data).(map[string]any)
	got := native(t, &tbl.Columns[0], env["after"].(map[string]any)["v"])
	if want := canonical(&tbl.Columns[0], v); !same(want, got) {
		t.Errorf("value %#v: decoded %#v, want %#v", v, got, want)
	}
}

// checkKeyRoundTrip encodes v as the key of a one-column row.
func checkKeyRoundTrip(t *testing.T, enc *Encoder, tbl *cdc.Table, v any) {
	t.Helper()
	ks, ok, err := KeySchema(tbl, "p.db.t")
	if err != nil || !ok {
		t.Fatalf("KeySchema: %v %v", ok, err)
	}
	data, err := enc.AppendKey([]byte("prefix"), []any{v})
	if err != nil {
		t.Fatalf("key %#v: %v", v, err)
	}
	key := decode(t, parse(t, ks), data[len("prefix"):]).(map[string]any)
	got := native(t, &tbl.Columns[0], key["v"])
	if want := canonical(&tbl.Columns[0], v); !same(want, got) {
		t.Errorf("key %#v: decoded %#v, want %#v", v, got, want)
	}
}

// TestDecimalBytes pins the two's-complement encoding of decimals against
// big.Int's own arithmetic and Java's minimal form.
func TestDecimalBytes(t *testing.T) {
	cases := []struct {
		in   *big.Int
		want []byte
	}{
		{big.NewInt(0), []byte{0}},
		{big.NewInt(1), []byte{1}},
		{big.NewInt(-1), []byte{0xff}},
		{big.NewInt(127), []byte{0x7f}},
		{big.NewInt(128), []byte{0, 0x80}},
		{big.NewInt(-128), []byte{0x80}},
		{big.NewInt(-129), []byte{0xff, 0x7f}},
		{big.NewInt(-256), []byte{0xff, 0}},
		{big.NewInt(-32768), []byte{0x80, 0}},
		{pow2(64, -1), []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 0}},
		{pow2(63, -1), []byte{0x80, 0, 0, 0, 0, 0, 0, 0}},
		{pow2(63, 1), []byte{0, 0x80, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.in.String(), func(t *testing.T) {
			got := appendBigDecimal(nil, c.in)
			want := appendBytes(nil, c.want)
			if string(got) != string(want) {
				t.Errorf("got % x, want % x", got, want)
			}
		})
	}
}

// TestUint64Bytes pins the decimal(20,0) encoding of unsigned values.
func TestUint64Bytes(t *testing.T) {
	cases := []struct {
		in   uint64
		want []byte
	}{
		{0, []byte{0}},
		{127, []byte{0x7f}},
		{128, []byte{0, 0x80}},
		{math.MaxUint64, []byte{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, c := range cases {
		got := appendUint64Decimal(nil, c.in)
		if want := appendBytes(nil, c.want); string(got) != string(want) {
			t.Errorf("%d: got % x, want % x", c.in, got, want)
		}
	}
}

// TestConfluentHeader checks the wire-format prefix.
func TestConfluentHeader(t *testing.T) {
	got := AppendConfluentHeader([]byte{9}, 0x01020304)
	if want := []byte{9, 0, 1, 2, 3, 4}; string(got) != string(want) {
		t.Errorf("got % x, want % x", got, want)
	}
	if got := AppendConfluentHeader(nil, -1); string(got) != "\x00\xff\xff\xff\xff" {
		t.Errorf("id -1: got % x", got)
	}
}
