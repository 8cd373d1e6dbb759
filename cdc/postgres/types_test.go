package postgres

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
	"github.com/jackc/pgx/v5"
)

// typeCase is a one-column table c_<name> (v typ) holding values, and the
// column description the catalog must derive (Type and Elem.Type come from
// the server's format_type).
type typeCase struct {
	name    string
	typ     string
	notNull bool
	values  []string // SQL expressions
	want    cdc.Column
	needs   string // extension the case needs, if any
}

// elem returns the description of an array of want's elements.
func elem(want cdc.Column) cdc.Column { return cdc.Column{Kind: cdc.KindArray, Elem: &want} }

// typesSetup creates the user-defined types the cases use.
const typesSetup = `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN price AS numeric(10,2);
CREATE DOMAIN price2 AS price;
CREATE TYPE pair AS (a int, b text);`

// timestamps are edge timestamps, as text that both timestamp and
// timestamptz accept.
var timestamps = []string{"'2024-01-02 03:04:05.123456'", "'1969-12-31 23:59:59.999999'",
	"'0044-03-15 12:00:00.5 BC'", "'4713-01-01 00:00:00 BC'", "'9999-12-31 23:59:59.999999'",
	"'10000-01-01 00:00:00.01'", "'294247-01-10 04:00:54.775807'", "'294276-12-31 23:59:59.999999'",
	"'infinity'", "'-infinity'", "'1970-01-01'"}

// typeCases cover every mapped type with edge values.
var typeCases = []typeCase{
	{"int2", "int2", true, []string{"-32768", "32767", "0"}, cdc.Column{Kind: cdc.KindInt32}, ""},
	{"int4", "int4", true, []string{"-2147483648", "2147483647", "7"}, cdc.Column{Kind: cdc.KindInt32}, ""},
	{"int8", "int8", false, []string{"-9223372036854775808", "9223372036854775807", "NULL"}, cdc.Column{Kind: cdc.KindInt64}, ""},
	{"oid", "oid", true, []string{"0", "4294967295"}, cdc.Column{Kind: cdc.KindInt64}, ""},
	{"num38", "numeric(38,10)", false, []string{"'1234567890123456789012345678.0123456789'", "'-9999999999999999999999999999.9999999999'",
		"'-0.0000000001'", "0", "1.5", "NULL"}, cdc.Column{Kind: cdc.KindDecimal, Precision: 38, Scale: 10}, ""},
	{"num10", "numeric(10,2)", false, []string{"'NaN'", "'12345678.91'", "'-0.01'", "0.005"}, cdc.Column{Kind: cdc.KindDecimal, Precision: 10, Scale: 2}, ""},
	{"numfree", "numeric", true, []string{"'12345678901234567890123456789012345678901234567890'", "'NaN'", "'Infinity'",
		"'-Infinity'", "1e-20", "'-1.50'"}, cdc.Column{Kind: cdc.KindDecimalText}, ""},
	{"numneg", "numeric(2,-3)", true, []string{"12345", "-99000", "0"}, cdc.Column{Kind: cdc.KindDecimal, Precision: 5, Scale: 0}, ""},
	{"numtiny", "numeric(3,5)", true, []string{"0.00123", "-0.00999"}, cdc.Column{Kind: cdc.KindDecimal, Precision: 5, Scale: 5}, ""},
	{"price", "price", true, []string{"12.34", "-99999999.99"}, cdc.Column{Kind: cdc.KindDecimal, Precision: 10, Scale: 2}, ""},
	{"price2", "price2", false, []string{"0.1", "NULL"}, cdc.Column{Kind: cdc.KindDecimal, Precision: 10, Scale: 2}, ""},
	{"money", "money", true, []string{"'-1234.56'", "'92233720368547758.07'", "'-92233720368547758.08'", "0"},
		cdc.Column{Kind: cdc.KindDecimal, Precision: 19, Scale: 2}, ""},
	{"float4", "float4", true, []string{"'NaN'", "'Infinity'", "'-Infinity'", "'3.4028235e38'", "'1.17549435e-38'",
		"'1e-45'", "'-0'", "0.1"}, cdc.Column{Kind: cdc.KindFloat32}, ""},
	{"float8", "float8", true, []string{"'NaN'", "'Infinity'", "'-Infinity'", "'1.7976931348623157e308'", "'5e-324'",
		"'-0'", "0.1", "pi()"}, cdc.Column{Kind: cdc.KindFloat64}, ""},
	{"bool", "bool", false, []string{"true", "false", "NULL"}, cdc.Column{Kind: cdc.KindBool}, ""},
	{"bit1", "bit", true, []string{"B'1'", "B'0'"}, cdc.Column{Kind: cdc.KindBool}, ""},
	{"bit10", "bit(10)", true, []string{"B'1000000001'", "B'0000000000'", "B'1111111111'"}, cdc.Column{Kind: cdc.KindBytes}, ""},
	{"bit3", "bit(3)", true, []string{"B'101'"}, cdc.Column{Kind: cdc.KindBytes}, ""},
	{"varbit", "varbit", true, []string{"B''", "B'1010'", "B'0001'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"bytea", "bytea", true, []string{`'\x00ff00'`, "''", `'\x0000'`, "decode(repeat('00ff', 1000), 'hex')"}, cdc.Column{Kind: cdc.KindBytes}, ""},
	{"text", "text", true, []string{"'héllo 😀'", "''", "E'tab\\there\\nline'", `'quote"back\slash'`}, cdc.Column{Kind: cdc.KindString}, ""},
	{"char3", "char(3)", true, []string{"'a'", "'abc'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"varchar", "varchar(5)", true, []string{"'ab'", "'😀😀'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"name", "name", true, []string{"'pg_class'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"qchar", `"char"`, true, []string{"'x'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"citext", "citext", true, []string{"'MiXeD'"}, cdc.Column{Kind: cdc.KindString}, "citext"},
	{"json", "json", true, []string{`'{"a": [1, 2.50]}'`}, cdc.Column{Kind: cdc.KindString, SemanticName: semanticJSON}, ""},
	{"jsonb", "jsonb", true, []string{`'{"b": 1, "a": "😀"}'`}, cdc.Column{Kind: cdc.KindString, SemanticName: semanticJSON}, ""},
	{"xml", "xml", true, []string{"'<a x=\"1\">t</a>'"}, cdc.Column{Kind: cdc.KindString, SemanticName: semanticXML}, ""},
	{"inet", "inet", true, []string{"'192.168.0.1/24'", "'::1'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"cidr", "cidr", true, []string{"'10.0.0.0/8'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"macaddr", "macaddr", true, []string{"'08:00:2b:01:02:03'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"macaddr8", "macaddr8", true, []string{"'08:00:2b:01:02:03:04:05'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"interval", "interval", true, []string{"'1 year 2 mons 3 days 04:05:06.789'", "'-1 day'", "'0'"},
		cdc.Column{Kind: cdc.KindString, SemanticName: semanticInterval}, ""},
	{"timetz", "timetz", true, []string{"'12:00+05:30'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"tsvector", "tsvector", true, []string{"'a fat cat'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"point", "point", true, []string{"'(1.5,2)'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"uuid", "uuid", true, []string{"'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'"}, cdc.Column{Kind: cdc.KindUUID, SemanticName: semanticUUID}, ""},
	{"mood", "mood", true, []string{"'happy'", "'sad'"}, cdc.Column{Kind: cdc.KindString, SemanticName: "io.debezium.data.Enum"}, ""},
	{"pair", "pair", true, []string{"ROW(1, 'a b')", "ROW(NULL, '\"')"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"int4range", "int4range", true, []string{"'[1,5)'", "'empty'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"tstzrange", "tstzrange", true, []string{"'[2024-01-01,infinity)'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"multirange", "int4multirange", true, []string{"'{[1,2),[5,7)}'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"tid", "tid", true, []string{"'(1,2)'"}, cdc.Column{Kind: cdc.KindString}, ""},
	{"date", "date", false, []string{"'2024-02-29'", "'0044-03-15 BC'", "'4713-01-01 BC'", "'5874897-12-31'",
		"'infinity'", "'-infinity'", "'1970-01-01'", "'1969-12-31'", "NULL"}, cdc.Column{Kind: cdc.KindDate}, ""},
	{"datenn", "date", true, []string{"'infinity'", "'-infinity'", "'0001-01-01'", "'0001-12-31 BC'"}, cdc.Column{Kind: cdc.KindDate}, ""},
	{"time", "time", true, []string{"'24:00:00'", "'00:00:00'", "'23:59:59.999999'", "'12:34:56.5'"}, cdc.Column{Kind: cdc.KindTimeMicros}, ""},
	{"time3", "time(3)", true, []string{"'12:34:56.7891'"}, cdc.Column{Kind: cdc.KindTimeMicros}, ""},
	{"ts", "timestamp(6)", false, append([]string{"NULL"}, timestamps...), cdc.Column{Kind: cdc.KindLocalTimestampMicros}, ""},
	{"tsnn", "timestamp(0)", true, append(timestamps[:6:6], "'infinity'", "'-infinity'"), cdc.Column{Kind: cdc.KindLocalTimestampMicros}, ""},
	{"tstz", "timestamptz", false, append([]string{"'2024-01-02 03:04:05.123456+05:30'", "'1800-01-01 00:00:00+00'", "NULL"}, timestamps...),
		cdc.Column{Kind: cdc.KindTimestampMicros}, ""},
	{"tstznn", "timestamptz(3)", true, append(timestamps[:6:6], "'infinity'", "'-infinity'"), cdc.Column{Kind: cdc.KindTimestampMicros}, ""},
	{"int4arr", "int4[]", true, []string{"'{1,2,NULL,3}'", "'{}'", "'{{1,2},{3,4}}'", "'[0:1]={7,8}'", "'{{{-1}}}'"},
		elem(cdc.Column{Kind: cdc.KindInt32}), ""},
	{"textarr", "text[]", true, []string{`ARRAY['a,b', 'NULL', NULL, 'x"y\z', '  sp ', '', '{}', 'emoji 😀', 'a b']`, `'{{a,b},{c,NULL}}'`},
		elem(cdc.Column{Kind: cdc.KindString}), ""},
	{"numarr", "numeric(10,2)[]", true, []string{"'{1.5,NULL,-2.25,NaN}'", "'{{1,2},{3,4}}'"},
		elem(cdc.Column{Kind: cdc.KindDecimal, Precision: 10, Scale: 2}), ""},
	{"pricearr", "price[]", true, []string{"'{1.5,NULL}'"}, elem(cdc.Column{Kind: cdc.KindDecimal, Precision: 10, Scale: 2}), ""},
	{"moodarr", "mood[]", true, []string{"'{sad,NULL,happy}'"}, elem(cdc.Column{Kind: cdc.KindString, SemanticName: "io.debezium.data.Enum"}), ""},
	{"datearr", "date[]", true, []string{"'{2024-01-01,infinity,-infinity,NULL,0044-03-15 BC}'"}, elem(cdc.Column{Kind: cdc.KindDate}), ""},
	{"tstzarr", "timestamptz[]", true, []string{"ARRAY['2024-01-02 03:04:05.5+02'::timestamptz, 'infinity', NULL]"},
		elem(cdc.Column{Kind: cdc.KindTimestampMicros}), ""},
	{"byteaarr", "bytea[]", true, []string{`ARRAY['\x00ff'::bytea, NULL, '']`}, elem(cdc.Column{Kind: cdc.KindBytes}), ""},
	{"boolarr", "bool[]", true, []string{"'{t,f,NULL}'"}, elem(cdc.Column{Kind: cdc.KindBool}), ""},
	{"float8arr", "float8[]", true, []string{"'{NaN,-Infinity,1.5,NULL}'"}, elem(cdc.Column{Kind: cdc.KindFloat64}), ""},
	{"chararr", "char(2)[]", true, []string{"'{a,NULL,bc}'"}, elem(cdc.Column{Kind: cdc.KindString}), ""},
	{"boxarr", "box[]", true, []string{"'{(1,1),(0,0);(2,2),(1,1)}'"}, elem(cdc.Column{Kind: cdc.KindString}), ""},
	{"rangearr", "int4range[]", true, []string{`'{"[1,2)",empty}'`}, elem(cdc.Column{Kind: cdc.KindString}), ""},
	{"pairarr", "pair[]", true, []string{"ARRAY[ROW(1, 'a b')::pair, NULL]"}, elem(cdc.Column{Kind: cdc.KindString}), ""},
	{"uuidarr", "uuid[]", true, []string{"'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'"}, elem(cdc.Column{Kind: cdc.KindUUID, SemanticName: semanticUUID}), ""},
	{"hstore", "hstore", true, []string{`'a=>1, "b c"=>NULL'`}, cdc.Column{Kind: cdc.KindString}, "hstore"},
}

// TestTypesAgainstServer checks, on one test server, every case's column
// description and its decoder against expectations the server computes.
func TestTypesAgainstServer(t *testing.T) {
	p := testserver.PostgresT(t, testserver.PostgresOptions{})
	ctx := context.Background()
	conn := typesConn(t, ctx, p)
	cases := createTypeTables(t, ctx, conn)
	cat := newCatalog(conn, discardLogger())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			col, dec := checkTypeColumn(t, ctx, conn, cat, tc)
			checkTypeValues(t, ctx, conn, tc, &col, dec)
		})
	}
	t.Run("session", func(t *testing.T) { checkSession(t, ctx, conn) })
	t.Run("warnings", func(t *testing.T) { checkWarnings(t, ctx, conn) })
	t.Run("cache", func(t *testing.T) { checkCache(t, ctx, p, cases) })
}

// typesConn opens a connection to the test server that ran sessionSetup.
func typesConn(t *testing.T, ctx context.Context, p *testserver.Postgres) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, p.SuperuserDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, sessionSetup); err != nil {
		t.Fatal(err)
	}
	return conn
}

// createTypeTables creates the types and one table per case, and returns
// the cases whose extensions are available.
func createTypeTables(t *testing.T, ctx context.Context, conn *pgx.Conn) []typeCase {
	t.Helper()
	var ddl strings.Builder
	ddl.WriteString(typesSetup)
	var cases []typeCase
	for _, tc := range typeCases {
		if tc.needs != "" {
			if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS "+tc.needs); err != nil {
				t.Logf("skipping %s: %v", tc.name, err)
				continue
			}
		}
		cases = append(cases, tc)
		notNull := map[bool]string{true: " NOT NULL"}[tc.notNull]
		fmt.Fprintf(&ddl, "\nCREATE TABLE c_%s (id serial PRIMARY KEY, v %s%s);\nINSERT INTO c_%[1]s (v) VALUES (%[4]s);",
			tc.name, tc.typ, notNull, strings.Join(tc.values, "), ("))
	}
	if _, err := conn.Exec(ctx, ddl.String()); err != nil {
		t.Fatal(err)
	}
	return cases
}

// checkTypeColumn checks the column the catalog derives for table c_<name>.
func checkTypeColumn(t *testing.T, ctx context.Context, conn *pgx.Conn, cat *catalog, tc typeCase) (cdc.Column, textDecoder) {
	t.Helper()
	var oid uint32
	var typmod int32
	var optional bool
	var typ string
	var elemType *string
	err := conn.QueryRow(ctx, `SELECT a.atttypid, a.atttypmod, NOT a.attnotnull, format_type(a.atttypid, a.atttypmod),
		CASE WHEN bt.typelem <> 0 AND bt.typlen = -1 THEN format_type(bt.typelem, a.atttypmod) END
		FROM pg_attribute a JOIN pg_type bt ON bt.oid = a.atttypid
		WHERE a.attrelid = $1::regclass AND a.attname = 'v'`, "c_"+tc.name).
		Scan(&oid, &typmod, &optional, &typ, &elemType)
	if err != nil {
		t.Fatal(err)
	}
	col, dec, err := cat.column(ctx, "v", oid, typmod, optional)
	if err != nil {
		t.Fatal(err)
	}
	want := tc.want
	want.Name, want.Type, want.Optional = "v", typ, !tc.notNull
	if want.Elem != nil {
		e := *want.Elem
		e.Type, e.Optional = *elemType, true
		want.Elem = &e
	}
	if !reflect.DeepEqual(col, want) {
		t.Fatalf("column:\n got %s\nwant %s", describe(col), describe(want))
	}
	return col, dec
}

// describe renders a column for failure messages.
func describe(c cdc.Column) string {
	s := fmt.Sprintf("%+v", c)
	if c.Elem != nil {
		s += " elem " + describe(*c.Elem)
	}
	return s
}

// columnAttr returns the type OID, modifier and nullability of c_<name>.v.
func columnAttr(t *testing.T, ctx context.Context, conn *pgx.Conn, name string) (uint32, int32, bool) {
	t.Helper()
	var oid uint32
	var typmod int32
	var optional bool
	err := conn.QueryRow(ctx, `SELECT atttypid, atttypmod, NOT attnotnull FROM pg_attribute
		WHERE attrelid = $1::regclass AND attname = 'v'`, "c_"+name).Scan(&oid, &typmod, &optional)
	if err != nil {
		t.Fatal(err)
	}
	return oid, typmod, optional
}

// checkSession checks the text forms sessionSetup promises.
func checkSession(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	tests := []struct{ sql, want string }{
		{"'1 year 2 mons 3 days 04:05:06.789'::interval", "P1Y2M3DT4H5M6.789S"},
		{"'2024-01-02 03:04:05.123456+05:30'::timestamptz", "2024-01-01 21:34:05.123456+00"},
		{"'2024-01-02'::date", "2024-01-02"},
		{`'\x01ff'::bytea`, `\x01ff`},
		{"'-1234.56'::money", "-$1,234.56"},
		{"0.1::float8", "0.1"},
		{"0.1::float4", "0.1"},
	}
	for _, tc := range tests {
		var got string
		rows, err := conn.Query(ctx, "SELECT "+tc.sql, pgx.QueryExecModeSimpleProtocol)
		if err == nil {
			for rows.Next() {
				got = string(rows.RawValues()[0])
			}
			err = rows.Err()
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.sql, got, err, tc.want)
		}
	}
}

// checkWarnings checks that unknown types warn once per catalog and type,
// and infinity fallbacks once per column.
func checkWarnings(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	log, n := countingLogger()
	cat := newCatalog(conn, log)
	oid, typmod, optional := columnAttr(t, ctx, conn, "tid")
	for range 2 {
		if _, _, err := cat.column(ctx, "v", oid, typmod, optional); err != nil {
			t.Fatal(err)
		}
	}
	if *n != 1 {
		t.Fatalf("%d warnings for an unknown type used twice, want 1", *n)
	}
	oid, typmod, optional = columnAttr(t, ctx, conn, "datenn")
	for want := int64(2); want <= 3; want++ {
		_, dec, err := cat.column(ctx, "v", oid, typmod, optional)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"infinity", "-infinity", "infinity"} {
			if _, err := dec([]byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		if *n != want {
			t.Fatalf("%d warnings, want %d (one per column)", *n, want)
		}
	}
	if _, _, err := cat.column(ctx, "v", 4_000_000_000, -1, true); err == nil {
		t.Fatal("no error for an unknown type OID")
	}
}

// checkCache checks that a catalog answers from its cache once it has seen
// the types, even after its connection is gone, until invalidated.
func checkCache(t *testing.T, ctx context.Context, p *testserver.Postgres, cases []typeCase) {
	conn := typesConn(t, ctx, p)
	cat := newCatalog(conn, discardLogger())
	type attr struct {
		oid      uint32
		typmod   int32
		optional bool
	}
	attrs := make([]attr, len(cases))
	first := make([]cdc.Column, len(cases))
	for i, tc := range cases {
		a := &attrs[i]
		a.oid, a.typmod, a.optional = columnAttr(t, ctx, conn, tc.name)
		col, _, err := cat.column(ctx, "v", a.oid, a.typmod, a.optional)
		if err != nil {
			t.Fatal(err)
		}
		first[i] = col
	}
	conn.Close(ctx)
	for i, a := range attrs {
		col, _, err := cat.column(ctx, "v", a.oid, a.typmod, a.optional)
		if err != nil || !reflect.DeepEqual(col, first[i]) {
			t.Fatalf("%s from the cache: %v, %v; want %v", cases[i].name, describe(col), err, describe(first[i]))
		}
	}
	cat.invalidate(attrs[0].oid)
	if _, _, err := cat.column(ctx, "v", attrs[0].oid, attrs[0].typmod, true); err == nil {
		t.Fatal("an invalidated type was not read again")
	}
}
