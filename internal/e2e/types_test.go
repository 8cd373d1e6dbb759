package e2e

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

// typeCol is one column of the types table: its definition, a SQL
// expression that renders a value as canonical text (%[1]s is the column),
// the Avro type SPEC §4 maps it to, and one SQL literal per row of typeRows.
type typeCol struct {
	name string
	def  string
	expr string
	avro string // type[.logicalType][(precision,scale)][@connect.name]
	vals [4]string
}

// typeRows names the rows; row i holds vals[i] of every column.
var typeRows = [4]string{"max", "min", "misc", "nulls"}

// Canonical-text expressions.
const (
	asText   = "%[1]s"
	asNumber = "%[1]s+0"
	asHex    = "HEX(%[1]s)"
	asDate   = "DATE_FORMAT(%[1]s, '%%Y-%%m-%%d')"
	asStamp  = "DATE_FORMAT(%[1]s, '%%Y-%%m-%%d %%H:%%i:%%s.%%f')"
	asWKB    = "HEX(ST_AsWKB(%[1]s))"
	asDouble = "CAST(%[1]s AS DOUBLE)"
	// TIME as signed microseconds; MICROSECOND() is unsigned, so the sign
	// comes from the text ('-00:00:00.5' has TIME_TO_SEC 0 on MySQL).
	asMicros = "IF(LEFT(CAST(%[1]s AS CHAR), 1) = '-', -1, 1) * (ABS(TIME_TO_SEC(%[1]s)) DIV 1 * 1000000 + MICROSECOND(%[1]s))"
)

var bits64 = "b'" + strings.Repeat("1", 64) + "'"

// latin1Bytes is every latin1 byte from 0x01 to 0xFF, as a hex literal.
var latin1Bytes = func() string {
	b := make([]byte, 255)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return "x'" + hex.EncodeToString(b) + "'"
}()

var typeCols = []typeCol{
	{"ti", "tinyint", asText, "int", [4]string{"127", "-128", "0", "NULL"}},
	{"tiu", "tinyint unsigned", asText, "int", [4]string{"255", "0", "1", "NULL"}},
	{"si", "smallint", asText, "int", [4]string{"32767", "-32768", "0", "NULL"}},
	{"siu", "smallint unsigned", asText, "int", [4]string{"65535", "0", "1", "NULL"}},
	{"mi", "mediumint", asText, "int", [4]string{"8388607", "-8388608", "0", "NULL"}},
	{"miu", "mediumint unsigned", asText, "int", [4]string{"16777215", "0", "1", "NULL"}},
	{"i", "int", asText, "int", [4]string{"2147483647", "-2147483648", "0", "NULL"}},
	{"iu", "int unsigned", asText, "long", [4]string{"4294967295", "0", "1", "NULL"}},
	{"bi", "bigint", asText, "long", [4]string{"9223372036854775807", "-9223372036854775808", "0", "NULL"}},
	{"biu", "bigint unsigned", asText, "bytes.decimal(20,0)", [4]string{"18446744073709551615", "0", "9223372036854775808", "NULL"}},
	{"bo", "bool", asText, "int", [4]string{"127", "-128", "1", "NULL"}},
	{"d10", "decimal(10,2)", asText, "bytes.decimal(10,2)", [4]string{"99999999.99", "-99999999.99", "-0.01", "NULL"}},
	{"d65", "decimal(65,30)", asText, "bytes.decimal(65,30)", [4]string{
		"99999999999999999999999999999999999.999999999999999999999999999999",
		"-99999999999999999999999999999999999.999999999999999999999999999999",
		"-0.000000000000000000000000000001", "NULL"}},
	{"nm", "numeric(20,5) unsigned", asText, "bytes.decimal(20,5)", [4]string{"999999999999999.99999", "0", "0.00001", "NULL"}},
	{"d0", "decimal(18,0)", asText, "bytes.decimal(18,0)", [4]string{"999999999999999999", "-999999999999999999", "-1", "NULL"}},
	{"f", "float", asDouble, "float", [4]string{"3.40282e38", "-1.17549e-38", "0.1", "NULL"}},
	{"dbl", "double", asText, "double", [4]string{"1.7976931348623157e308", "-2.2250738585072014e-308", "0.1", "NULL"}},
	{"rl", "real", asText, "double", [4]string{"-1.5e-300", "4.9e-324", "123456789.125", "NULL"}},
	{"f73", "float(7,3)", asDouble, "float", [4]string{"9999.999", "-9999.999", "0.001", "NULL"}},
	{"b1", "bit(1)", asNumber, "boolean", [4]string{"b'1'", "b'0'", "b'1'", "NULL"}},
	{"b10", "bit(10)", "LPAD(HEX(%[1]s), 4, '0')", "bytes", [4]string{"b'1111111111'", "b'0'", "b'1000000001'", "NULL"}},
	{"b17", "bit(17)", "LPAD(HEX(%[1]s), 6, '0')", "bytes", [4]string{"b'11111111111111111'", "b'0'", "b'10000000000000001'", "NULL"}},
	{"b64", "bit(64)", "LPAD(HEX(%[1]s), 16, '0')", "bytes", [4]string{bits64, "b'0'", "0x8000000000000000", "NULL"}},
	{"dt", "date", asDate, "int.date", [4]string{"'9999-12-31'", "'1000-01-01'", "'1969-12-31'", "NULL"}},
	{"dz", "date NOT NULL", asDate, "int.date", [4]string{"'0000-00-00'", "'1969-07-20'", "'2000-02-29'", "'1970-01-01'"}},
	{"dzn", "date NULL", asDate, "int.date", [4]string{"'0000-00-00'", "'1900-03-01'", "'2024-00-00'", "NULL"}},
	{"dtm", "datetime(6)", asStamp, "long.local-timestamp-micros", [4]string{
		"'9999-12-31 23:59:59.999999'", "'1000-01-01 00:00:00.000000'", "'1969-12-31 23:59:59.999999'", "NULL"}},
	{"dt3", "datetime(3)", asStamp, "long.local-timestamp-micros", [4]string{
		"'2024-02-29 23:59:59.999'", "'1000-01-01 00:00:00'", "'1969-12-31 23:59:59.001'", "NULL"}},
	{"dtz", "datetime NOT NULL", asStamp, "long.local-timestamp-micros", [4]string{
		"'0000-00-00 00:00:00'", "'1969-12-31 23:59:59'", "'2000-02-29 12:34:56'", "'1970-01-01 00:00:00'"}},
	{"ts", "timestamp(6) NULL", asStamp, "long.timestamp-micros", [4]string{
		"'2038-01-19 03:14:07.999999'", "'1970-01-01 00:00:01.000000'", "'2024-02-29 12:00:00.000001'", "NULL"}},
	{"tsz", "timestamp NULL", asStamp, "long.timestamp-micros", [4]string{"'0000-00-00 00:00:00'", "'1970-01-01 00:00:01'", "'2001-09-09 01:46:40'", "NULL"}},
	{"tm", "time(6)", asMicros, "long", [4]string{"'838:59:59'", "'-838:59:59.000000'", "'-00:00:00.500000'", "NULL"}},
	{"tm0", "time", asMicros, "long", [4]string{"'838:59:59'", "'-838:59:59'", "'-00:00:01'", "NULL"}},
	{"tm3", "time(3)", asMicros, "long", [4]string{"'12:34:56.789'", "'-01:00:00.001'", "'00:00:00'", "NULL"}},
	{"y", "year", asNumber, "int", [4]string{"2155", "1901", "0", "NULL"}},
	{"c", "char(10)", asText, "string", [4]string{"'abcdefghij'", "''", "'a😀'", "NULL"}},
	{"vc", "varchar(50)", asText, "string", [4]string{"'héllo 😀🎉 世界'", "''", "'𝄞'", "NULL"}},
	{"vcl", "varchar(20) CHARACTER SET latin1", asText, "string", [4]string{"'héllo €'", "''", "'ÿ'", "NULL"}},
	{"l1", "varchar(255) CHARACTER SET latin1", asText, "string", [4]string{latin1Bytes, "x'80818D8F909D9F'", "'Œuvre'", "NULL"}},
	{"tl1", "tinytext CHARACTER SET latin1", asText, "string", [4]string{latin1Bytes, "''", "'çà'", "NULL"}},
	{"u16", "varchar(20) CHARACTER SET utf16", asText, "string", [4]string{"'a😀é'", "''", "'𝄞'", "NULL"}},
	{"u16l", "varchar(20) CHARACTER SET utf16le", asText, "string", [4]string{"'a😀é'", "''", "'𝄞'", "NULL"}},
	{"u32", "char(5) CHARACTER SET utf32", asText, "string", [4]string{"'a😀é'", "''", "'𝄞 '", "NULL"}},
	{"uc2", "varchar(20) CHARACTER SET ucs2", asText, "string", [4]string{"'ĀāĂ'", "''", "'x'", "NULL"}},
	{"asc", "varchar(20) CHARACTER SET ascii", asText, "string", [4]string{"'~plain ascii!'", "''", "'x'", "NULL"}},
	{"u3", "varchar(20) CHARACTER SET utf8mb3", asText, "string", [4]string{"'ação 日本 Ж'", "''", "'€'", "NULL"}},
	{"el1", "enum('é','ü','ß') CHARACTER SET latin1", asText, "string@io.debezium.data.Enum", [4]string{"'ß'", "'é'", "'ü'", "NULL"}},
	{"c255", "char(255)", asText, "string", [4]string{"REPEAT('😀', 255)", "''", "'x'", "NULL"}},
	{"vc300", "varchar(300)", asText, "string", [4]string{"REPEAT('é', 300)", "''", "'x'", "NULL"}},
	{"tx", "text", asText, "string", [4]string{"REPEAT('lorem ipsum ', 200)", "''", "'tab\\tnewline\\nquote'''", "NULL"}},
	{"mtx", "mediumtext", asText, "string", [4]string{"REPEAT('ab😀', 20000)", "''", "'😀'", "NULL"}},
	{"tt", "tinytext", asText, "string", [4]string{"REPEAT('ü', 127)", "''", "'x'", "NULL"}},
	{"lt", "longtext", asText, "string", [4]string{"REPEAT('long😀', 5000)", "''", "'x'", "NULL"}},
	{"bn", "binary(8)", asHex, "bytes", [4]string{"x'0102000000000000'", "x'0000000000000000'", "x'FFFFFFFFFFFFFFFF'", "NULL"}},
	{"vb", "varbinary(16)", asHex, "bytes", [4]string{"x'00FF00'", "x''", "x'0000'", "NULL"}},
	{"bl", "blob", asHex, "bytes", [4]string{"x'DEADBEEF00'", "x''", "x'00'", "NULL"}},
	{"tb", "tinyblob", asHex, "bytes", [4]string{"REPEAT(x'FF00', 127)", "x''", "x'00'", "NULL"}},
	{"mb", "mediumblob", asHex, "bytes", [4]string{"REPEAT(x'00FF', 40000)", "x''", "x'00'", "NULL"}},
	{"lb", "longblob", asHex, "bytes", [4]string{"REPEAT(x'0102', 1000)", "x''", "x'00'", "NULL"}},
	{"e", "enum('a','b','c d')", asText, "string@io.debezium.data.Enum", [4]string{"'c d'", "'a'", "'b'", "NULL"}},
	{"st", "set('x','y','z')", asText, "string@io.debezium.data.EnumSet", [4]string{"'x,z'", "''", "'x,y,z'", "NULL"}},
	{"st10", "set('a','b','c','d','e','f','g','h','i','j')", asText, "string@io.debezium.data.EnumSet", [4]string{
		"'a,j'", "''", "'b,c,d,e,f,g,h,i'", "NULL"}},
	{"eq", `enum('it''s','x,y','','a\\b','new\nline')`, asText, "string@io.debezium.data.Enum", [4]string{`'a\\b'`, "'it''s'", `'new\nline'`, "NULL"}},
	{"sq", `set('a\\b','c''d','e\rf')`, asText, "string@io.debezium.data.EnumSet", [4]string{`'a\\b,c''d,e\rf'`, "''", `'e\rf'`, "NULL"}},
	{"j", "json", asText, "string@io.debezium.data.Json", [4]string{`'{"a": [1, 2.5, "😀"], "b": null}'`, "'[]'", "'null'", "NULL"}},
	{"u", "uuid", asText, "string.uuid", [4]string{"'123e4567-e89b-12d3-a456-426614174000'",
		"'00000000-0000-0000-0000-000000000000'", "'01890A5D-AC96-774B-BCCE-B302099A8057'", "NULL"}},
	{"i6", "inet6", asText, "string", [4]string{"'2001:db8:0:1:1:1:1:1'", "'::'", "'::ffff:1.2.3.4'", "NULL"}},
	{"i6b", "inet6", asText, "string", [4]string{"'::1.2.3.4'", "'2001:db8::'", "'1:0:0:2:0:0:0:3'", "NULL"}},
	{"i4", "inet4", asText, "string", [4]string{"'255.255.255.255'", "'0.0.0.0'", "'192.168.0.0'", "NULL"}},
	{"gv", "int AS (`i` DIV 2) VIRTUAL", asText, "int", [4]string{"DEFAULT", "DEFAULT", "DEFAULT", "DEFAULT"}},
	{"gs", "varchar(30) AS (CONCAT(`vc`, '!')) STORED", asText, "string", [4]string{"DEFAULT", "DEFAULT", "DEFAULT", "DEFAULT"}},
	{"inv", "int INVISIBLE", asText, "int", [4]string{"1", "-1", "0", "NULL"}},
	{"g", "point", asWKB, "bytes", [4]string{"POINT(1.5, -2.25)", "POINT(0, 0)", "ST_PointFromText('POINT(-180 90)', 4326)", "NULL"}},
	{"geo", "geometry", asWKB, "bytes", [4]string{"ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0)')",
		"ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))')", "POINT(3, 4)", "NULL"}},
}

// TestTypesRoundTrip checks that every column type round-trips through the
// snapshot (op r) and the binlog (op c): the value a generic Avro reader
// decodes must equal what the database holds, and the registered schema
// must carry the SPEC §4 type and "fluxo.type" of every column.
func TestTypesRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.exec(typesDDL())
	c := e.typesConn()
	insertTypeRows(t, c, 1) // snapshot rows 1..4
	s := e.startStream(e.config(""))
	topic := "fx." + e.dbName + ".types"
	e.consume(topic, len(typeRows), 30*time.Second) // snapshot done
	insertTypeRows(t, c, 101)                       // binlog rows 101..104
	recs := e.consumeRaw(topic, 2*len(typeRows), 30*time.Second)
	if err := s.stop(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	want := typeTexts(t, c)
	colTypes := typesColumnTypes(t, c)
	ids := map[uint32]bool{}
	seen := map[int]bool{}
	for _, r := range recs {
		ids[binary.BigEndian.Uint32(r.Value[1:5])] = true
		v := e.decode(r.Value)
		id := e.decode(r.Key)["id"].(int)
		seen[id] = true
		checkTypeRecord(t, id, v, want[id])
	}
	if len(seen) != 2*len(typeRows) {
		t.Errorf("got records for ids %v, want %d distinct ids", seen, 2*len(typeRows))
	}
	if len(ids) != 1 {
		t.Errorf("snapshot and binlog records use value schema ids %v, want one schema", ids)
	}
	for id := range ids {
		t.Run(fmt.Sprintf("schema%d", id), func(t *testing.T) { checkValueSchema(t, e.regURL, int(id), colTypes) })
	}
}

func typesDDL() string {
	defs := []string{"id int PRIMARY KEY"}
	for _, c := range typeCols {
		defs = append(defs, "`"+c.name+"` "+c.def)
	}
	return "CREATE TABLE types (" + strings.Join(defs, ", ") + ") CHARACTER SET utf8mb4"
}

// typesConn is a connection whose session allows zero dates and reads
// timestamps in UTC.
func (e *env) typesConn() *client.Conn {
	e.t.Helper()
	c := e.conn()
	for _, q := range []string{"SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'", "SET time_zone = '+00:00'"} {
		if _, err := c.Execute(q); err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
	}
	return c
}

// insertTypeRows inserts the rows of typeRows with ids first, first+1, ...
func insertTypeRows(t *testing.T, c *client.Conn, first int) {
	t.Helper()
	names := []string{"id"}
	for _, col := range typeCols {
		names = append(names, "`"+col.name+"`")
	}
	for i := range typeRows {
		vals := []string{strconv.Itoa(first + i)}
		for _, col := range typeCols {
			vals = append(vals, col.vals[i])
		}
		q := fmt.Sprintf("INSERT INTO types (%s) VALUES (%s)", strings.Join(names, ", "), strings.Join(vals, ", "))
		if _, err := c.Execute(q); err != nil {
			t.Fatalf("insert row %s: %v", typeRows[i], err)
		}
	}
}

// sqlNull stands for SQL NULL and for a null Avro value in comparisons.
const sqlNull = "\x00NULL"

// typeTexts reads every row's canonical texts from the database, by id,
// in typeCols order.
func typeTexts(t *testing.T, c *client.Conn) map[int][]string {
	t.Helper()
	exprs := []string{"id"}
	for _, col := range typeCols {
		exprs = append(exprs, "CAST("+fmt.Sprintf(col.expr, "`"+col.name+"`")+" AS CHAR)")
	}
	r, err := c.Execute("SELECT " + strings.Join(exprs, ", ") + " FROM types")
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	defer r.Close()
	out := map[int][]string{}
	for i, row := range r.Values {
		id, _ := r.GetInt(i, 0)
		texts := make([]string, len(typeCols))
		for j := range typeCols {
			texts[j] = sqlNull
			if row[j+1].Type != gomysql.FieldValueTypeNull {
				texts[j] = string(row[j+1].AsString())
			}
		}
		out[int(id)] = texts
	}
	return out
}

// checkTypeRecord compares one record's after image with the database.
func checkTypeRecord(t *testing.T, id int, v map[string]any, want []string) {
	path, wantOp := "snapshot", "r"
	if id > 100 {
		path, wantOp = "binlog", "c"
	}
	t.Run(fmt.Sprintf("%s/%s", path, typeRows[(id-1)%100]), func(t *testing.T) {
		if v["op"] != wantOp {
			t.Errorf("op = %v, want %s", v["op"], wantOp)
		}
		after := rowOf(v["after"])
		if after == nil || want == nil {
			t.Fatalf("after = %v, database row = %v", v["after"], want)
		}
		for j, col := range typeCols {
			t.Run(col.name, func(t *testing.T) {
				v := unwrapBranch(after[col.name])
				got, exp := avroText(v, col.avro), expectedText(col, want[j])
				if got != exp {
					t.Errorf("decoded %s, database holds %s (%s)", clipText(got), clipText(exp), clipText(want[j]))
				}
				if gt, wt := fmt.Sprintf("%T", v), avroGoTypes[avroBase(col.avro)]; v != nil && gt != wt {
					t.Errorf("decoded a %s, want a %s for Avro %s", gt, wt, col.avro)
				}
			})
		}
	})
}

// expectedText turns the database's text into the text the decoded value must
// render to: floats and decimals in canonical form, and zero dates as the
// documented fallback (null when nullable, else the epoch).
func expectedText(col typeCol, db string) string {
	if db == sqlNull {
		return sqlNull
	}
	switch avroBase(col.avro) {
	case "float", "double":
		f, err := strconv.ParseFloat(db, 64)
		if err != nil {
			return "unparsable " + db
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	case "bytes.decimal":
		r, ok := new(big.Rat).SetString(db)
		if !ok {
			return "unparsable " + db
		}
		return r.RatString()
	case "int.date", "long.local-timestamp-micros", "long.timestamp-micros":
		if strings.HasPrefix(db, "0000-") || strings.Contains(db[:min(len(db), 10)], "-00") {
			if !strings.Contains(col.def, "NOT NULL") {
				return sqlNull
			}
			return "1970-01-01 00:00:00.000000"[:len(db)]
		}
	}
	return db
}

// unwrapBranch unwraps the one-entry map hamba decodes a union branch into
// when it has no Go type registered for the branch (local-timestamp-micros).
func unwrapBranch(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, x := range m {
			if !strings.Contains(k, ".Value") {
				return x
			}
		}
	}
	return v
}

// avroGoTypes is the Go type a generic hamba reader decodes each Avro type to.
var avroGoTypes = map[string]string{
	"int": "int", "long": "int64", "bytes.decimal": "*big.Rat", "float": "float32", "double": "float64",
	"boolean": "bool", "bytes": "[]uint8", "string": "string", "string.uuid": "string", "int.date": "time.Time",
	"long.local-timestamp-micros": "time.Time", "long.timestamp-micros": "time.Time",
}

// avroText renders a decoded nullable field as canonical text; avro is the
// column's Avro type, which tells a date from a timestamp.
func avroText(v any, avro string) string {
	switch x := v.(type) {
	case nil:
		return sqlNull
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 64)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return map[bool]string{true: "1", false: "0"}[x]
	case *big.Rat:
		return x.RatString()
	case []byte:
		return strings.ToUpper(hex.EncodeToString(x))
	case string:
		return x
	case time.Time:
		return avroTimeText(x, avroBase(avro))
	}
	return fmt.Sprintf("unexpected %T", v)
}

// avroTimeText renders a date as YYYY-MM-DD and a timestamp with microseconds;
// hamba hands local-timestamp-micros over as the wall clock in time.Local.
func avroTimeText(t time.Time, avro string) string {
	switch avro {
	case "int.date":
		return t.UTC().Format(time.DateOnly)
	case "long.timestamp-micros":
		t = t.UTC()
	}
	return t.Format("2006-01-02 15:04:05.000000")
}

// avroBase drops the precision and connect.name of an avro description.
func avroBase(avro string) string {
	avro, _, _ = strings.Cut(avro, "@")
	avro, _, _ = strings.Cut(avro, "(")
	return avro
}

// clipText quotes s, shortened for messages.
func clipText(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s...(%d bytes)", s[:80], len(s))
	}
	return strconv.Quote(s)
}
