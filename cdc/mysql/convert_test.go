package mysql

import (
	"encoding/hex"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// convCase is one input of a conversion and its expected result; want is
// compared by its %v rendering, and wantErr says the conversion must fail.
type convCase struct {
	name    string
	in      any
	want    any
	wantErr bool
}

func runConvCases(t *testing.T, conv converter, cases []convCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := conv(c.in)
			if c.wantErr {
				if err == nil {
					t.Fatalf("%#v: got %#v, want an error", c.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("%#v: %v", c.in, err)
			}
			if fmt.Sprintf("%T %v", got, got) != fmt.Sprintf("%T %v", c.want, c.want) {
				t.Errorf("%#v: got %T %v, want %T %v", c.in, got, got, c.want, c.want)
			}
		})
	}
}

// convertColumn builds the converter fluxo uses for d.
func convertColumn(d colDesc) converter {
	return newConverter(cdc.TableID{Schema: "db", Name: "t"}, d, d.column(), nil)
}

func TestParseDecimal(t *testing.T) {
	max65 := "99999999999999999999999999999999999.999999999999999999999999999999"
	digits65 := "99999999999999999999999999999999999999999999999999999999999999999"
	for _, scale := range []int{0, 2, 30} {
		var cases []convCase
		switch scale {
		case 0:
			cases = []convCase{{"integer", "7", "7", false}, {"negative", "-999999999999999999", "-999999999999999999", false},
				{"bytes", []byte("42"), "42", false}, {"fraction zeros", "5.000", "5", false}, {"fraction", "5.5", nil, true}}
		case 2:
			cases = []convCase{{"exact", "12.30", "1230", false}, {"short fraction", "1.5", "150", false},
				{"trailing zeros", "1.250", "125", false}, {"too precise", "1.255", nil, true},
				{"negative cent", "-0.01", "-1", false}, {"no integer part", "-.5", "-50", false},
				{"negative zero", "-0.00", "0", false}, {"not a number", "abc", nil, true}, {"int64", int64(5), nil, true}}
		case 30:
			cases = []convCase{{"max 65 digits", max65, digits65, false}, {"min 65 digits", "-" + max65, "-" + digits65, false},
				{"smallest", "-0.000000000000000000000000000001", "-1", false}}
		}
		t.Run(fmt.Sprintf("scale%d", scale), func(t *testing.T) {
			conv := func(v any) (any, error) {
				n, err := parseDecimal(v, scale)
				if err != nil {
					return nil, err
				}
				return fmt.Sprint(n), nil
			}
			runConvCases(t, conv, cases)
		})
	}
}

func TestParseClock(t *testing.T) {
	conv := func(v any) (any, error) { return parseClock(v.(string)) }
	runConvCases(t, conv, []convCase{
		{"midnight", "00:00:00", int64(0), false},
		{"max hours", "838:59:59", int64(3020399000000), false},
		{"micros", "12:34:56.789012", int64(45296789012), false},
		{"short fraction", "01:02:03.5", int64(3723500000), false},
		{"millis", "00:00:00.001", int64(1000), false},
		{"two fields", "1:2", nil, true},
		{"letters", "aa:00:00", nil, true},
		{"seven fraction digits", "00:00:00.1234567", nil, true},
		{"bad fraction", "00:00:00.x", nil, true},
		{"empty", "", nil, true},
	})
}

func TestDurationValue(t *testing.T) {
	runConvCases(t, durationValue, []convCase{
		{"min", "-838:59:59.000000", int64(-3020399000000), false},
		{"max", "838:59:59", int64(3020399000000), false},
		{"negative sub-second", "-00:00:00.500000", int64(-500000), false},
		{"negative second", []byte("-00:00:01"), int64(-1000000), false},
		{"zero", "00:00:00", int64(0), false},
		{"fsp 3", "-01:00:00.001", int64(-3600001000), false},
		{"garbage", "soon", nil, true},
		{"duration type", time.Second, nil, true},
	})
}

func TestTimestampValue(t *testing.T) {
	mysql8 := time.Unix(2147483647, 999999000) // MySQL 8 binlog TIMESTAMP, ParseTime: local time.Time
	for _, optional := range []bool{true, false} {
		t.Run(fmt.Sprintf("optional=%v", optional), func(t *testing.T) {
			zero := any(int64(0))
			if optional {
				zero = nil
			}
			conv := convertColumn(colDesc{Name: "ts", Base: "datetime", Nullable: optional})
			runConvCases(t, conv, []convCase{
				{"time.Time instant", mysql8, int64(2147483647999999), false},
				{"time.Time wall clock", time.Date(2024, 2, 29, 12, 0, 0, 1000, time.UTC), int64(1709208000000001), false},
				{"before 1970", "1969-12-31 23:59:59.999999", int64(-1), false},
				{"max", "9999-12-31 23:59:59.999999", int64(253402300799999999), false},
				{"min", "1000-01-01 00:00:00", int64(-30610224000000000), false},
				{"fsp 3", []byte("1970-01-01 00:00:00.123"), int64(123000), false},
				{"date only", "1970-01-02", int64(86400000000), false},
				{"zero date", "0000-00-00 00:00:00", zero, false},
				{"zero month", "2024-00-10 10:00:00", zero, false},
				{"zero with fraction", "0000-00-00 00:00:00.000000", zero, false},
				{"bad clock", "2024-01-01 25", nil, true},
				{"garbage", "yesterday", nil, true},
				{"int", int64(5), nil, true},
			})
		})
	}
}

func TestDateValue(t *testing.T) {
	for _, optional := range []bool{true, false} {
		t.Run(fmt.Sprintf("optional=%v", optional), func(t *testing.T) {
			zero := any(int64(0))
			if optional {
				zero = nil
			}
			conv := convertColumn(colDesc{Name: "d", Base: "date", Nullable: optional})
			runConvCases(t, conv, []convCase{
				{"epoch", "1970-01-01", int64(0), false},
				{"day before epoch", "1969-12-31", int64(-1), false},
				{"max", "9999-12-31", int64(2932896), false},
				{"min", []byte("1000-01-01"), int64(-354285), false},
				{"time.Time", time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC), int64(11016), false},
				{"zero date", "0000-00-00", zero, false},
				{"zero day", "2024-02-00", zero, false},
				{"garbage", "2024/02/01", nil, true},
				{"float", 1.5, nil, true},
			})
		})
	}
}

func TestBitBytes(t *testing.T) {
	cases := []struct {
		name  string
		in    any
		nbits int
		want  string // hex; "" wants an error
	}{
		{"bit1 set", int64(1), 1, "01"},
		{"bit1 snapshot", []byte{1}, 1, "01"},
		{"bit10 max", int64(0x3ff), 10, "03ff"},
		{"bit10 snapshot short", []byte{0x01}, 10, "0001"},
		{"bit17", int64(0x10001), 17, "010001"},
		{"bit64 all ones", int64(-1), 64, "ffffffffffffffff"},
		{"bit64 top bit", int64(math.MinInt64), 64, "8000000000000000"},
		{"bit64 snapshot", []byte{0x80, 0, 0, 0, 0, 0, 0, 1}, 64, "8000000000000001"},
		{"string", "\x02", 8, "02"},
		{"float", 1.0, 8, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := bitBytes(c.in, c.nbits)
			if c.want == "" {
				if err == nil {
					t.Fatalf("got %x, want an error", got)
				}
				return
			}
			if err != nil || hex.EncodeToString(got) != c.want {
				t.Errorf("got %x (%v), want %s", got, err, c.want)
			}
		})
	}
	t.Run("bool column", func(t *testing.T) {
		runConvCases(t, convertColumn(colDesc{Base: "bit", Length: 1}), []convCase{
			{"set", int64(1), true, false}, {"clear", []byte{0}, false, false}, {"bad", 1.0, nil, true}})
	})
}

func TestEnumSetValues(t *testing.T) {
	members := []string{"a", "b", "c d", ""}
	sixtyFour := make([]string, 64)
	for i := range sixtyFour {
		sixtyFour[i] = fmt.Sprintf("m%d", i+1)
	}
	t.Run("enum", func(t *testing.T) {
		runConvCases(t, convertColumn(colDesc{Base: "enum", Members: members}), []convCase{
			{"first", int64(1), "a", false},
			{"with space", int64(3), "c d", false},
			{"empty member", int64(4), "", false},
			{"error value", int64(0), "", false},
			{"beyond members", int64(5), nil, true},
			{"snapshot text", "b", "b", false},
			{"server text", serverText("c d"), "c d", false},
			{"float", 1.0, nil, true},
		})
	})
	t.Run("set", func(t *testing.T) {
		runConvCases(t, convertColumn(colDesc{Base: "set", Members: members}), []convCase{
			{"two", int64(5), "a,c d", false},
			{"none", int64(0), "", false},
			{"all", int64(7), "a,b,c d", false},
			{"snapshot text", []byte("a,b"), "a,b", false},
			{"float", 1.0, nil, true},
		})
	})
	t.Run("set of 64", func(t *testing.T) {
		runConvCases(t, convertColumn(colDesc{Base: "set", Members: sixtyFour}), []convCase{
			{"last member", int64(math.MinInt64), "m64", false},
			{"first and last", int64(math.MinInt64 | 1), "m1,m64", false},
		})
	})
}

func TestBinaryValues(t *testing.T) {
	conv := convertColumn(colDesc{Base: "binary", Binary: true, Length: 8})
	runConvCases(t, conv, []convCase{
		{"binlog drops trailing zeros", "\x01\x02", []byte{1, 2, 0, 0, 0, 0, 0, 0}, false},
		{"all zeros", "", make([]byte, 8), false},
		{"full", []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{1, 2, 3, 4, 5, 6, 7, 8}, false},
		{"int", int64(1), nil, true},
	})
	t.Run("input untouched", func(t *testing.T) {
		in := make([]byte, 2, 16)
		in[0], in[1] = 1, 2
		spare := in[:16]
		spare[2] = 0xee
		if _, err := conv(in); err != nil || spare[2] != 0xee {
			t.Errorf("padding wrote into the caller's array (err %v)", err)
		}
	})
	runConvCases(t, convertColumn(colDesc{Base: "varbinary", Binary: true}), []convCase{
		{"varbinary keeps zeros", []byte{0, 1, 0}, []byte{0, 1, 0}, false}})
}

func TestGeometryValue(t *testing.T) {
	wkb := []byte{1, 1, 0, 0, 0}
	for _, base := range []string{"geometry", "point", "geomcollection"} {
		t.Run(base, func(t *testing.T) {
			runConvCases(t, convertColumn(colDesc{Base: base, Binary: true}), []convCase{
				{"srid 0", append([]byte{0, 0, 0, 0}, wkb...), wkb, false},
				{"srid 4326", string(append([]byte{0xe6, 0x10, 0, 0}, wkb...)), wkb, false},
				{"too short", []byte{1}, nil, true},
			})
		})
	}
}

func TestIntegerValues(t *testing.T) {
	runConvCases(t, toInt64, []convCase{
		{"int8", int8(-128), int64(-128), false},
		{"uint24 as uint32", uint32(16777215), int64(16777215), false},
		{"year as int", 2155, int64(2155), false},
		{"snapshot unsigned", uint64(4294967295), int64(4294967295), false},
		{"overflow", uint64(math.MaxUint64), nil, true},
		{"string", "1", nil, true},
	})
	runConvCases(t, toUint64, []convCase{
		{"binlog max", uint64(math.MaxUint64), uint64(math.MaxUint64), false},
		{"int64 bits", int64(-1), uint64(math.MaxUint64), false},
		{"small", uint32(7), uint64(7), false},
	})
	runConvCases(t, toFloat32, []convCase{
		{"snapshot float64", float64(float32(0.1)), float32(0.1), false}, {"binlog", float32(-1.5), float32(-1.5), false}})
}

// TestMySQL8Values feeds values in the shapes go-mysql hands over for
// MySQL 8 (binary JSON rendered as text, TIMESTAMP as time.Time).
func TestMySQL8Values(t *testing.T) {
	doc := `{"a": [1, 2.5, "😀"], "b": null}`
	runConvCases(t, convertColumn(colDesc{Base: "json", Charset: "utf8mb4"}), []convCase{
		{"binlog json text", doc, doc, false},
		{"snapshot json", serverText(doc), doc, false},
		{"json bytes", []byte("[]"), "[]", false},
		{"partial update diff", struct{}{}, nil, true},
	})
	ts := time.Date(2038, 1, 19, 3, 14, 7, 999999000, time.FixedZone("CET", 3600))
	runConvCases(t, convertColumn(colDesc{Base: "timestamp", Nullable: true}), []convCase{
		{"timestamp time.Time", ts, ts.UnixMicro(), false},
		{"timestamp text", "2038-01-19 02:14:07.999999", ts.UnixMicro(), false},
	})
	if got := (colDesc{Base: "geomcollection"}).column().Kind; got != cdc.KindBytes {
		t.Errorf("geomcollection maps to %s", got)
	}
}

func TestStringValues(t *testing.T) {
	d := colDesc{Base: "varchar", Charset: "latin1"}
	runConvCases(t, convertColumn(d), []convCase{
		{"binlog latin1", "caf\xe9 \x80", "café €", false},
		{"binlog latin1 bytes", []byte{0x9f}, "Ÿ", false},
		{"snapshot is utf8 already", serverText("café €"), "café €", false},
		{"int", int64(1), nil, true},
	})
}

// TestBinlogCharsets: the binlog (MySQL 8 and MariaDB alike) carries text
// in the column's character set, unconverted; each decodes to the text the
// snapshot's utf8mb4 connection reads.
func TestBinlogCharsets(t *testing.T) {
	tests := []struct {
		charset string
		binlog  any
		want    any
		wantErr bool
	}{
		{"utf8mb4", "ação 🦊", "ação 🦊", false},
		{"utf8mb3", "ação 日本", "ação 日本", false},
		{"utf8", []byte("Ж"), "Ж", false},
		{"ascii", "plain", "plain", false},
		{"latin1", "A\xe7\xe3o \xc7edilha \x80 \x8c", "Ação Çedilha € Œ", false},
		{"ucs2", "\x01\x00\x00\xe7\x65\xe5", "Āç日", false},
		{"utf16", "\x00a\xd8\x3d\xde\x00", "a😀", false},
		{"utf16le", "a\x00\x3d\xd8\x00\xde", "a😀", false},
		{"utf32", "\x00\x01\xd1\x1e", "𝄞", false},
		{"ucs2", "\x00", nil, true}, // odd length
		{"big5", "plain", "plain", false},
		{"big5", "\xa4\x40", nil, true}, // a character set fluxo cannot decode
		{"swe7", "{|}", nil, true},      // ASCII punctuation stands for letters
	}
	for _, tc := range tests {
		t.Run(tc.charset, func(t *testing.T) {
			runConvCases(t, convertColumn(colDesc{Base: "varchar", Charset: tc.charset}), []convCase{
				{tc.charset, tc.binlog, tc.want, tc.wantErr}})
		})
	}
}

func TestKinds(t *testing.T) {
	cases := []struct {
		d    colDesc
		kind cdc.Kind
		typ  string
	}{
		{colDesc{Base: "uuid", ColumnType: "uuid"}, cdc.KindUUID, "uuid"},
		{colDesc{Base: "inet6"}, cdc.KindString, "inet6"},
		{colDesc{Base: "bigint", Unsigned: true}, cdc.KindUint64, "bigint unsigned"},
		{colDesc{Base: "int", Unsigned: true}, cdc.KindInt64, "int unsigned"},
		{colDesc{Base: "bit", Length: 1}, cdc.KindBool, "bit(1)"},
		{colDesc{Base: "bit", Length: 64}, cdc.KindBytes, "bit(64)"},
		{colDesc{Base: "time"}, cdc.KindDurationMicros, "time"},
		{colDesc{Base: "longtext", JSON: true}, cdc.KindString, "longtext"},
		{colDesc{Base: "geometry", ColumnType: "point"}, cdc.KindBytes, "point"},
		{colDesc{Base: "enum", Members: []string{"it's"}}, cdc.KindString, "enum('it''s')"},
	}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			col := c.d.column()
			if col.Kind != c.kind || col.Type != c.typ {
				t.Errorf("got %s %q, want %s %q", col.Kind, col.Type, c.kind, c.typ)
			}
		})
	}
}

// TestUnsignedFromSigned: an unsigned integer column's value comes from
// the binlog decoder as a signed Go integer (decodeRowsSigned) and from
// the binary protocol as uint64; both convert to the unsigned value.
func TestUnsignedFromSigned(t *testing.T) {
	tests := []struct {
		d    colDesc
		in   any
		want int64
	}{
		{colDesc{Base: "tinyint", Unsigned: true}, int8(-1), 255},
		{colDesc{Base: "tinyint", Unsigned: true}, int8(7), 7},
		{colDesc{Base: "tinyint", Unsigned: true}, uint64(255), 255},
		{colDesc{Base: "smallint", Unsigned: true}, int16(-2), 65534},
		{colDesc{Base: "mediumint", Unsigned: true}, int32(-1), 16777215}, // 24 bits, sign-extended
		{colDesc{Base: "mediumint", Unsigned: true}, uint32(8388608), 8388608},
		{colDesc{Base: "int", Unsigned: true}, int32(-1), 4294967295},
		{colDesc{Base: "int", Unsigned: true}, uint64(4294967295), 4294967295},
		{colDesc{Base: "tinyint"}, int8(-1), -1},
		{colDesc{Base: "int"}, int32(-5), -5},
	}
	for _, tc := range tests {
		col := tc.d.column()
		got, err := newConverter(cdc.TableID{}, tc.d, col, nil)(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s %T(%v) = %v, %v; want %d", tc.d.typeString(), tc.in, tc.in, got, err, tc.want)
		}
	}
}
