package postgres

import (
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/boxarena"
)

// encodeNumeric renders the decimal text s ("-12.340") as numeric_send
// does, with dscale the digits after its point.
func encodeNumeric(s string) []byte {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	dscale := len(frac)
	intPart = strings.TrimLeft(intPart, "0")
	// Pad both parts to whole base-10000 digits around the point.
	intPart = strings.Repeat("0", (4-len(intPart)%4)%4) + intPart
	frac += strings.Repeat("0", (4-len(frac)%4)%4)
	all := intPart + frac
	var groups []uint16
	for i := 0; i < len(all); i += 4 {
		var g uint16
		for _, c := range all[i : i+4] {
			g = g*10 + uint16(c-'0')
		}
		groups = append(groups, g)
	}
	weight := len(intPart)/4 - 1
	for len(groups) > 0 && groups[0] == 0 {
		groups, weight = groups[1:], weight-1
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	if len(groups) == 0 {
		weight, neg = 0, false
	}
	sign := uint16(numSignPos)
	if neg {
		sign = numSignNeg
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(len(groups)))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(dscale))
	for _, g := range groups {
		b = binary.BigEndian.AppendUint16(b, g)
	}
	return b
}

// special returns the binary numeric with sign word sign (NaN, infinities).
func special(sign uint16) []byte {
	return []byte{0, 0, 0, 0, byte(sign >> 8), byte(sign), 0, 0}
}

// TestNumericBinaryMatchesText decodes random numeric(p,s) values in binary
// and as text and compares the results.
func TestNumericBinaryMatchesText(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	f := &fallback{log: discardLogger(), column: "c", typ: "numeric", optional: true}
	var bx boxarena.Arena
	for range 20000 {
		scale := rng.IntN(21)
		digits := make([]byte, 1+rng.IntN(45))
		for i := range digits {
			digits[i] = byte('0' + rng.IntN(10))
		}
		if rng.IntN(4) == 0 { // trailing zeros, so whole zero groups
			for i := len(digits) - rng.IntN(len(digits)); i < len(digits); i++ {
				digits[i] = '0'
			}
		}
		fracDigits := min(rng.IntN(scale+3), len(digits)) // sometimes beyond the scale
		text := string(digits[:len(digits)-fracDigits])
		if text == "" {
			text = "0"
		}
		if fracDigits > 0 {
			text += "." + string(digits[len(digits)-fracDigits:])
		}
		if rng.IntN(2) == 0 {
			text = "-" + text
		}
		typmod := int32(1000<<16|scale) + 4
		want, werr := numericColumn(&cdc.Column{}, typmod, f)([]byte(text))
		got, gerr := numericBinaryDecoder(scale, f)(encodeNumeric(text), &bx)
		if (werr == nil) != (gerr == nil) || (werr == nil && got.(*big.Int).Cmp(want.(*big.Int)) != 0) {
			t.Fatalf("%s at scale %d: binary %v, %v; text %v, %v", text, scale, got, gerr, want, werr)
		}
		if gerr != nil && !errors.Is(gerr, errSyntax) {
			t.Fatalf("%s at scale %d: %v", text, scale, gerr)
		}
	}
}

// TestNumericBinarySpecial covers NaN and the infinities.
func TestNumericBinarySpecial(t *testing.T) {
	for _, optional := range []bool{true, false} {
		f := &fallback{log: discardLogger(), column: "c", typ: "numeric(10,2)", optional: optional}
		text := numericColumn(&cdc.Column{}, int32(10<<16|2)+4, f)
		bin := numericBinaryDecoder(2, f)
		for _, tc := range []struct {
			text string
			sign uint16
		}{{"NaN", numSignNaN}, {"Infinity", numSignPInf}, {"-Infinity", numSignNInf}} {
			want, werr := text([]byte(tc.text))
			got, gerr := bin(special(tc.sign), &boxarena.Arena{})
			if got != want || (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
				t.Errorf("optional %v, %s: binary %v, %v; text %v, %v", optional, tc.text, got, gerr, want, werr)
			}
		}
	}
}

// TestNumericText checks the rendering of binary numerics for messages.
func TestNumericText(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "12345678.91", "0.00123", "-0.0000000001", "10000", "100000000.5",
		"1234567890123456789012345678.0123456789", "0.10", "99990000"} {
		if got := numericText(encodeNumeric(s)); got != s {
			t.Errorf("numericText(%s) = %s", s, got)
		}
	}
}

// TestFormatPGTimestamp compares the rendering of timestamps with Go's.
func TestFormatPGTimestamp(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	lo := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
	for i := range 20000 {
		us := lo + rng.Int64N(hi-lo)
		if i%3 == 0 {
			us -= us % usPerSecond // no fraction
		}
		want := time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.999999")
		if got := formatPGTimestamp(us-pgEpochMicros, false); got != want {
			t.Fatalf("%d: %s, want %s", us, got, want)
		}
		if got := formatPGTimestamp(us-pgEpochMicros, true); got != want+"+00" {
			t.Fatalf("%d: %s, want %s+00", us, got, want)
		}
	}
	for _, tc := range []struct {
		text     string
		withZone bool
	}{{"0044-03-15 12:00:00.5 BC", false}, {"4713-01-01 00:00:00+00 BC", true}, {"294276-12-31 23:59:59.999999", false},
		{"0001-12-31 23:59:59.000001 BC", false}, {"10000-01-01 00:00:00.01+00", true}} {
		// Micros since 2000-01-01, which hold every PostgreSQL timestamp.
		days, rest, ok1 := parseDate([]byte(tc.text))
		clock, _, ok2 := parseClock(rest[1:])
		if !ok1 || !ok2 {
			t.Fatalf("bad case %s", tc.text)
		}
		us := (days-pgEpochDays)*usPerDay + clock
		if got := formatPGTimestamp(us, tc.withZone); got != tc.text {
			t.Errorf("%s rendered as %s", tc.text, got)
		}
	}
}

// TestCivilFromDays checks that it inverts daysFromCivil.
func TestCivilFromDays(t *testing.T) {
	for days := int64(-3_000_000); days < 3_000_000; days += 17 {
		y, m, d := civilFromDays(days)
		if back := daysFromCivil(y, m, d); back != days {
			t.Fatalf("%d -> %d-%d-%d -> %d", days, y, m, d, back)
		}
	}
}

// TestBinaryDecoderErrors checks that malformed binary values are errors
// that stop, naming the value.
func TestBinaryDecoderErrors(t *testing.T) {
	f := &fallback{log: discardLogger(), column: "c", typ: "t", optional: true}
	decs := map[string]valueDecoder{"bool": decodeBinaryBool, "int2": decodeBinaryInt2, "int4": decodeBinaryInt4,
		"int8": decodeBinaryInt8, "oid": decodeBinaryOID, "float4": decodeBinaryFloat4, "float8": decodeBinaryFloat8,
		"money": decodeBinaryMoney, "uuid": decodeBinaryUUID, "date": binaryDateDecoder(f), "time": decodeBinaryTime,
		"timestamp": binaryTimestampDecoder(f, false), "numeric": numericBinaryDecoder(2, f)}
	for name, dec := range decs {
		_, err := dec([]byte{1, 2, 3}, &boxarena.Arena{})
		if !errors.Is(err, errSyntax) || !cdc.Permanent(err) || !strings.Contains(err.Error(), `\x010203`) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := decodeBinaryJSONB([]byte{2, '{', '}'}, &boxarena.Arena{}); !errors.Is(err, errSyntax) {
		t.Errorf("jsonb version 2: %v", err)
	}
	bad := encodeNumeric("1.5")
	binary.BigEndian.PutUint16(bad[8:], 10000) // not a base-10000 digit
	if _, err := numericBinaryDecoder(2, f)(bad, &boxarena.Arena{}); !errors.Is(err, errSyntax) {
		t.Errorf("numeric digit 10000: %v", err)
	}
}

// TestBinaryScalars covers the scalar decoders on send-function output.
func TestBinaryScalars(t *testing.T) {
	f := &fallback{log: discardLogger(), column: "c", typ: "t", optional: false}
	be := func(v uint64, n int) []byte {
		b := binary.BigEndian.AppendUint64(nil, v)
		return b[8-n:]
	}
	tests := []struct {
		name string
		dec  valueDecoder
		in   []byte
		want any
	}{
		{"bool", decodeBinaryBool, []byte{1}, true},
		{"int2", decodeBinaryInt2, be(uint64(0x8000), 2), int64(-32768)},
		{"int4", decodeBinaryInt4, be(uint64(math.MaxUint32), 4), int64(-1)},
		{"int8", decodeBinaryInt8, be(1<<63, 8), int64(math.MinInt64)},
		{"oid", decodeBinaryOID, be(math.MaxUint32, 4), int64(math.MaxUint32)},
		{"float4 NaN", decodeBinaryFloat4, be(0xffc00001, 4), nan32},
		{"float8 -0", decodeBinaryFloat8, be(1<<63, 8), math.Copysign(0, -1)},
		{"money min", decodeBinaryMoney, be(1<<63, 8), new(big.Int).Neg(new(big.Int).SetUint64(1 << 63))},
		{"money", decodeBinaryMoney, be(123456, 8), big.NewInt(123456)},
		{"jsonb", decodeBinaryJSONB, []byte("\x01{}"), "{}"},
		{"bytea empty", decodeBinaryBytea, []byte{}, []byte{}},
		{"uuid", decodeBinaryUUID, []byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11},
			"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"date", binaryDateDecoder(f), be(0, 4), int64(pgEpochDays)},
		{"date infinity", binaryDateDecoder(f), be(math.MaxInt32, 4), infinityDays},
		{"date -infinity", binaryDateDecoder(f), be(uint64(1<<31), 4), minusInfinityDays},
		{"timestamp infinity", binaryTimestampDecoder(f, true), be(math.MaxInt64, 8), infinityMicros},
		{"timestamp -infinity", binaryTimestampDecoder(f, true), be(1<<63, 8), minusInfinityMicros},
		{"time", decodeBinaryTime, be(usPerDay, 8), int64(usPerDay)},
	}
	for _, tc := range tests {
		got, err := tc.dec(tc.in, &boxarena.Arena{})
		if err != nil || !sameValue(got, tc.want) {
			t.Errorf("%s: %#v, %v; want %#v", tc.name, got, err, tc.want)
		}
	}
	if v, _ := decodeBinaryBytea([]byte{}, &boxarena.Arena{}); v.([]byte) == nil {
		t.Error("empty bytea decoded to a nil slice")
	}
	var re *rangeError
	if _, err := binaryTimestampDecoder(f, false)(be(math.MaxInt64-1, 8), &boxarena.Arena{}); !errors.As(err, &re) {
		t.Errorf("timestamp beyond int64 micros: %v", err)
	}
}
