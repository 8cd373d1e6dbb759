package e2e

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pgTypeCol is one column of the PostgreSQL types table: its declaration,
// the Avro type SPEC §4 maps it to, and one SQL literal per row (rows past
// the end of vals hold NULL; the last row is NULL in every column).
type pgTypeCol struct {
	name string
	def  string
	avro string // type[.logicalType][(precision,scale)][@connect.name]; arrays array<items>
	vals []string
}

// pgTypesSetup creates the user-defined types the columns use.
const pgTypesSetup = `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'très "bien", n''est-ce pas');
CREATE DOMAIN price AS numeric(10,2)`

var pgTypeCols = []pgTypeCol{
	{"i2", "int2", "int", []string{"32767", "-32768", "0", "1", "-1"}},
	{"i4", "int4", "int", []string{"2147483647", "-2147483648", "0", "1", "-1"}},
	{"i8", "int8", "long", []string{"9223372036854775807", "-9223372036854775808", "0", "1", "-1"}},
	{"n38", "numeric(38,10)", "bytes.decimal(38,10)", []string{"9999999999999999999999999999.9999999999",
		"-9999999999999999999999999999.9999999999", "0", "0.0000000001", "-1234567890123456789.0123456789", "1.5"}},
	{"n65", "numeric(65,30)", "bytes.decimal(65,30)", []string{
		"99999999999999999999999999999999999.999999999999999999999999999999",
		"-99999999999999999999999999999999999.999999999999999999999999999999",
		"-0.000000000000000000000000000001", "0", "12345678901234567890.123456789012345678901234567890"}},
	// NaN has no decimal: null in a nullable column.
	{"n10", "numeric(10,2)", "bytes.decimal(10,2)", []string{"99999999.99", "-99999999.99", "'NaN'", "0.005", "-0.01", "0"}},
	{"nfree", "numeric", "string", []string{"'12345678901234567890123456789012345678901234567890'",
		"'-0.00000000000000000000000000000000000000000000000001'", "'NaN'", "'Infinity'", "'-Infinity'", "'-1.50'"}},
	{"mny", "money", "bytes.decimal(19,2)", []string{"'92233720368547758.07'", "'-92233720368547758.08'",
		"'-1234.56'", "0", "0.01", "-0.01"}},
	{"f4", "float4", "float", []string{"'3.4028235e38'", "'1e-45'", "'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "0.1"}},
	{"f8", "float8", "double", []string{"'1.7976931348623157e308'", "'5e-324'", "'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "0.1"}},
	{"bo", "bool", "boolean", []string{"true", "false", "true", "false"}},
	{"b1", "bit(1)", "boolean", []string{"B'1'", "B'0'", "B'1'", "B'0'"}},
	{"b10", "bit(10)", "bytes", []string{"B'1111111111'", "B'0000000000'", "B'1000000001'", "B'0000000001'", "B'1000000000'", "B'0101010101'"}},
	{"vb", "varbit", "string", []string{"B''", "B'1'", "B'0001'", "B'1010101010101010101'", "B'0'"}},
	{"by", "bytea", "bytes", []string{`'\x0000'`, "''", `'\x00ff00'`, "decode(repeat('00ff', 1000), 'hex')", `'\xdeadbeef00'`, "'abc'::bytea"}},
	{"c5", "char(5)", "string", []string{"'ab'", "'😀'", "'𝄞😀abc'", "''", "'abcde'", "' x'"}},
	{"vc", "varchar(20)", "string", []string{"'héllo 😀🎉 世界'", "''", "'𝄞'", `E'tab\there\nnew line'`,
		`'it''s "quoted" \ back'`, "'NULL'"}},
	{"tx", "text", "string", []string{"'lorem 😀 ipsum'", "''", "repeat('ab😀', 3000)", `E'\r\n\u0001'`, `'{"a,b"}'`}},
	{"en", "mood", "string@io.debezium.data.Enum", []string{"'sad'", "'ok'", "'happy'", `'très "bien", n''est-ce pas'`}},
	{"js", "json", "string@io.debezium.data.Json", []string{`'{"a": [1, 2.50, "😀"], "b": null}'`, "'[]'", "'null'",
		`'"str"'`, `'{"k":1,"k":2}'`, `'  {"x" : 1e3}  '`}},
	{"jb", "jsonb", "string@io.debezium.data.Json", []string{`'{"a": [1, 2.50, "😀"], "b": null}'`, "'[]'", "'null'",
		`'"str"'`, `'{"k":1,"k":2}'`, `'  {"x" : 1e3}  '`}},
	{"uu", "uuid", "string.uuid@io.debezium.data.Uuid", []string{"'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'",
		"'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "'{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a12}'"}},
	{"iv", "interval", "string@io.debezium.time.Interval", []string{"'1 year 2 mons 3 days 04:05:06.789'", "'-1 day'", "'0'",
		"'178000000 years'", "'-00:00:00.000001'", "'1 mon -1 day 2 hours'"}},
	{"ine", "inet", "string", []string{"'192.168.0.1/24'", "'::1'", "'2001:db8::ff00:42:8329'", "'10.0.0.1'", "'::ffff:1.2.3.4/128'"}},
	{"ci", "cidr", "string", []string{"'10.0.0.0/8'", "'2001:db8::/32'", "'192.168.1'", "'0.0.0.0/0'"}},
	{"mac", "macaddr", "string", []string{"'08:00:2b:01:02:03'", "'FF:FF:FF:FF:FF:FF'", "'0800.2b01.0203'"}},
	{"ttz", "timetz", "string", []string{"'12:00+05:30'", "'24:00:00-15:59'", "'00:00:00.000001+00'", "'23:59:59.999999-03'"}},
	{"r4", "int4range", "string", []string{"'[1,5)'", "'empty'", "'(,)'", "'(1,2]'", "'[-2147483648,2147483647)'"}},
	{"rtz", "tstzrange", "string", []string{"'[2024-01-01,infinity)'", "'[2024-01-01 10:00+05,2024-01-02)'", "'empty'", "'(,)'"}},
	{"x", "xml", "string@io.debezium.data.Xml", []string{`'<a x="1">t</a>'`, "'<r>😀 &amp; &lt;</r>'", "'plain text'",
		`'<?xml version="1.0"?><r/>'`}},
	// infinity has no Avro date: null in a nullable column.
	{"d", "date", "int.date", []string{"'2024-02-29'", "'0044-03-15 BC'", "'4714-11-24 BC'", "'5874897-12-31'",
		"'infinity'", "'-infinity'", "'1969-12-31'"}},
	{"t", "time", "long.time-micros", []string{"'24:00:00'", "'00:00:00'", "'23:59:59.999999'", "'12:34:56.5'", "'00:00:00.000001'"}},
	{"ts", "timestamp(6)", "long.local-timestamp-micros", []string{"'2024-01-02 03:04:05.123456'", "'1969-12-31 23:59:59.999999'",
		"'0044-03-15 12:00:00.5 BC'", "'294247-01-10 04:00:54.775807'", "'infinity'", "'-infinity'", "'4714-11-24 00:00:00 BC'"}},
	{"tz", "timestamptz", "long.timestamp-micros", []string{"'2024-01-02 03:04:05.123456+05:30'", "'1800-01-01 00:00:00+00'",
		"'0044-03-15 12:00:00.5+00 BC'", "'294247-01-10 04:00:54.775807+00'", "'infinity'", "'-infinity'", "'4714-11-24 00:00:00+00 BC'"}},
	{"ai", "int4[]", "array<int>", []string{"'{1,2,NULL,3}'", "'{}'", "'[0:1]={7,8}'", "'{-2147483648,2147483647}'", "'{NULL}'"}},
	{"at", "text[]", "array<string>", []string{`ARRAY['a,b', 'NULL', NULL, 'x"y\z', '  sp ', '', '{}', 'emoji 😀', 'a b']`,
		"'{}'", `'{"quoted \"x\"",plain,"back\\slash"}'`, "ARRAY[NULL]::text[]"}},
	{"an", "numeric(10,2)[]", "array<bytes.decimal(10,2)>", []string{"'{1.5,NULL,-2.25,99999999.99}'", "'{NaN,0.01}'", "'{}'"}},
	{"ad", "date[]", "array<int.date>", []string{"'{2024-01-01,NULL,0044-03-15 BC,infinity,-infinity}'", "'{}'"}},
	{"pr", "price", "bytes.decimal(10,2)", []string{"12.34", "-99999999.99", "0", "0.01"}},
}

// pgTypeRows is the number of rows of the types table: as many as the
// longest vals, plus one NULL in every column.
var pgTypeRows = func() int {
	n := 0
	for _, c := range pgTypeCols {
		n = max(n, len(c.vals))
	}
	return n + 1
}()

// pgFallbackCols are NOT NULL columns whose infinities take the documented
// fallbacks (README: 9999-12-31 23:59:59.999999 and 0001-01-01).
var pgFallbackCols = []pgTypeCol{
	{"d", "date NOT NULL", "int.date", []string{"'infinity'", "'-infinity'"}},
	{"ts", "timestamp NOT NULL", "long.local-timestamp-micros", []string{"'infinity'", "'-infinity'"}},
	{"tz", "timestamptz NOT NULL", "long.timestamp-micros", []string{"'infinity'", "'-infinity'"}},
}

// pgCanonical sets the session like fluxo's (TimeZone UTC, ISO dates, ISO
// 8601 intervals, hex bytea, round-trip floats): the text forms SPEC §4 and
// the README promise for the types kept as text.
const pgCanonical = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; " +
	"SET bytea_output = 'hex'; SET extra_float_digits = 3"

// TestPGTypesRoundTrip checks every PostgreSQL type of SPEC §4 through the
// snapshot (op r) and pgoutput (op c): what a generic Avro reader decodes
// must equal what the database computes for the same cell, and the
// registered schema must carry the SPEC §4 type, "fluxo.type" and
// "connect.name" of every column. It also checks the NOT NULL infinity
// fallbacks and unchanged TOASTed values in updates.
func TestPGTypesRoundTrip(t *testing.T) {
	t.Run("utf8", func(t *testing.T) { testPGTypesRoundTrip(t, newPGEnv(t), pgTypeCols) })
	t.Run("latin1", func(t *testing.T) { testPGTypesRoundTrip(t, newPGEnvEncoding(t, "LATIN1"), latin1Cols(pgTypeCols)) })
}

func testPGTypesRoundTrip(t *testing.T, e *env, pgTypeCols []pgTypeCol) {
	e.exec(pgTypesSetup)
	e.exec(pgTypesDDL("types", pgTypeCols))
	e.exec(pgTypesDDL("types_nn", pgFallbackCols))
	e.exec(pgToastSetup)
	e.exec(pgInsertRows("types", pgTypeCols, 1, pgTypeRows))
	e.exec(pgInsertRows("types_nn", pgFallbackCols, 1, 2))
	s := e.startStreamReady(e.config(""))
	e.exec(pgInsertRows("types", pgTypeCols, 101, pgTypeRows))
	e.exec(pgInsertRows("types_nn", pgFallbackCols, 101, 2))
	toast := runToastChanges(e)
	recs := e.consumeRaw(e.topic("types"), 2*pgTypeRows, 30*time.Second)
	nn := e.consumeRaw(e.topic("types_nn"), 4, 30*time.Second)
	toastDefault := e.consume(e.topic("toast_default"), 4, 30*time.Second)
	toastFull := e.consume(e.topic("toast_full"), 3, 30*time.Second)
	if err := s.stop(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	conn := e.pgConn()
	if _, err := conn.Exec(context.Background(), pgCanonical); err != nil {
		t.Fatal(err)
	}
	t.Run("values", func(t *testing.T) { e.checkPGTypeRecords(t, conn, "types", pgTypeCols, recs, pgTypeRows) })
	t.Run("fallbacks", func(t *testing.T) { e.checkPGTypeRecords(t, conn, "types_nn", pgFallbackCols, nn, 2) })
	t.Run("schema", func(t *testing.T) { e.checkPGSchemas(t, conn, "types", pgTypeCols, recs) })
	t.Run("schema_fallbacks", func(t *testing.T) { e.checkPGSchemas(t, conn, "types_nn", pgFallbackCols, nn) })
	t.Run("toast", func(t *testing.T) { checkToast(t, toast, toastDefault, toastFull) })
}

// latin1Cols returns cols with every character that LATIN1 lacks (emoji,
// CJK, ...) in their values replaced by one it has, so that the same type
// round trip runs in a LATIN1 database.
func latin1Cols(cols []pgTypeCol) []pgTypeCol {
	repl := []rune("çÃüßÿ")
	out := make([]pgTypeCol, len(cols))
	for i, c := range cols {
		c.vals = slices.Clone(c.vals)
		for j, v := range c.vals {
			k := 0
			c.vals[j] = strings.Map(func(r rune) rune {
				if r <= 0xFF {
					return r
				}
				k++
				return repl[k%len(repl)]
			}, v)
		}
		out[i] = c
	}
	return out
}

// pgTypesDDL creates table name with id int4 and cols.
func pgTypesDDL(name string, cols []pgTypeCol) string {
	defs := []string{"id int4 PRIMARY KEY"}
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.def)
	}
	return "CREATE TABLE " + name + " (" + strings.Join(defs, ", ") + ")"
}

// pgInsertRows returns the statements inserting rows ids first to
// first+n-1: row i holds vals[i] of every column, NULL past the end.
func pgInsertRows(table string, cols []pgTypeCol, first, n int) string {
	names := []string{"id"}
	for _, c := range cols {
		names = append(names, c.name)
	}
	var stmts []string
	for i := range n {
		vals := []string{strconv.Itoa(first + i)}
		for _, c := range cols {
			v := "NULL"
			if i < len(c.vals) {
				v = c.vals[i]
			}
			vals = append(vals, v)
		}
		stmts = append(stmts, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(names, ", "), strings.Join(vals, ", ")))
	}
	return strings.Join(stmts, ";\n")
}

// pgWantSQL returns SQL computing, from x (a value of a column declared def
// and mapped to avro), the canonical text that pgAvroText must render the
// decoded value to; null when the value must be null.
func pgWantSQL(avro, def, x string) string {
	bit := strings.HasPrefix(def, "bit(")
	switch base := avroBase(avro); {
	case strings.HasPrefix(avro, "array<"):
		item := strings.TrimSuffix(strings.TrimPrefix(avro, "array<"), ">")
		return fmt.Sprintf("CASE WHEN %[1]s IS NOT NULL THEN coalesce((SELECT json_agg((%[2]s) ORDER BY u.n) "+
			"FROM unnest(%[1]s) WITH ORDINALITY AS u(v, n)), '[]')::text END", x, pgWantSQL(item, strings.TrimSuffix(def, "[]"), "u.v"))
	case base == "bytes.decimal":
		// NaN has no decimal: null.
		return fmt.Sprintf("CASE WHEN %[1]s::numeric <> 'NaN' THEN (%[1]s::numeric * 10::numeric ^ %[2]d)::numeric(1000,0)::text END",
			x, decimalScale(avro))
	case base == "float":
		return fmt.Sprintf("encode(float4send(%s), 'hex')", x)
	case base == "double":
		return fmt.Sprintf("encode(float8send(%s), 'hex')", x)
	case base == "boolean" && bit:
		return fmt.Sprintf("CASE %s::int4 WHEN 1 THEN 'true' WHEN 0 THEN 'false' END", x)
	case base == "boolean":
		return fmt.Sprintf("CASE WHEN %[1]s THEN 'true' WHEN NOT %[1]s THEN 'false' END", x)
	case base == "bytes" && bit: // the bits as an unsigned big-endian number of ceil(n/8) bytes
		return fmt.Sprintf("lpad(to_hex(%[1]s::int8), (length(%[1]s) + 7) / 8 * 2, '0')", x)
	case base == "bytes":
		return fmt.Sprintf("encode(%s, 'hex')", x)
	case base == "int.date":
		return pgFinite(def, x, "(%s - date '1970-01-01')::text", "date '9999-12-31'", "date '0001-01-01'")
	case base == "long.time-micros":
		return fmt.Sprintf("(extract(epoch from %s) * 1000000)::numeric(1000,0)::text", x)
	case base == "long.local-timestamp-micros", base == "long.timestamp-micros":
		// From the date and the time of day (in the session's UTC):
		// extract(epoch) of the timestamp is inexact near the range's end.
		return pgFinite(def, x, "((%[1]s::date - date '1970-01-01')::numeric * 86400000000 + "+
			"extract(epoch from %[1]s::time) * 1000000)::numeric(1000,0)::text",
			"timestamp '9999-12-31 23:59:59.999999'", "timestamp '0001-01-01 00:00:00'")
	}
	// Integers and the types kept as text: the output function's text
	// (concat uses it; a cast to text would trim char(n) and show inet's
	// netmask).
	return fmt.Sprintf("CASE WHEN %[1]s IS NOT NULL THEN concat(%[1]s) END", x)
}

// pgFinite applies conv to finite values of x and maps infinities to null
// in a nullable column, else to conv of the documented fallbacks.
func pgFinite(def, x, conv, maxLit, minLit string) string {
	finite := fmt.Sprintf(conv, x)
	if !strings.Contains(def, "NOT NULL") {
		return fmt.Sprintf("CASE WHEN isfinite(%s) THEN %s END", x, finite)
	}
	return fmt.Sprintf("CASE WHEN %[1]s = 'infinity' THEN %[2]s WHEN %[1]s = '-infinity' THEN %[3]s ELSE %[4]s END",
		x, fmt.Sprintf(conv, maxLit), fmt.Sprintf(conv, minLit), finite)
}

// decimalScale returns s of an avro description with "(p,s)".
func decimalScale(avro string) int {
	_, ps, _ := strings.Cut(avro, "(")
	_, s, _ := strings.Cut(strings.TrimSuffix(ps, ")"), ",")
	n, _ := strconv.Atoi(strings.TrimRight(s, ")"))
	return n
}

// pgTypeTexts reads the canonical texts of every row of table, by id, in
// cols order (sqlNull for null).
func pgTypeTexts(t *testing.T, conn *pgx.Conn, table string, cols []pgTypeCol) map[int][]string {
	t.Helper()
	exprs := []string{"id"}
	for _, c := range cols {
		exprs = append(exprs, pgWantSQL(c.avro, c.def, c.name))
	}
	rows, err := conn.Query(context.Background(), "SELECT "+strings.Join(exprs, ", ")+" FROM "+table,
		pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	defer rows.Close()
	out := map[int][]string{}
	for rows.Next() {
		raw := rows.RawValues()
		id, _ := strconv.Atoi(string(raw[0]))
		texts := make([]string, len(cols))
		for j := range cols {
			texts[j] = sqlNull
			if raw[j+1] != nil {
				texts[j] = string(raw[j+1])
			}
		}
		out[id] = texts
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read back: %v", err)
	}
	return out
}

// checkPGTypeRecords compares the after image of every record of table
// with the database's canonical texts: ids below 100 come from the
// snapshot (op r), the others from pgoutput (op c). n is the rows per path.
func (e *env) checkPGTypeRecords(t *testing.T, conn *pgx.Conn, table string, cols []pgTypeCol, recs []*kgo.Record, n int) {
	want := pgTypeTexts(t, conn, table, cols)
	if len(want) != 2*n {
		t.Fatalf("the table has %d rows, want %d", len(want), 2*n)
	}
	seen := map[int]bool{}
	for _, r := range recs {
		v := e.decode(r.Value)
		id, _ := e.decode(r.Key)["id"].(int)
		if seen[id] {
			t.Errorf("id %d sent twice", id)
		}
		seen[id] = true
		path, wantOp := "snapshot", "r"
		if id > 100 {
			path, wantOp = "pgoutput", "c"
		}
		t.Run(fmt.Sprintf("%s/row%d", path, id%100), func(t *testing.T) {
			if v["op"] != wantOp {
				t.Errorf("op = %v, want %s", v["op"], wantOp)
			}
			after := rowOf(v["after"])
			if after == nil || want[id] == nil {
				t.Fatalf("after = %v, database row = %v", v["after"], want[id])
			}
			for j, c := range cols {
				t.Run(c.name, func(t *testing.T) {
					got, exp := pgAvroText(after[c.name], c.avro), want[id][j]
					if strings.HasPrefix(c.avro, "array<") && exp != sqlNull {
						exp = normalizeJSONArray(exp)
					}
					if got != exp {
						t.Errorf("decoded %s, database computes %s", clipText(got), clipText(exp))
					}
				})
			}
		})
	}
	if len(seen) != 2*n {
		t.Errorf("got records for %d ids, want %d", len(seen), 2*n)
	}
}

// pgAvroText renders a decoded nullable field of Avro type avro as the
// text pgWantSQL computes; a Go type other than the one a generic reader
// must decode avro to is reported as such.
func pgAvroText(v any, avro string) string {
	v = unwrapBranch(v)
	if v == nil {
		return sqlNull
	}
	if item, ok := strings.CutPrefix(avro, "array<"); ok {
		items, ok := v.([]any)
		if !ok {
			return fmt.Sprintf("unexpected %T for %s", v, avro)
		}
		item = strings.TrimSuffix(item, ">")
		texts := make([]*string, len(items))
		for i, x := range items {
			if s := pgAvroText(x, item); s != sqlNull {
				texts[i] = &s
			}
		}
		b, _ := json.Marshal(texts)
		return string(b)
	}
	switch base := avroBase(avro); x := v.(type) {
	case int:
		if base == "int" {
			return strconv.Itoa(x)
		}
	case int64:
		if base == "long" {
			return strconv.FormatInt(x, 10)
		}
	case *big.Rat:
		if base == "bytes.decimal" {
			scaled := new(big.Rat).Mul(x, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimalScale(avro))), nil)))
			if !scaled.IsInt() {
				return "more fraction digits than the scale: " + x.RatString()
			}
			return scaled.Num().String()
		}
	case float32:
		if base == "float" {
			return fmt.Sprintf("%08x", math.Float32bits(x))
		}
	case float64:
		if base == "double" {
			return fmt.Sprintf("%016x", math.Float64bits(x))
		}
	case bool:
		if base == "boolean" {
			return strconv.FormatBool(x)
		}
	case []byte:
		if base == "bytes" {
			return hex.EncodeToString(x)
		}
	case string:
		if base == "string" || base == "string.uuid" {
			return x
		}
	case time.Duration:
		if base == "long.time-micros" {
			return strconv.FormatInt(x.Microseconds(), 10)
		}
	case time.Time:
		switch base {
		case "int.date":
			return strconv.FormatInt(floorDiv(x.Unix(), 86400), 10)
		case "long.timestamp-micros":
			return strconv.FormatInt(x.UnixMicro(), 10)
		case "long.local-timestamp-micros":
			// hamba shifts the instant by time.Local's offset so that
			// the wall clock reads as the local timestamp: undo it.
			_, offset := x.Zone()
			return strconv.FormatInt(x.UnixMicro()+int64(offset)*1_000_000, 10)
		}
	}
	return fmt.Sprintf("unexpected %T for %s", v, avro)
}

// floorDiv divides rounding toward minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// normalizeJSONArray re-encodes a JSON array of strings and nulls as
// pgAvroText does.
func normalizeJSONArray(s string) string {
	var texts []*string
	if err := json.Unmarshal([]byte(s), &texts); err != nil {
		return "bad JSON " + s
	}
	if texts == nil {
		texts = []*string{}
	}
	b, _ := json.Marshal(texts)
	return string(b)
}

// pgSchemaID returns the value schema id of a Confluent-framed record.
func pgSchemaID(value []byte) uint32 { return binary.BigEndian.Uint32(value[1:5]) }
