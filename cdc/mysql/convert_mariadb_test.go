package mysql

import (
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFixedBinaryValues(t *testing.T) {
	t.Run("uuid", func(t *testing.T) {
		runConvCases(t, convertColumn(colDesc{Base: "uuid"}), []convCase{
			{"binlog drops trailing zero", string(hexBytes(t, "123e4567e89b12d3a456426614174000")[:15]),
				"123e4567-e89b-12d3-a456-426614174000", false},
			{"all zero", "", "00000000-0000-0000-0000-000000000000", false},
			{"v7", hexBytes(t, "01890a5dac96774bbcceb302099a8057"), "01890a5d-ac96-774b-bcce-b302099a8057", false},
			{"snapshot text", serverText("01890A5D-AC96-774B-BCCE-B302099A8057"), "01890a5d-ac96-774b-bcce-b302099a8057", false},
			{"too long", strings.Repeat("x", 17), nil, true},
		})
	})
	t.Run("inet4", func(t *testing.T) {
		runConvCases(t, convertColumn(colDesc{Base: "inet4"}), []convCase{
			{"max", "\xff\xff\xff\xff", "255.255.255.255", false},
			{"binlog drops zeros", "\xc0\xa8", "192.168.0.0", false},
			{"zero", "", "0.0.0.0", false},
			{"snapshot text", serverText("10.0.0.1"), "10.0.0.1", false},
		})
	})
	cases := []struct{ in, want string }{
		{"00000000000000000000000000000000", "::"},
		{"00000000000000000000000000000001", "::1"},
		{"00000000000000000000ffff01020304", "::ffff:1.2.3.4"},
		{"00000000000000000000000001020304", "::1.2.3.4"},
		{"20010db8000000010001000100010001", "2001:db8::1:1:1:1:1"}, // MariaDB compresses one zero group
		{"00010000000000020000000000000003", "1:0:0:2::3"},
		{"00010000000000020000000000030004", "1::2:0:0:3:4"}, // the first longest run wins
		{"20010db8000000000000000000000000", "2001:db8::"},
		{"ffffffffffffffffffffffffffffffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"00000000000000000000fffe01020304", "::fffe:102:304"},
	}
	conv := convertColumn(colDesc{Base: "inet6"})
	for _, c := range cases {
		t.Run("inet6/"+c.want, func(t *testing.T) {
			raw := strings.TrimRight(string(hexBytes(t, c.in)), "\x00") // as the binlog carries it
			got, err := conv(raw)
			if err != nil || got != c.want {
				t.Errorf("%s: got %v (%v), want %s", c.in, got, err, c.want)
			}
		})
	}
}

func TestDecodeText(t *testing.T) {
	var all []byte
	for c := 0x80; c <= 0xff; c++ {
		all = append(all, byte(c))
	}
	latin1 := "€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ" +
		"\u00a0¡¢£¤¥¦§¨©ª«¬\u00ad®¯°±²³´µ¶·¸¹º»¼½¾¿ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ"
	cases := []struct {
		name, charset string
		in            []byte
		want          string // "" with a non-empty in wants an error
	}{
		{"utf8mb4", "utf8mb4", []byte("é😀"), "é😀"},
		{"unknown charset", "", []byte("é"), "é"},
		{"latin1 high half", "latin1", all, latin1},
		{"utf16 surrogates", "utf16", hexBytes(t, "0061d83dde0000e9"), "a😀é"},
		{"utf16le", "utf16le", hexBytes(t, "61003dd800dee900"), "a😀é"},
		{"ucs2", "ucs2", hexBytes(t, "01000101"), "Āā"},
		{"utf32", "utf32", hexBytes(t, "000000610001f600"), "a😀"},
		{"utf16 odd", "utf16", []byte{0}, ""},
		{"utf32 bad rune", "utf32", hexBytes(t, "00110000"), ""},
		{"cp1251 ascii", "cp1251", []byte("plain"), "plain"},
		{"cp1251 cyrillic", "cp1251", []byte{0xcf, 0xf0}, ""},
		{"swe7", "swe7", []byte("a"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeText(c.in, c.charset)
			if c.want == "" {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got %q (%v), want %q", got, err, c.want)
			}
		})
	}
}

func TestParseMembers(t *testing.T) {
	cases := []struct {
		columnType string
		want       []string
	}{
		{"enum('a','b')", []string{"a", "b"}},
		{"enum('it''s','x,y','')", []string{"it's", "x,y", ""}},
		{`set('a\\b','new\nline','cr\r','nul\0','z\Z')`, []string{`a\b`, "new\nline", "cr\r", "nul\x00", "z\x1a"}},
		{"enum('tab\tkept','ü')", []string{"tab\tkept", "ü"}},
		{"enum('a)','(b')", []string{"a)", "(b"}},
		{"varchar(10)", nil},
	}
	for _, c := range cases {
		t.Run(c.columnType, func(t *testing.T) {
			if got := parseMembers(c.columnType); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// fakeInfoRow is one information_schema.COLUMNS row as columnsQuery selects it.
type fakeInfoRow []any

func (r fakeInfoRow) GetString(_, col int) (string, error) { return fmt.Sprint(r[col]), nil }
func (r fakeInfoRow) GetInt(_, col int) (int64, error)     { n, _ := r[col].(int); return int64(n), nil }

func TestInfoDesc(t *testing.T) {
	cases := []struct {
		name string
		row  fakeInfoRow
		want colDesc
	}{
		{"point is geometry", fakeInfoRow{"g", "point", "point", "YES", 0, 0, "", 0},
			colDesc{Name: "g", Base: "geometry", ColumnType: "point", Nullable: true, Binary: true}},
		{"latin1 text", fakeInfoRow{"v", "varchar", "varchar(20)", "NO", 0, 0, "latin1", 20},
			colDesc{Name: "v", Base: "varchar", ColumnType: "varchar(20)", Charset: "latin1"}},
		{"binary", fakeInfoRow{"b", "binary", "binary(8)", "YES", 0, 0, "binary", 8},
			colDesc{Name: "b", Base: "binary", ColumnType: "binary(8)", Nullable: true, Binary: true, Length: 8}},
		{"enum", fakeInfoRow{"e", "enum", `enum('a\\b','c''d')`, "YES", 0, 0, "utf8mb4", 12},
			colDesc{Name: "e", Base: "enum", ColumnType: `enum('a\\b','c''d')`, Nullable: true, Members: []string{`a\b`, "c'd"}, Charset: "utf8mb4"}},
		{"unsigned decimal", fakeInfoRow{"n", "decimal", "decimal(20,5) unsigned", "YES", 20, 5, "", 0},
			colDesc{Name: "n", Base: "decimal", ColumnType: "decimal(20,5) unsigned", Nullable: true, Unsigned: true, Precision: 20, Scale: 5}},
		{"uuid", fakeInfoRow{"u", "uuid", "uuid", "YES", 0, 0, "", 0},
			colDesc{Name: "u", Base: "uuid", ColumnType: "uuid", Nullable: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := infoDesc(c.row, 0); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestIsFixedBinaryOf(t *testing.T) {
	bin16 := colDesc{Base: "binary", Length: 16, Binary: true}
	cases := []struct {
		name      string
		info, bin colDesc
		want      bool
	}{
		{"uuid", colDesc{Base: "uuid"}, bin16, true},
		{"inet6", colDesc{Base: "inet6"}, bin16, true},
		{"inet4 needs 4 bytes", colDesc{Base: "inet4"}, bin16, false},
		{"inet4", colDesc{Base: "inet4"}, colDesc{Base: "binary", Length: 4}, true},
		{"plain binary", colDesc{Base: "binary"}, bin16, false},
		{"uuid over varbinary", colDesc{Base: "uuid"}, colDesc{Base: "varbinary", Length: 16}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := isFixedBinaryOf(c.info, c.bin); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestCopyDeclared(t *testing.T) {
	known := []colDesc{
		{Name: "u", Base: "uuid", ColumnType: "uuid"},
		{Name: "e", Base: "enum", ColumnType: `enum('a\\b','é')`, Members: []string{`a\b`, "é"}, Charset: "latin1"},
		{Name: "j", Base: "longtext", ColumnType: "longtext", JSON: true, Charset: "utf8mb4"},
		{Name: "v", Base: "varchar", ColumnType: "varchar(20)", Charset: "latin1"},
		{Name: "changed", Base: "int", ColumnType: "int(11)"},
	}
	descs := []colDesc{
		{Name: "u", Base: "binary", Length: 16, Binary: true},
		{Name: "e", Base: "enum", Members: []string{`a\b`, "\xe9"}},
		{Name: "j", Base: "longtext"},
		{Name: "v", Base: "varchar", Length: 20},
		{Name: "changed", Base: "bigint"},
		{Name: "new", Base: "int"},
	}
	copyDeclared(known, descs)
	want := []colDesc{
		{Name: "u", Base: "uuid", ColumnType: "uuid", Length: 16, Binary: true},
		{Name: "e", Base: "enum", ColumnType: `enum('a\\b','é')`, Members: []string{`a\b`, "é"}, Charset: "latin1"},
		{Name: "j", Base: "longtext", ColumnType: "longtext", JSON: true, Charset: "utf8mb4"},
		{Name: "v", Base: "varchar", ColumnType: "varchar(20)", Length: 20, Charset: "latin1"},
		{Name: "changed", Base: "bigint"},
		{Name: "new", Base: "int"},
	}
	for i := range want {
		t.Run(want[i].Name, func(t *testing.T) {
			if !reflect.DeepEqual(descs[i], want[i]) {
				t.Errorf("got %+v, want %+v", descs[i], want[i])
			}
		})
	}
}
