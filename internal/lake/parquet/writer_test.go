package parquet_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/lake/parquet"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// bigInt parses a decimal integer.
func bigInt(s string) *big.Int {
	x, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return x
}

// nines returns the n-digit number 99...9, negated when neg.
func nines(n int, neg bool) *big.Int {
	s := strings.Repeat("9", n)
	if neg {
		s = "-" + s
	}
	return bigInt(s)
}

// kindCol is one column of the all-kinds table, with the DuckDB type it
// must be read as and the Parquet schema it must have.
type kindCol struct {
	col    cdc.Column
	duck   string // DESCRIBE column_type
	schema string // parquet_schema of the leaf: type/type_length/logical type, see schemaOf
}

func arr(elem cdc.Column) cdc.Column {
	return cdc.Column{Kind: cdc.KindArray, Type: elem.Type + "[]", Elem: &elem}
}

var allKinds = []kindCol{
	{cdc.Column{Name: "id", Kind: cdc.KindInt64, Type: "bigint"}, "BIGINT", "INT64"},
	{cdc.Column{Name: "i32", Kind: cdc.KindInt32, Type: "int"}, "INTEGER", "INT32"},
	{cdc.Column{Name: "i64", Kind: cdc.KindInt64, Type: "bigint"}, "BIGINT", "INT64"},
	{cdc.Column{Name: "u64", Kind: cdc.KindUint64, Type: "bigint unsigned"}, "DECIMAL(20,0)", "FIXED_LEN_BYTE_ARRAY/9/DecimalType(scale=0, precision=20)"},
	{cdc.Column{Name: "d5_2", Kind: cdc.KindDecimal, Type: "decimal(5,2)", Precision: 5, Scale: 2}, "DECIMAL(5,2)", "FIXED_LEN_BYTE_ARRAY/3/DecimalType(scale=2, precision=5)"},
	{cdc.Column{Name: "d9_9", Kind: cdc.KindDecimal, Type: "decimal(9,9)", Precision: 9, Scale: 9}, "DECIMAL(9,9)", "FIXED_LEN_BYTE_ARRAY/4/DecimalType(scale=9, precision=9)"},
	{cdc.Column{Name: "d18_4", Kind: cdc.KindDecimal, Type: "decimal(18,4)", Precision: 18, Scale: 4}, "DECIMAL(18,4)", "FIXED_LEN_BYTE_ARRAY/8/DecimalType(scale=4, precision=18)"},
	{cdc.Column{Name: "d20_0", Kind: cdc.KindDecimal, Type: "numeric(20)", Precision: 20, Scale: 0}, "DECIMAL(20,0)", "FIXED_LEN_BYTE_ARRAY/9/DecimalType(scale=0, precision=20)"},
	{cdc.Column{Name: "d38_10", Kind: cdc.KindDecimal, Type: "numeric(38,10)", Precision: 38, Scale: 10}, "DECIMAL(38,10)", "FIXED_LEN_BYTE_ARRAY/16/DecimalType(scale=10, precision=38)"},
	{cdc.Column{Name: "d65_30", Kind: cdc.KindDecimal, Type: "decimal(65,30)", Precision: 65, Scale: 30}, "VARCHAR", "BYTE_ARRAY/StringType()"},
	{cdc.Column{Name: "dtext", Kind: cdc.KindDecimalText, Type: "numeric"}, "VARCHAR", "BYTE_ARRAY/StringType()"},
	{cdc.Column{Name: "f32", Kind: cdc.KindFloat32, Type: "float"}, "FLOAT", "FLOAT"},
	{cdc.Column{Name: "f64", Kind: cdc.KindFloat64, Type: "double"}, "DOUBLE", "DOUBLE"},
	{cdc.Column{Name: "b", Kind: cdc.KindBool, Type: "boolean"}, "BOOLEAN", "BOOLEAN"},
	{cdc.Column{Name: "bin", Kind: cdc.KindBytes, Type: "bytea"}, "BLOB", "BYTE_ARRAY"},
	{cdc.Column{Name: "s", Kind: cdc.KindString, Type: "text"}, "VARCHAR", "BYTE_ARRAY/StringType()"},
	{cdc.Column{Name: "u", Kind: cdc.KindUUID, Type: "uuid"}, "VARCHAR", "BYTE_ARRAY/StringType()"},
	{cdc.Column{Name: "dt", Kind: cdc.KindDate, Type: "date"}, "DATE", "INT32/DateType()"},
	{cdc.Column{Name: "tm", Kind: cdc.KindTimeMicros, Type: "time"}, "TIME", "INT64/TimeType(isAdjustedToUTC=0, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))"},
	{cdc.Column{Name: "dur", Kind: cdc.KindDurationMicros, Type: "time(6)"}, "BIGINT", "INT64"},
	{cdc.Column{Name: "lts", Kind: cdc.KindLocalTimestampMicros, Type: "datetime(6)"}, "TIMESTAMP", "INT64/TimestampType(isAdjustedToUTC=0, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))"},
	{cdc.Column{Name: "ts", Kind: cdc.KindTimestampMicros, Type: "timestamptz"}, "TIMESTAMP WITH TIME ZONE", "INT64/TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))"},
	{withName("ai", arr(cdc.Column{Kind: cdc.KindInt32, Type: "int4"})), "INTEGER[]", "INT32"},
	{withName("as", arr(cdc.Column{Kind: cdc.KindString, Type: "text"})), "VARCHAR[]", "BYTE_ARRAY/StringType()"},
	{withName("aai", arr(arr(cdc.Column{Kind: cdc.KindInt64, Type: "int8"}))), "BIGINT[][]", "INT64"},
	{withName("ad", arr(cdc.Column{Kind: cdc.KindDecimal, Type: "numeric(10,3)", Precision: 10, Scale: 3})), "DECIMAL(10,3)[]", "FIXED_LEN_BYTE_ARRAY/5/DecimalType(scale=3, precision=10)"},
	{withName("ab", arr(cdc.Column{Kind: cdc.KindBytes, Type: "bytea"})), "BLOB[]", "BYTE_ARRAY"},
	{withName("ats", arr(cdc.Column{Kind: cdc.KindTimestampMicros, Type: "timestamptz"})), "TIMESTAMP WITH TIME ZONE[]", "INT64/TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))"},
	{withName("adt", arr(cdc.Column{Kind: cdc.KindDate, Type: "date"})), "DATE[]", "INT32/DateType()"},
	{cdc.Column{Name: "Mixed Case.x", Kind: cdc.KindString, Type: "varchar(10)"}, "VARCHAR", "BYTE_ARRAY/StringType()"},
}

func withName(name string, c cdc.Column) cdc.Column {
	c.Name = name
	return c
}

func allKindsTable() *cdc.Table {
	t := &cdc.Table{ID: cdc.TableID{Schema: "shop", Name: "orders"}, Key: []int{0}}
	for _, k := range allKinds {
		t.Columns = append(t.Columns, k.col)
	}
	return t
}

// nan, inf and negZero are the harness's renderings of special floats.
const (
	nan     = "NaN"
	posInf  = "Infinity"
	negInf  = "-Infinity"
	negZero = "-0"
)

// row is one test row: the values written, in column order, and what
// DuckDB must return for each column. Expected numbers of FLOAT and DOUBLE
// columns are float64 (compared exactly, after float32 rounding for FLOAT),
// or one of the strings above.
type row struct {
	in   []any
	want []any
}

// allKindsRows returns rows exercising every kind: typical values, NULLs
// everywhere, minimums, maximums and other edges.
func allKindsRows() []row {
	long := strings.Repeat("ü", 5000)
	blob := make([]byte, 3000)
	for i := range blob {
		blob[i] = byte(i)
	}
	d65 := "-" + strings.Repeat("9", 35) + "." + strings.Repeat("9", 30)
	null30 := make([]any, len(allKinds)-1)
	return []row{{
		in: []any{int64(1), int64(42), int64(-7), uint64(123), big.NewInt(12345), big.NewInt(1),
			bigInt("-123456789012345678"), nines(20, false), nines(38, false), bigInt("123456789012345678901234567890123456789012345678901234567890"),
			"123.4500", float32(1.5), -2.25, true, []byte{0, 0xff, 0x10}, "héllo, 世界 🦆", "550e8400-e29b-41d4-a716-446655440000",
			int64(19000), int64(45296789012), int64(-3020399000000), int64(1700000000123456), int64(1700000000123456),
			[]any{int64(1), nil, int64(math.MinInt32), int64(math.MaxInt32)},
			[]any{"a", "", nil, "é"},
			[]any{[]any{int64(1), int64(2)}, []any{}, nil, []any{nil, int64(math.MaxInt64)}},
			[]any{big.NewInt(1234), big.NewInt(-1), nil},
			[]any{[]byte{}, []byte{1}, nil},
			[]any{int64(-1), int64(0)},
			[]any{int64(-1), nil, int64(0)},
			"x"},
		want: []any{"1", "42", "-7", "123", "123.45", "0.000000001",
			"-12345678901234.5678", "99999999999999999999", "9999999999999999999999999999.9999999999",
			"123456789012345678901234567890.123456789012345678901234567890",
			"123.4500", 1.5, -2.25, true, "00ff10", "héllo, 世界 🦆", "550e8400-e29b-41d4-a716-446655440000",
			"2022-01-08", "12:34:56.789012", "-3020399000000", "2023-11-14 22:13:20.123456", "2023-11-14 22:13:20.123456+00",
			[]any{"1", nil, "-2147483648", "2147483647"},
			[]any{"a", "", nil, "é"},
			[]any{[]any{"1", "2"}, []any{}, nil, []any{nil, "9223372036854775807"}},
			[]any{"1.234", "-0.001", nil},
			[]any{"", "01", nil},
			[]any{"1969-12-31 23:59:59.999999+00", "1970-01-01 00:00:00+00"},
			[]any{"1969-12-31", nil, "1970-01-01"},
			"x"},
	}, {
		in:   append([]any{int64(2)}, null30...),
		want: append([]any{"2"}, null30...),
	}, {
		in: []any{int64(3), int64(math.MinInt32), int64(math.MinInt64), uint64(math.MaxUint64), big.NewInt(-99999), big.NewInt(-999999999),
			nines(18, false), nines(20, true), nines(38, true), bigInt(strings.ReplaceAll(d65, ".", "")),
			"NaN", float32(math.NaN()), math.Inf(1), false, []byte{}, "", "00000000-0000-0000-0000-000000000000",
			int64(-719162), int64(0), int64(3020399000000), int64(-62135596800000000), int64(-1),
			[]any{}, []any{}, []any{}, []any{}, []any{}, []any{}, []any{}, ""},
		want: []any{"3", "-2147483648", "-9223372036854775808", "18446744073709551615", "-999.99", "-0.999999999",
			"99999999999999.9999", "-99999999999999999999", "-9999999999999999999999999999.9999999999", d65,
			"NaN", nan, posInf, false, "", "", "00000000-0000-0000-0000-000000000000",
			"0001-01-01", "00:00:00", "3020399000000", "0001-01-01 00:00:00", "1969-12-31 23:59:59.999999+00",
			[]any{}, []any{}, []any{}, []any{}, []any{}, []any{}, []any{}, ""},
	}, {
		in: []any{int64(4), int64(math.MaxInt32), int64(math.MaxInt64), uint64(0), big.NewInt(0), big.NewInt(0),
			nines(18, true), big.NewInt(0), big.NewInt(1), big.NewInt(0),
			"-0.00001", float32(math.Copysign(0, -1)), math.Inf(-1), true, blob, long, "ffffffff-ffff-ffff-ffff-ffffffffffff",
			int64(-1), int64(86399999999), int64(0), int64(253402300799999999), int64(-62135596800000000),
			[]any{nil}, []any{nil}, []any{[]any{}}, []any{nil}, []any{nil}, []any{nil}, []any{nil}, "z"},
		want: []any{"4", "2147483647", "9223372036854775807", "0", "0.00", "0.000000000",
			"-99999999999999.9999", "0", "0.0000000001", "0." + strings.Repeat("0", 30),
			"-0.00001", negZero, negInf, true, hex.EncodeToString(blob), long, "ffffffff-ffff-ffff-ffff-ffffffffffff",
			"1969-12-31", "23:59:59.999999", "0", "9999-12-31 23:59:59.999999", "0001-01-01 00:00:00+00",
			[]any{nil}, []any{nil}, []any{[]any{}}, []any{nil}, []any{nil}, []any{nil}, []any{nil}, "z"},
	}, {
		// Years before 1 (DuckDB's "(BC)"), more floats, ints accepted as
		// int and int32, []byte for strings and strings for bytes.
		in: []any{int64(5), int32(-1), 7, uint64(1 << 63), big.NewInt(-1), big.NewInt(5),
			big.NewInt(0), big.NewInt(-1), bigInt("-1"), big.NewInt(-5),
			[]byte("1e1000"), float32(math.MaxFloat32), 5e-324, false, "str as bytes", []byte("bytes as\x00str"), "u",
			int64(-719163), int64(1), int64(-1), int64(-1), int64(253402300799999999),
			[]any{int32(7)}, []any{[]byte("b")}, []any{[]any{nil}, []any{int64(-1)}}, []any{big.NewInt(999999999), big.NewInt(-9999999999)},
			[]any{"s"}, []any{int64(math.MinInt64 / 4)}, []any{int64(-719163)}, "é"},
		want: []any{"5", "-1", "7", "9223372036854775808", "-0.01", "0.000000005",
			"0.0000", "-1", "-0.0000000001", "-0." + strings.Repeat("0", 29) + "5",
			"1e1000", float64(float32(math.MaxFloat32)), 5e-324, false, hex.EncodeToString([]byte("str as bytes")), "bytes as\x00str", "u",
			"0000-12-31", "00:00:00.000001", "-1", "1969-12-31 23:59:59.999999", "9999-12-31 23:59:59.999999+00",
			[]any{"7"}, []any{"b"}, []any{[]any{nil}, []any{"-1"}}, []any{"999999.999", "-9999999.999"},
			[]any{"73"}, []any{"-71100-09-29 04:59:46.306048+00"}, []any{"0000-12-31"}, "é"},
	}, {
		in: []any{int64(6), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, float32(0.1), 0.1, nil, nil, nil, nil,
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		want: []any{"6", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, float64(float32(0.1)), 0.1, nil, nil, nil, nil,
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
	}}
}

// writeFile writes rows to a new Parquet file and returns its path.
func writeFile(t testing.TB, tbl *cdc.Table, codec string, meta map[string]string, rows [][]any) (string, *parquet.Writer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "part-00000.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := parquet.NewWriter(f, tbl, codec, meta)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if w.Size() != st.Size() || w.Rows() != int64(len(rows)) {
		t.Fatalf("after Close: Size() = %d, Rows() = %d; file has %d bytes, %d rows written", w.Size(), w.Rows(), st.Size(), len(rows))
	}
	return path, w
}

// query runs sql through DuckDB, failing the test on error.
func query(t testing.TB, db *testserver.DuckDB, sql string) []map[string]any {
	t.Helper()
	rows, err := db.Query(ctxT(t), sql)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func lit(path string) string { return testserver.DuckDBString(path) }

// TestAllKinds writes every kind (NULLs, edge values) with every codec
// and reads the files back with DuckDB.
func TestAllKinds(t *testing.T) {
	t.Parallel()
	db := testserver.DuckDBT(t)
	tbl := allKindsTable()
	rows := allKindsRows()
	in := make([][]any, len(rows))
	for i, r := range rows {
		if len(r.in) != len(allKinds) || len(r.want) != len(allKinds) {
			t.Fatalf("test row %d has %d/%d values for %d columns", i, len(r.in), len(r.want), len(allKinds))
		}
		in[i] = r.in
	}
	meta := map[string]string{"fluxo.run": "r1", "fluxo.schema": `{"json":"é"}`}
	for _, codec := range []struct{ name, parquet string }{
		{"snappy", "SNAPPY"}, {"zstd", "ZSTD"}, {"deflate", "GZIP"}, {"none", "UNCOMPRESSED"},
	} {
		t.Run(codec.name, func(t *testing.T) {
			t.Parallel()
			path, _ := writeFile(t, tbl, codec.name, meta, in)
			got := query(t, db, "SELECT * FROM read_parquet("+lit(path)+") ORDER BY id")
			if len(got) != len(rows) {
				t.Fatalf("DuckDB read %d rows, want %d", len(got), len(rows))
			}
			for i, r := range rows {
				if len(got[i]) != len(allKinds) {
					t.Errorf("row %d: %d columns, want %d: %v", i, len(got[i]), len(allKinds), got[i])
				}
				for j, k := range allKinds {
					if !sameValue(got[i][k.col.Name], r.want[j]) {
						t.Errorf("row id=%v column %s: DuckDB read %#v, want %#v", r.want[0], k.col.Name, got[i][k.col.Name], r.want[j])
					}
				}
			}
			meta := query(t, db, "SELECT DISTINCT compression FROM parquet_metadata("+lit(path)+")")
			if len(meta) != 1 || meta[0]["compression"] != codec.parquet {
				t.Errorf("compression = %v, want %s", meta, codec.parquet)
			}
		})
	}

	t.Run("types", func(t *testing.T) {
		t.Parallel()
		path, _ := writeFile(t, tbl, "snappy", meta, in)
		desc := query(t, db, "DESCRIBE SELECT * FROM read_parquet("+lit(path)+")")
		if len(desc) != len(allKinds) {
			t.Fatalf("DESCRIBE: %d columns, want %d", len(desc), len(allKinds))
		}
		for i, k := range allKinds {
			if desc[i]["column_name"] != k.col.Name || desc[i]["column_type"] != k.duck {
				t.Errorf("column %d: DuckDB type %v %v, want %s %s", i, desc[i]["column_name"], desc[i]["column_type"], k.col.Name, k.duck)
			}
		}
		checkSchema(t, db, path)

		kv := query(t, db, "SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata("+lit(path)+") ORDER BY k")
		wantKV := []map[string]any{{"k": "fluxo.run", "v": "r1"}, {"k": "fluxo.schema", "v": `{"json":"é"}`}}
		if !reflect.DeepEqual(kv, wantKV) {
			t.Errorf("key-value metadata = %v, want %v", kv, wantKV)
		}
	})
}

// checkSchema compares the file's Parquet schema (parquet_schema) with the
// intended physical and logical types: every column OPTIONAL, arrays as
// 3-level LISTs with OPTIONAL elements.
func checkSchema(t *testing.T, db *testserver.DuckDB, path string) {
	t.Helper()
	schema := query(t, db, "SELECT * FROM parquet_schema("+lit(path)+")")
	i := 1 // schema[0] is the root
	if len(schema) == 0 || schema[0]["num_children"] != strconv.Itoa(len(allKinds)) {
		t.Fatalf("root = %v", schema)
	}
	next := func() map[string]any {
		if i >= len(schema) {
			t.Fatalf("parquet_schema ends after %d elements", i)
		}
		i++
		return schema[i-1]
	}
	for _, k := range allKinds {
		e := next()
		if e["name"] != k.col.Name || e["repetition_type"] != "OPTIONAL" {
			t.Errorf("column %s: schema element %v", k.col.Name, e)
			continue
		}
		for c := &k.col; c.Kind == cdc.KindArray; c = c.Elem {
			if e["logical_type"] != "ListType()" || e["converted_type"] != "LIST" || e["num_children"] != "1" {
				t.Errorf("column %s: list element %v", k.col.Name, e)
			}
			if l := next(); l["name"] != "list" || l["repetition_type"] != "REPEATED" || l["num_children"] != "1" {
				t.Errorf("column %s: list group %v", k.col.Name, l)
			}
			if e = next(); e["name"] != "element" || e["repetition_type"] != "OPTIONAL" {
				t.Errorf("column %s: list element %v", k.col.Name, e)
			}
		}
		if got := schemaOf(e); got != k.schema {
			t.Errorf("column %s: Parquet type %s, want %s", k.col.Name, got, k.schema)
		}
	}
	if i != len(schema) {
		t.Errorf("parquet_schema has %d elements, %d expected", len(schema), i)
	}
}

// schemaOf renders a leaf's physical type, FIXED_LEN_BYTE_ARRAY length
// and logical type (omitting the plain integer annotations parquet-go
// adds to INT32 and INT64), e.g. "FIXED_LEN_BYTE_ARRAY/9/DecimalType(...)".
func schemaOf(e map[string]any) string {
	s := fmt.Sprint(e["type"])
	if s == "FIXED_LEN_BYTE_ARRAY" {
		s += "/" + fmt.Sprint(e["type_length"])
	}
	if lt, ok := e["logical_type"].(string); ok && !strings.HasPrefix(lt, "IntType(") {
		s += "/" + lt
	}
	if e["type"] == "FIXED_LEN_BYTE_ARRAY" && e["converted_type"] != "DECIMAL" {
		s += "/converted " + fmt.Sprint(e["converted_type"])
	}
	return s
}

// sameValue compares a value read by DuckDB (as the harness renders it)
// with an expected one: strings, bools and nil exactly, float64 exactly as
// a number, slices element by element.
func sameValue(got, want any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case float64:
		n, ok := got.(json.Number)
		if !ok {
			return false
		}
		f, err := strconv.ParseFloat(string(n), 64)
		return err == nil && f == w
	case string:
		switch g := got.(type) {
		case string:
			return g == w
		case json.Number:
			return string(g) == w
		}
		return false
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameValue(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

// TestBadValues checks that wrong values are rejected with a message
// naming table.column, that nothing of the rejected row is written, and
// that the writer stays usable.
func TestBadValues(t *testing.T) {
	t.Parallel()
	db := testserver.DuckDBT(t)
	tbl := &cdc.Table{ID: cdc.TableID{Schema: "shop", Name: "orders"}, Columns: []cdc.Column{
		{Name: "id", Kind: cdc.KindInt64, Type: "bigint"},
		{Name: "s", Kind: cdc.KindString, Type: "text"},
		{Name: "a", Kind: cdc.KindArray, Type: "int[][]", Elem: &cdc.Column{Kind: cdc.KindArray, Elem: &cdc.Column{Kind: cdc.KindInt32}}},
		{Name: "d", Kind: cdc.KindDecimal, Type: "decimal(10,2)", Precision: 10, Scale: 2},
		{Name: "v", Kind: cdc.KindInt32, Type: "int"},
	}}
	cases := []struct {
		name string
		col  int
		v    any
		want string
	}{
		{"int32 overflow", 4, int64(math.MaxInt32) + 1, "orders.v: 2147483648 out of int32 range for int"},
		{"int32 as uint64", 4, uint64(1), "orders.v: want int64 for int, got uint64"},
		{"int32 as string", 4, "1", "orders.v: want int64 for int, got string"},
		{"id as float", 0, 1.5, "orders.id: want int64 for bigint, got float64"},
		{"string as int", 1, 1, "orders.s: want string for text, got int"},
		{"latin1 text", 1, "Ol\xe1", `orders.s: "Ol\xe1" is not valid UTF-8 for text: the source sent text`},
		{"latin1 text as bytes", 1, []byte("\xe3"), "is not valid UTF-8"},
		{"decimal as string", 3, "1.5", "orders.d: want *big.Int for decimal(10,2), got string"},
		{"decimal typed nil", 3, (*big.Int)(nil), "orders.d: want *big.Int for decimal(10,2), got *big.Int"},
		{"decimal too long", 3, big.NewInt(10_000_000_000), "orders.d: 10000000000 has more than 10 digits for decimal(10,2)"},
		{"decimal too long negative", 3, big.NewInt(-10_000_000_000), "has more than 10 digits"},
		{"array as []int64", 2, []int64{1}, "orders.a: want []any for int[][], got []int64"},
		{"nested array element", 2, []any{[]any{int64(1)}, []any{int64(2), int64(1) << 40}},
			"orders.a: element 1: element 1: 1099511627776 out of int32 range for int32"},
		{"inner array type", 2, []any{[]any{int64(1)}, []any{int64(2)}, "x"}, "orders.a: element 2: want []any for array, got string"},
	}
	good := func(id int64) []any {
		return []any{id, fmt.Sprint("s", id), []any{[]any{id, nil}, nil}, big.NewInt(id * 100), id}
	}
	path := filepath.Join(t.TempDir(), "bad.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := parquet.NewWriter(f, tbl, "zstd", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := int64(0)
	for _, c := range cases {
		id++
		if err := w.Write(good(id)); err != nil {
			t.Fatalf("%s: good row: %v", c.name, err)
		}
		bad := good(1000 + id)
		bad[c.col] = c.v
		err := w.Write(bad)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if err := w.Write([]any{int64(1)}); err == nil || !strings.Contains(err.Error(), "row has 1 values for 5 columns") {
		t.Errorf("short row: %v", err)
	}
	if w.Rows() != id {
		t.Errorf("Rows() = %d, want %d", w.Rows(), id)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(good(99)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Write after Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	got := query(t, db, "SELECT * FROM read_parquet("+lit(path)+") ORDER BY id")
	if len(got) != int(id) {
		t.Fatalf("read %d rows, want %d: %v", len(got), id, got)
	}
	for i, r := range got {
		n := int64(i + 1)
		want := map[string]any{"id": fmt.Sprint(n), "s": fmt.Sprint("s", n),
			"a": []any{[]any{json.Number(fmt.Sprint(n)), nil}, nil}, "d": fmt.Sprintf("%d.00", n), "v": json.Number(fmt.Sprint(n))}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("row %d = %v, want %v", i, r, want)
		}
	}
}

func TestNewWriterErrors(t *testing.T) {
	t.Parallel()
	id := cdc.TableID{Schema: "shop", Name: "orders"}
	ok := []cdc.Column{{Name: "a", Kind: cdc.KindInt32}}
	for _, c := range []struct {
		name  string
		cols  []cdc.Column
		codec string
		want  string
	}{
		{"codec", ok, "lz4", `parquet: unknown codec "lz4" (valid: snappy, zstd, deflate, none)`},
		{"no columns", nil, "none", "parquet: table shop.orders has no columns"},
		{"duplicate", []cdc.Column{ok[0], ok[0]}, "none", `duplicate column "a"`},
		{"invalid kind", []cdc.Column{{Name: "x"}}, "none", `parquet: table shop.orders: column "x": invalid kind`},
		{"unknown kind", []cdc.Column{{Name: "x", Kind: cdc.KindArray + 1}}, "none", `column "x": unknown kind`},
		{"decimal", []cdc.Column{{Name: "x", Kind: cdc.KindDecimal, Precision: 2, Scale: 3}}, "none", `column "x": invalid decimal(2,3)`},
		{"array", []cdc.Column{{Name: "x", Kind: cdc.KindArray}}, "none", `column "x": array without element type`},
		{"array element", []cdc.Column{{Name: "x", Kind: cdc.KindArray, Elem: &cdc.Column{Kind: cdc.KindDecimal}}}, "none",
			`column "x": array element: column "": invalid decimal(0,0)`},
	} {
		_, err := parquet.NewWriter(new(bytes.Buffer), &cdc.Table{ID: id, Columns: c.cols}, c.codec, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestEmpty checks that a writer without rows leaves a valid file.
func TestEmpty(t *testing.T) {
	t.Parallel()
	db := testserver.DuckDBT(t)
	path, _ := writeFile(t, allKindsTable(), "zstd", nil, nil)
	got := query(t, db, "SELECT count(*) AS n FROM read_parquet("+lit(path)+")")
	if len(got) != 1 || got[0]["n"] != "0" {
		t.Errorf("count = %v", got)
	}
	desc := query(t, db, "DESCRIBE SELECT * FROM read_parquet("+lit(path)+")")
	if len(desc) != len(allKinds) || desc[3]["column_type"] != "DECIMAL(20,0)" {
		t.Errorf("DESCRIBE = %v", desc)
	}
}

// TestRowGroups writes enough rows for many pages and row groups, checks
// that Size tracks the file size, and that DuckDB reads every row back
// and filters correctly on the statistics (signed decimals, NaN floats).
func TestRowGroups(t *testing.T) {
	t.Parallel()
	db := testserver.DuckDBT(t)
	tbl := &cdc.Table{ID: cdc.TableID{Schema: "s", Name: "t"}, Columns: []cdc.Column{
		{Name: "id", Kind: cdc.KindInt64},
		{Name: "d", Kind: cdc.KindDecimal, Precision: 30, Scale: 2},
		{Name: "s", Kind: cdc.KindString},
		{Name: "f", Kind: cdc.KindFloat64},
		{Name: "a", Kind: cdc.KindArray, Elem: &cdc.Column{Kind: cdc.KindDecimal, Precision: 12, Scale: 0}},
	}}
	const n = 60000
	for _, codec := range []string{"none", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "t.parquet")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w, err := parquet.NewWriter(f, tbl, codec, nil)
			if err != nil {
				t.Fatal(err)
			}
			w.SetRowGroupSize(512 << 10)
			var sizes []int64
			for i := range int64(n) {
				// d alternates in sign so that unsigned statistics
				// would be wrong; f has NaNs.
				d := big.NewInt(i * 37)
				if i%3 == 0 {
					d.Neg(d)
				}
				fl := float64(i)
				if i%1000 == 0 {
					fl = math.NaN()
				}
				var s any = fmt.Sprintf("row %d %s", i, strings.Repeat("x", int(i%50)))
				if i%7 == 0 {
					s = nil
				}
				if err := w.Write([]any{i, d, s, fl, []any{big.NewInt(-i), nil, big.NewInt(i)}}); err != nil {
					t.Fatal(err)
				}
				if i%5000 == 4999 {
					sizes = append(sizes, w.Size())
				}
			}
			before := w.Size()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			st, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d bytes; Size() before Close %d; every 5000 rows %v", codec, st.Size(), before, sizes)
			if diff := math.Abs(float64(before-st.Size())) / float64(st.Size()); diff > 0.05 {
				t.Errorf("Size() before Close = %d, file has %d bytes (%.1f%% off)", before, st.Size(), 100*diff)
			}
			for i := 1; i < len(sizes) && codec == "none"; i++ {
				// With compression the estimate drops once the first
				// pages show the ratio.
				if sizes[i] <= sizes[i-1] {
					t.Errorf("Size() not increasing: %v", sizes)
				}
			}
			if w.Size() != st.Size() {
				t.Errorf("Size() after Close = %d, file has %d bytes", w.Size(), st.Size())
			}

			rg := query(t, db, "SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata("+lit(path)+")")
			if groups, _ := strconv.Atoi(fmt.Sprint(rg[0]["n"])); groups < 3 {
				t.Errorf("%v row groups, want several", rg[0]["n"])
			}
			src := "read_parquet(" + lit(path) + ")"
			got := query(t, db, `SELECT count(*) AS n, sum(id) AS ids, count(s) AS strs, sum(d) AS d,
				count(*) FILTER (WHERE d < 0) AS neg, count(*) FILTER (WHERE isnan(f)) AS nans,
				sum(list_sum(a)) AS asum, sum(len(a)) AS alen FROM `+src)
			var sumD, neg, strs int64
			for i := range int64(n) {
				if i%3 == 0 {
					sumD -= i * 37
					if i != 0 {
						neg++
					}
				} else {
					sumD += i * 37
				}
				if i%7 != 0 {
					strs++
				}
			}
			want := map[string]any{"n": "60000", "ids": fmt.Sprint(n * (n - 1) / 2), "strs": fmt.Sprint(strs),
				"d": fmt.Sprintf("%d.%02d", sumD/100, abs(sumD%100)), "neg": fmt.Sprint(neg), "nans": "60",
				"asum": "0", "alen": fmt.Sprint(3 * n)}
			if !reflect.DeepEqual(got[0], want) {
				t.Errorf("aggregates = %v, want %v", got[0], want)
			}
			// Statistics-based pruning must not lose rows.
			for _, c := range []struct{ where, want string }{
				{"d < -20000", fmt.Sprint(countNeg(n, 2000000))},
				{"d = -37.00", "0"}, {"d = -1.11", "1"}, {"d > 22199.00", fmt.Sprint(countPos(n, 2219900))},
				{"f BETWEEN 59990.5 AND 1e300", "9"}, {"id BETWEEN 29990 AND 30010", "21"}, {"s = 'row 59999 " + strings.Repeat("x", 59999%50) + "'", "1"},
			} {
				got := query(t, db, "SELECT count(*) AS n FROM "+src+" WHERE "+c.where)
				if got[0]["n"] != c.want {
					t.Errorf("WHERE %s: %v rows, want %s", c.where, got[0]["n"], c.want)
				}
			}
		})
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// countNeg counts the rows whose d (unscaled) is below -limit.
func countNeg(n, limit int64) int64 {
	c := int64(0)
	for i := range n {
		if i%3 == 0 && i*37 > limit {
			c++
		}
	}
	return c
}

// countPos counts the rows whose d (unscaled) is above limit.
func countPos(n, limit int64) int64 {
	c := int64(0)
	for i := range n {
		if i%3 != 0 && i*37 > limit {
			c++
		}
	}
	return c
}

// TestStatistics checks the column chunk statistics DuckDB prunes row
// groups with: decimals ordered as signed numbers, floats without NaN in
// their bounds (parquet-go's own bounds are wrong for pages holding NaN),
// zeros as -0/+0. Every batch of 256 rows is its own row group.
func TestStatistics(t *testing.T) {
	t.Parallel()
	db := testserver.DuckDBT(t)
	tbl := &cdc.Table{ID: cdc.TableID{Schema: "s", Name: "t"}, Columns: []cdc.Column{
		{Name: "f", Kind: cdc.KindFloat64}, {Name: "g", Kind: cdc.KindFloat32},
		{Name: "d", Kind: cdc.KindDecimal, Precision: 10, Scale: 0},
		{Name: "e", Kind: cdc.KindDecimal, Precision: 30, Scale: 0},
		{Name: "u", Kind: cdc.KindUint64},
	}}
	path := filepath.Join(t.TempDir(), "stats.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := parquet.NewWriter(f, tbl, "none", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.SetRowGroupSize(0)
	const n = 3072 // 12 row groups
	for i := range n {
		v := float64(i)
		switch {
		case i%2 == 0 && i < 2560:
			v = math.NaN() // NaN in every other row of the first 10 groups
		case i >= 2560 && i < 2816:
			v = 0 // group 10: zeros only
		}
		var d, e any = big.NewInt(int64(i - 1500)), big.NewInt(int64(1500 - i))
		if i >= 2816 {
			d, e = nil, nil // group 11: nulls only
		}
		if err := w.Write([]any{v, float32(v), d, e, uint64(i) << 52}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	src := "read_parquet(" + lit(path) + ")"
	for _, c := range []struct{ where, want string }{
		{"f BETWEEN 2305 AND 2550", "123"}, {"g BETWEEN 2305 AND 2550", "123"},
		{"f > 2800", "1536"}, // 2801..3071 odd, 2816..3071, and NaN (the largest in DuckDB's order)
		{"f = 0", "256"}, {"g = 0", "256"}, {"f < 0", "0"}, {"isnan(f)", "1280"},
		{"d < -1000", "500"}, {"d BETWEEN -10 AND 10", "21"}, {"d > 1200", "115"},
		{"e > 1000", "500"}, {"e BETWEEN -10 AND 10", "21"}, {"e < -1200", "115"},
		{"u > 9000000000000000000", fmt.Sprint(n - 1999)},
	} {
		got := query(t, db, "SELECT count(*) AS n FROM "+src+" WHERE "+c.where)
		if got[0]["n"] != c.want {
			t.Errorf("WHERE %s: %v rows, want %s", c.where, got[0]["n"], c.want)
		}
	}
	// DuckDB shows the bounds -Inf/+Inf of groups with NaN as NULL.
	stats := query(t, db, `SELECT row_group_id AS rg, path_in_schema AS col, stats_min_value AS min, stats_max_value AS max
		FROM parquet_metadata(`+lit(path)+`) WHERE row_group_id IN (0, 5, 10, 11) ORDER BY rg, col`)
	want := []string{
		"0 d -1500 -1245", "0 e 1245 1500", "0 f <nil> <nil>", "0 g <nil> <nil>", "0 u 0 1148417904979476480",
		"5 d -220 35", "5 e -35 220", "5 f <nil> <nil>", "5 g <nil> <nil>",
		"5 u 5764607523034234880 6913025428013711360",
		"10 d 1060 1315", "10 e -1315 -1060", "10 f -0.0 0.0", "10 g -0.0 0.0",
		"10 u 11529215046068469760 12677632951047946240",
		"11 d <nil> <nil>", "11 e <nil> <nil>", "11 f 2816.0 3071.0", "11 g 2816.0 3071.0",
		"11 u 12682136550675316736 13830554455654793216",
	}
	var got []string
	for _, s := range stats {
		got = append(got, fmt.Sprint(s["rg"], " ", s["col"], " ", s["min"], " ", s["max"]))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statistics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPlainEncodings checks that no column chunk uses a DELTA encoding:
// parquet-go's default for BYTE_ARRAY is DELTA_LENGTH_BYTE_ARRAY, which
// Spark's vectorized reader only reads since 3.3 (see NewWriter).
func TestPlainEncodings(t *testing.T) {
	t.Parallel()
	db := testserver.DuckDBT(t)
	in := make([][]any, 0, len(allKinds))
	for _, r := range allKindsRows() {
		in = append(in, r.in)
	}
	path, _ := writeFile(t, allKindsTable(), "snappy", nil, in)
	encs := query(t, db, "SELECT path_in_schema AS col, encodings AS enc FROM parquet_metadata("+lit(path)+")")
	if len(encs) == 0 {
		t.Fatal("no column chunks")
	}
	for _, e := range encs {
		if enc := fmt.Sprint(e["enc"]); strings.Contains(enc, "DELTA") || !strings.Contains(enc, "PLAIN") {
			t.Errorf("column %v: encodings %s, want PLAIN", e["col"], enc)
		}
	}
}
