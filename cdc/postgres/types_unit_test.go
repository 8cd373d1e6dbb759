package postgres

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// countHandler is a slog.Handler that counts the records it receives.
type countHandler struct{ n *int64 }

// Enabled implements slog.Handler.
func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (h countHandler) Handle(context.Context, slog.Record) error {
	atomic.AddInt64(h.n, 1)
	return nil
}

// WithAttrs implements slog.Handler.
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

// WithGroup implements slog.Handler.
func (h countHandler) WithGroup(string) slog.Handler { return h }

// countingLogger returns a logger and the number of records it received
// (read it once the logging is done).
func countingLogger() (*slog.Logger, *int64) {
	n := new(int64)
	return slog.New(countHandler{n}), n
}

// discardLogger returns a logger that drops everything.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestParseInt covers the integer parser's limits.
func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-0", 0, true}, {"42", 42, true}, {"-32768", -32768, true},
		{"9223372036854775807", math.MaxInt64, true}, {"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"99999999999999999999", 0, false}, {"", 0, false}, {"-", 0, false},
		{"+1", 0, false}, {"1.0", 0, false}, {" 1", 0, false}, {"4294967295", 4294967295, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseInt([]byte(tc.in))
			if ok != tc.ok || (ok && got != tc.want) {
				t.Fatalf("parseInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestScalarDecoders covers the scalar decoders on hand-written text.
func TestScalarDecoders(t *testing.T) {
	tests := []struct {
		name string
		dec  textDecoder
		in   string
		want any // nil: an errSyntax error
	}{
		{"float8 NaN", decodeFloat64, "NaN", math.NaN()},
		{"float8 Infinity", decodeFloat64, "Infinity", math.Inf(1)},
		{"float8 -Infinity", decodeFloat64, "-Infinity", math.Inf(-1)},
		{"float8 max", decodeFloat64, "1.7976931348623157e+308", math.MaxFloat64},
		{"float8 tiny", decodeFloat64, "5e-324", math.SmallestNonzeroFloat64},
		{"float8 bad", decodeFloat64, "1,5", nil},
		{"float4 NaN", decodeFloat32, "NaN", float32(math.NaN())},
		{"float4 max", decodeFloat32, "3.4028235e+38", float32(math.MaxFloat32)},
		{"float4 -Infinity", decodeFloat32, "-Infinity", float32(math.Inf(-1))},
		{"bool t", decodeBool, "t", true},
		{"bool f", decodeBool, "f", false},
		{"bool true", decodeBool, "true", nil},
		{"bit1 1", decodeBit1, "1", true},
		{"bit1 0", decodeBit1, "0", false},
		{"bit1 bad", decodeBit1, "01", nil},
		{"bit10", bitsDecoder(10), "1000000001", []byte{0x02, 0x01}},
		{"bit10 zero", bitsDecoder(10), "0000000000", []byte{0, 0}},
		{"bit8", bitsDecoder(8), "10000000", []byte{0x80}},
		{"bit9 ones", bitsDecoder(9), "111111111", []byte{0x01, 0xff}},
		{"bit10 short", bitsDecoder(10), "101", nil},
		{"bit10 bad", bitsDecoder(10), "10000000x1", nil},
		{"bit any", bitsDecoder(-1), "101", []byte{5}},
		{"bytea hex", decodeBytea, `\x00ff10`, []byte{0, 0xff, 0x10}},
		{"bytea empty", decodeBytea, `\x`, []byte{}},
		{"bytea odd", decodeBytea, `\x0`, nil},
		{"bytea bad hex", decodeBytea, `\xzz`, nil},
		{"bytea escape", decodeBytea, `a\\b\000\377`, []byte{'a', '\\', 'b', 0, 0xff}},
		{"bytea bad escape", decodeBytea, `\400`, nil},
		{"bytea lone backslash", decodeBytea, `a\`, nil},
		{"uuid", decodeUUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"uuid bad", decodeUUID, "a0eebc99", nil},
		{"int", decodeInt, "-12", int64(-12)},
		{"int bad", decodeInt, "1e3", nil},
		{"text", decodeText, "héllo 😀", "héllo 😀"},
		{"money", decodeMoney, "$1,234.56", big.NewInt(123456)},
		{"money bad", decodeMoney, "1.234,56 €", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.dec([]byte(tc.in))
			if tc.want == nil {
				if !errors.Is(err, errSyntax) {
					t.Fatalf("got %#v, %v; want errSyntax", got, err)
				}
				return
			}
			if err != nil || !sameValue(got, tc.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}

// sameValue compares decoded values, NaN equal to NaN and *big.Int by value.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case float32:
		y, ok := b.(float32)
		return ok && (x == y || x != x && y != y)
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return reflect.DeepEqual(a, b)
}

// TestNumericTypmod covers typmod decoding and the Avro decimal mapping.
func TestNumericTypmod(t *testing.T) {
	tests := []struct {
		typmod       int32
		p, s, ap, as int
		ok           bool
	}{
		{-1, 0, 0, 0, 0, false},
		{(10<<16 | 2) + 4, 10, 2, 10, 2, true},
		{(38<<16 | 10) + 4, 38, 10, 38, 10, true},
		{(1000<<16 | 1000) + 4, 1000, 1000, 1000, 1000, true},
		{(2<<16 | (-3 & 0x7ff)) + 4, 2, -3, 5, 0, true},
		{(3<<16 | 5) + 4, 3, 5, 5, 5, true},
	}
	for _, tc := range tests {
		p, s, ok := numericTypmod(tc.typmod)
		ap, as := avroDecimal(p, s)
		if ok != tc.ok || (ok && (p != tc.p || s != tc.s || ap != tc.ap || as != tc.as)) {
			t.Errorf("typmod %d: (%d,%d) %v -> (%d,%d); want (%d,%d) %v -> (%d,%d)",
				tc.typmod, p, s, ok, ap, as, tc.p, tc.s, tc.ok, tc.ap, tc.as)
		}
	}
}

// TestParseDecimal covers numeric text at a scale.
func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in    string
		scale int
		want  string // unscaled; "" = not a decimal
	}{
		{"0", 0, "0"}, {"-0.00", 2, "0"}, {"12.30", 2, "1230"}, {"-12.3", 2, "-1230"},
		{"12", 2, "1200"}, {"0.0000000001", 10, "1"}, {"12000", 0, "12000"},
		{"999999999999999999", 0, "999999999999999999"},
		{"9999999999999999999", 0, "9999999999999999999"},
		{"-1234567890123456789012345678.0123456789", 10, "-12345678901234567890123456780123456789"},
		{"1.500", 1, "15"}, {"1.51", 1, ""}, {"NaN", 2, ""}, {"Infinity", 0, ""},
		{"", 0, ""}, {"-", 0, ""}, {"1.2.3", 2, ""}, {"1-2", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, ok := parseDecimal([]byte(tc.in), tc.scale)
			if got := bigString(n, ok); got != tc.want {
				t.Fatalf("parseDecimal(%q, %d) = %q, want %q", tc.in, tc.scale, got, tc.want)
			}
		})
	}
}

// bigString renders a parse result for comparison ("" when !ok).
func bigString(n *big.Int, ok bool) string {
	if !ok {
		return ""
	}
	return n.String()
}

// TestParseMoney covers money text under lc_monetary 'C'.
func TestParseMoney(t *testing.T) {
	tests := []struct{ in, want string }{
		{"$0.00", "0"}, {"$1,234.56", "123456"}, {"-$1,234.56", "-123456"},
		{"($1,234.56)", "-123456"}, {"$92,233,720,368,547,758.07", "9223372036854775807"},
		{"-$92,233,720,368,547,758.08", "-9223372036854775808"},
		{"$92,233,720,368,547,758.08", ""}, {"$1.2", ""}, {"$1.234", ""}, {"1.234,56 €", ""},
		{"€1.00", ""}, {"$,1.00", ""}, {"($1.00", ""}, {"", ""}, {"$", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, ok := parseMoney([]byte(tc.in))
			if got := bigString(n, ok); got != tc.want {
				t.Fatalf("parseMoney(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestNumericNaN checks NaN in numeric(p,s): null with one warning, or an error.
func TestNumericNaN(t *testing.T) {
	typmod := int32(10<<16|2) + 4
	for _, optional := range []bool{true, false} {
		log, n := countingLogger()
		col := cdc.Column{}
		dec := numericColumn(&col, typmod, &fallback{log: log, column: "c", typ: "numeric(10,2)", optional: optional})
		for range 2 {
			v, err := dec([]byte("NaN"))
			var ne *nanError
			if optional && (v != nil || err != nil) || !optional && !errors.As(err, &ne) {
				t.Fatalf("optional=%v: got %v, %v", optional, v, err)
			}
		}
		if want := map[bool]int64{true: 1, false: 0}[optional]; *n != want {
			t.Fatalf("optional=%v: %d warnings, want %d", optional, *n, want)
		}
	}
}

// TestDecoderAllocations checks that hot decoders allocate only the result.
func TestDecoderAllocations(t *testing.T) {
	tests := []struct {
		name string
		dec  textDecoder
		in   string
		max  float64
	}{
		{"int", decodeInt, "-1234567890", 1},
		{"float8", decodeFloat64, "1.2345678901234567e+300", 1},
		{"decimal", numericColumn(&cdc.Column{}, (18<<16|4)+4, nil), "-12345678901234.5678", 1},
		{"timestamp", timestampDecoder(nil, true), "2024-01-02 03:04:05.123456+00", 1},
		{"date", dateDecoder(nil), "2024-01-02", 1},
		{"time", decodeTime, "12:34:56.123456", 1},
	}
	for _, tc := range tests {
		in := []byte(tc.in)
		got := testing.AllocsPerRun(100, func() {
			if _, err := tc.dec(in); err != nil {
				t.Fatal(err)
			}
		})
		if got > tc.max {
			t.Errorf("%s: %v allocations per value, want <= %v", tc.name, got, tc.max)
		}
	}
}

// TestParseDecimalMatchesBig compares long decimals with big.Int.SetString.
func TestParseDecimalMatchesBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		digits := make([]byte, 1+rng.IntN(120))
		for i := range digits {
			digits[i] = byte('0' + rng.IntN(10))
		}
		scale := rng.IntN(len(digits) + 1)
		text := string(digits[:len(digits)-scale])
		if scale > 0 {
			text += "." + string(digits[len(digits)-scale:])
		}
		if rng.IntN(2) == 0 {
			text = "-" + text
		}
		want, _ := new(big.Int).SetString(strings.Replace(text, ".", "", 1), 10)
		got, ok := parseDecimal([]byte(text), scale)
		if !ok || got.Cmp(want) != 0 {
			t.Fatalf("parseDecimal(%q, %d) = %v, %v; want %v", text, scale, got, ok, want)
		}
	}
}

// TestFloatNaNBits checks that "NaN" decodes to the NaN PostgreSQL stores
// for it (float8send 7ff8000000000000, float4send 7fc00000), not to Go's
// math.NaN, whose payload differs.
func TestFloatNaNBits(t *testing.T) {
	v8, err8 := decodeFloat64([]byte("NaN"))
	v4, err4 := decodeFloat32([]byte("NaN"))
	if f, ok := v8.(float64); err8 != nil || !ok || math.Float64bits(f) != 0x7ff8000000000000 {
		t.Errorf("float8 NaN = %#v (%v), want bits 7ff8000000000000", v8, err8)
	}
	if f, ok := v4.(float32); err4 != nil || !ok || math.Float32bits(f) != 0x7fc00000 {
		t.Errorf("float4 NaN = %#v (%v), want bits 7fc00000", v4, err4)
	}
}

// TestDecodeErrorsArePermanent checks that decoders fail with a
// *cdc.PermanentError that says what to do: the server sends the same value
// again after a reconnect, so only stopping the stream makes sense.
func TestDecodeErrorsArePermanent(t *testing.T) {
	f := &fallback{log: discardLogger(), column: "c", typ: "the type"}
	tests := []struct {
		name string
		dec  textDecoder
		in   string
		want []string // in the message
	}{
		{"malformed int", decodeInt, "1e3", []string{`malformed integer value "1e3"`, "source.exclude_columns"}},
		{"malformed money", decodeMoney, "1,5 €", []string{"lc_monetary", "source.exclude_columns"}},
		{"NaN in a NOT NULL decimal", numericColumn(&cdc.Column{}, (10<<16|2)+4, f), "NaN",
			[]string{"column c of type the type holds NaN", "make the column nullable"}},
		{"timestamp beyond int64 micros", timestampDecoder(f, false), "294276-12-31 23:59:59.999999",
			[]string{"column c of type the type", "294276-12-31", "source.exclude_columns"}},
		{"2-D array", arrayDecoder(decodeInt, ',', "c", "integer[]"), "{{1,2},{3,4}}",
			[]string{"column c of type integer[] holds a 2-dimensional array", "source.exclude_columns"}},
		{"array element", arrayDecoder(decodeInt, ',', "c", "integer[]"), "{1,x}", []string{`malformed integer value "x"`}},
		{"malformed array", arrayDecoder(decodeInt, ',', "c", "integer[]"), "{1", []string{`malformed array value "{1"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.dec([]byte(tc.in))
			var pe *cdc.PermanentError
			if !errors.As(err, &pe) || pe.Fix == "" {
				t.Fatalf("got %#v, %v; want a *cdc.PermanentError with a fix", v, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
