package mysql

import (
	"encoding/hex"
	"strings"
)

// The column types of the full-load type test: the same table as the
// stream's round-trip test (app/types_test.go), so that the full load is
// held to the same values. Each column has its definition, a SQL expression
// that renders a value as canonical text (%[1]s is the column), the Avro
// type SPEC §4 maps it to, and one SQL literal per row of dumpTypeRows.
type dumpTypeCol struct {
	name string
	def  string
	expr string
	avro string // type[.logicalType][(precision,scale)][@connect.name]
	vals [4]string
}

// dumpTypeRows names the rows; row i holds vals[i] of every column.
var dumpTypeRows = [4]string{"max", "min", "misc", "nulls"}

// Canonical-text expressions.
const (
	tText   = "%[1]s"
	tNumber = "%[1]s+0"
	tHex    = "HEX(%[1]s)"
	tDate   = "DATE_FORMAT(%[1]s, '%%Y-%%m-%%d')"
	tStamp  = "DATE_FORMAT(%[1]s, '%%Y-%%m-%%d %%H:%%i:%%s.%%f')"
	tWKB    = "HEX(ST_AsWKB(%[1]s))"
	tDouble = "CAST(%[1]s AS DOUBLE)"
	// TIME as signed microseconds; MICROSECOND() is unsigned, so the sign
	// comes from the text.
	tMicros = "IF(LEFT(CAST(%[1]s AS CHAR), 1) = '-', -1, 1) * (ABS(TIME_TO_SEC(%[1]s)) DIV 1 * 1000000 + MICROSECOND(%[1]s))"
)

var tBits64 = "b'" + strings.Repeat("1", 64) + "'"

// tLatin1Bytes is every latin1 byte from 0x01 to 0xFF, as a hex literal.
var tLatin1Bytes = func() string {
	b := make([]byte, 255)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return "x'" + hex.EncodeToString(b) + "'"
}()

var dumpTypeCols = []dumpTypeCol{
	{"ti", "tinyint", tText, "int", [4]string{"127", "-128", "0", "NULL"}},
	{"tiu", "tinyint unsigned", tText, "int", [4]string{"255", "0", "1", "NULL"}},
	{"si", "smallint", tText, "int", [4]string{"32767", "-32768", "0", "NULL"}},
	{"siu", "smallint unsigned", tText, "int", [4]string{"65535", "0", "1", "NULL"}},
	{"mi", "mediumint", tText, "int", [4]string{"8388607", "-8388608", "0", "NULL"}},
	{"miu", "mediumint unsigned", tText, "int", [4]string{"16777215", "0", "1", "NULL"}},
	{"i", "int", tText, "int", [4]string{"2147483647", "-2147483648", "0", "NULL"}},
	{"iu", "int unsigned", tText, "long", [4]string{"4294967295", "0", "1", "NULL"}},
	{"bi", "bigint", tText, "long", [4]string{"9223372036854775807", "-9223372036854775808", "0", "NULL"}},
	{"biu", "bigint unsigned", tText, "bytes.decimal(20,0)", [4]string{"18446744073709551615", "0", "9223372036854775808", "NULL"}},
	{"bo", "bool", tText, "int", [4]string{"127", "-128", "1", "NULL"}},
	{"d10", "decimal(10,2)", tText, "bytes.decimal(10,2)", [4]string{"99999999.99", "-99999999.99", "-0.01", "NULL"}},
	{"d65", "decimal(65,30)", tText, "bytes.decimal(65,30)", [4]string{
		"99999999999999999999999999999999999.999999999999999999999999999999",
		"-99999999999999999999999999999999999.999999999999999999999999999999",
		"-0.000000000000000000000000000001", "NULL"}},
	{"nm", "numeric(20,5) unsigned", tText, "bytes.decimal(20,5)", [4]string{"999999999999999.99999", "0", "0.00001", "NULL"}},
	{"d0", "decimal(18,0)", tText, "bytes.decimal(18,0)", [4]string{"999999999999999999", "-999999999999999999", "-1", "NULL"}},
	{"f", "float", tDouble, "float", [4]string{"3.40282e38", "-1.17549e-38", "0.1", "NULL"}},
	{"dbl", "double", tText, "double", [4]string{"1.7976931348623157e308", "-2.2250738585072014e-308", "0.1", "NULL"}},
	{"rl", "real", tText, "double", [4]string{"-1.5e-300", "4.9e-324", "123456789.125", "NULL"}},
	{"f73", "float(7,3)", tDouble, "float", [4]string{"9999.999", "-9999.999", "0.001", "NULL"}},
	{"b1", "bit(1)", tNumber, "boolean", [4]string{"b'1'", "b'0'", "b'1'", "NULL"}},
	{"b10", "bit(10)", "LPAD(HEX(%[1]s), 4, '0')", "bytes", [4]string{"b'1111111111'", "b'0'", "b'1000000001'", "NULL"}},
	{"b17", "bit(17)", "LPAD(HEX(%[1]s), 6, '0')", "bytes", [4]string{"b'11111111111111111'", "b'0'", "b'10000000000000001'", "NULL"}},
	{"b64", "bit(64)", "LPAD(HEX(%[1]s), 16, '0')", "bytes", [4]string{tBits64, "b'0'", "0x8000000000000000", "NULL"}},
	{"dt", "date", tDate, "int.date", [4]string{"'9999-12-31'", "'1000-01-01'", "'1969-12-31'", "NULL"}},
	{"dz", "date NOT NULL", tDate, "int.date", [4]string{"'0000-00-00'", "'1969-07-20'", "'2000-02-29'", "'1970-01-01'"}},
	{"dzn", "date NULL", tDate, "int.date", [4]string{"'0000-00-00'", "'1900-03-01'", "'2024-00-00'", "NULL"}},
	{"dtm", "datetime(6)", tStamp, "long.local-timestamp-micros", [4]string{
		"'9999-12-31 23:59:59.999999'", "'1000-01-01 00:00:00.000000'", "'1969-12-31 23:59:59.999999'", "NULL"}},
	{"dt3", "datetime(3)", tStamp, "long.local-timestamp-micros", [4]string{
		"'2024-02-29 23:59:59.999'", "'1000-01-01 00:00:00'", "'1969-12-31 23:59:59.001'", "NULL"}},
	{"dtz", "datetime NOT NULL", tStamp, "long.local-timestamp-micros", [4]string{
		"'0000-00-00 00:00:00'", "'1969-12-31 23:59:59'", "'2000-02-29 12:34:56'", "'1970-01-01 00:00:00'"}},
	{"ts", "timestamp(6) NULL", tStamp, "long.timestamp-micros", [4]string{
		"'2038-01-19 03:14:07.999999'", "'1970-01-01 00:00:01.000000'", "'2024-02-29 12:00:00.000001'", "NULL"}},
	{"tsz", "timestamp NULL", tStamp, "long.timestamp-micros", [4]string{"'0000-00-00 00:00:00'", "'1970-01-01 00:00:01'", "'2001-09-09 01:46:40'", "NULL"}},
	{"tm", "time(6)", tMicros, "long", [4]string{"'838:59:59'", "'-838:59:59.000000'", "'-00:00:00.500000'", "NULL"}},
	{"tm0", "time", tMicros, "long", [4]string{"'838:59:59'", "'-838:59:59'", "'-00:00:01'", "NULL"}},
	{"tm3", "time(3)", tMicros, "long", [4]string{"'12:34:56.789'", "'-01:00:00.001'", "'00:00:00'", "NULL"}},
	{"y", "year", tNumber, "int", [4]string{"2155", "1901", "0", "NULL"}},
	{"c", "char(10)", tText, "string", [4]string{"'abcdefghij'", "''", "'a😀'", "NULL"}},
	{"vc", "varchar(50)", tText, "string", [4]string{"'héllo 😀🎉 世界'", "''", "'𝄞'", "NULL"}},
	{"vcl", "varchar(20) CHARACTER SET latin1", tText, "string", [4]string{"'héllo €'", "''", "'ÿ'", "NULL"}},
	{"l1", "varchar(255) CHARACTER SET latin1", tText, "string", [4]string{tLatin1Bytes, "x'80818D8F909D9F'", "'Œuvre'", "NULL"}},
	{"tl1", "tinytext CHARACTER SET latin1", tText, "string", [4]string{tLatin1Bytes, "''", "'çà'", "NULL"}},
	{"u16", "varchar(20) CHARACTER SET utf16", tText, "string", [4]string{"'a😀é'", "''", "'𝄞'", "NULL"}},
	{"u16l", "varchar(20) CHARACTER SET utf16le", tText, "string", [4]string{"'a😀é'", "''", "'𝄞'", "NULL"}},
	{"u32", "char(5) CHARACTER SET utf32", tText, "string", [4]string{"'a😀é'", "''", "'𝄞 '", "NULL"}},
	{"uc2", "varchar(20) CHARACTER SET ucs2", tText, "string", [4]string{"'ĀāĂ'", "''", "'x'", "NULL"}},
	{"el1", "enum('é','ü','ß') CHARACTER SET latin1", tText, "string@io.debezium.data.Enum", [4]string{"'ß'", "'é'", "'ü'", "NULL"}},
	{"c255", "char(255)", tText, "string", [4]string{"REPEAT('😀', 255)", "''", "'x'", "NULL"}},
	{"vc300", "varchar(300)", tText, "string", [4]string{"REPEAT('é', 300)", "''", "'x'", "NULL"}},
	{"tx", "text", tText, "string", [4]string{"REPEAT('lorem ipsum ', 200)", "''", "'tab\\tnewline\\nquote'''", "NULL"}},
	{"mtx", "mediumtext", tText, "string", [4]string{"REPEAT('ab😀', 20000)", "''", "'😀'", "NULL"}},
	{"tt", "tinytext", tText, "string", [4]string{"REPEAT('ü', 127)", "''", "'x'", "NULL"}},
	{"lt", "longtext", tText, "string", [4]string{"REPEAT('long😀', 5000)", "''", "'x'", "NULL"}},
	{"bn", "binary(8)", tHex, "bytes", [4]string{"x'0102000000000000'", "x'0000000000000000'", "x'FFFFFFFFFFFFFFFF'", "NULL"}},
	{"vb", "varbinary(16)", tHex, "bytes", [4]string{"x'00FF00'", "x''", "x'0000'", "NULL"}},
	{"bl", "blob", tHex, "bytes", [4]string{"x'DEADBEEF00'", "x''", "x'00'", "NULL"}},
	{"tb", "tinyblob", tHex, "bytes", [4]string{"REPEAT(x'FF00', 127)", "x''", "x'00'", "NULL"}},
	{"mb", "mediumblob", tHex, "bytes", [4]string{"REPEAT(x'00FF', 40000)", "x''", "x'00'", "NULL"}},
	{"lb", "longblob", tHex, "bytes", [4]string{"REPEAT(x'0102', 1000)", "x''", "x'00'", "NULL"}},
	{"e", "enum('a','b','c d')", tText, "string@io.debezium.data.Enum", [4]string{"'c d'", "'a'", "'b'", "NULL"}},
	{"st", "set('x','y','z')", tText, "string@io.debezium.data.EnumSet", [4]string{"'x,z'", "''", "'x,y,z'", "NULL"}},
	{"st10", "set('a','b','c','d','e','f','g','h','i','j')", tText, "string@io.debezium.data.EnumSet", [4]string{
		"'a,j'", "''", "'b,c,d,e,f,g,h,i'", "NULL"}},
	{"eq", `enum('it''s','x,y','','a\\b','new\nline')`, tText, "string@io.debezium.data.Enum", [4]string{`'a\\b'`, "'it''s'", `'new\nline'`, "NULL"}},
	{"sq", `set('a\\b','c''d','e\rf')`, tText, "string@io.debezium.data.EnumSet", [4]string{`'a\\b,c''d,e\rf'`, "''", `'e\rf'`, "NULL"}},
	{"j", "json", tText, "string@io.debezium.data.Json", [4]string{`'{"a": [1, 2.5, "😀"], "b": null}'`, "'[]'", "'null'", "NULL"}},
	{"u", "uuid", tText, "string.uuid", [4]string{"'123e4567-e89b-12d3-a456-426614174000'",
		"'00000000-0000-0000-0000-000000000000'", "'01890A5D-AC96-774B-BCCE-B302099A8057'", "NULL"}},
	{"i6", "inet6", tText, "string", [4]string{"'2001:db8:0:1:1:1:1:1'", "'::'", "'::ffff:1.2.3.4'", "NULL"}},
	{"i6b", "inet6", tText, "string", [4]string{"'::1.2.3.4'", "'2001:db8::'", "'1:0:0:2:0:0:0:3'", "NULL"}},
	{"i4", "inet4", tText, "string", [4]string{"'255.255.255.255'", "'0.0.0.0'", "'192.168.0.0'", "NULL"}},
	{"gv", "int AS (`i` DIV 2) VIRTUAL", tText, "int", [4]string{"DEFAULT", "DEFAULT", "DEFAULT", "DEFAULT"}},
	{"gs", "varchar(30) AS (CONCAT(`vc`, '!')) STORED", tText, "string", [4]string{"DEFAULT", "DEFAULT", "DEFAULT", "DEFAULT"}},
	{"inv", "int INVISIBLE", tText, "int", [4]string{"1", "-1", "0", "NULL"}},
	{"g", "point", tWKB, "bytes", [4]string{"POINT(1.5, -2.25)", "POINT(0, 0)", "ST_PointFromText('POINT(-180 90)', 4326)", "NULL"}},
	{"geo", "geometry", tWKB, "bytes", [4]string{"ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0)')",
		"ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))')", "POINT(3, 4)", "NULL"}},
}
