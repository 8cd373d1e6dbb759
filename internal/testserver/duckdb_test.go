package testserver_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

func TestDuckDB(t *testing.T) {
	t.Parallel()
	d := testserver.DuckDBT(t)
	ctx := ctxT(t)

	rows, err := d.Query(ctx, `SELECT 1::INTEGER AS i, (-9223372036854775808)::BIGINT AS big,
		1.5::FLOAT AS f, -0.0::DOUBLE AS nz, 'NaN'::DOUBLE AS nan, '\x00\xff'::BLOB AS b, ''::BLOB AS e,
		-12.340::DECIMAL(10,3) AS d, DATE '1969-12-31' AS dt, DATE '0001-01-01' - 1 AS bc, TIME '23:59:59.000001' AS tm,
		TIMESTAMP '1969-12-31 23:59:59.999999' AS ts, TIMESTAMPTZ '2020-01-01 12:00:00+02' AS tz,
		[[1, 2], [], NULL] AS l, ['\x01'::BLOB] AS lb, 'é''x' AS s, NULL AS n, true AS t
		FROM range(2)`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"i": json.Number("1"), "big": "-9223372036854775808", "f": json.Number("1.5"),
		"nz": "-0", "nan": "NaN", "b": "00ff", "e": "", "d": "-12.340", "dt": "1969-12-31", "bc": "0000-12-31",
		"tm": "23:59:59.000001", "ts": "1969-12-31 23:59:59.999999", "tz": "2020-01-01 10:00:00+00",
		"l":  []any{[]any{json.Number("1"), json.Number("2")}, []any{}, nil},
		"lb": []any{"01"}, "s": "é'x", "n": nil, "t": true,
	}
	if len(rows) != 2 || !reflect.DeepEqual(rows[0], want) || !reflect.DeepEqual(rows[1], want) {
		t.Fatalf("rows = %#v\nwant 2 × %#v", rows, want)
	}

	// Several statements: the last one's rows; no rows: nil.
	rows, err = d.Query(ctx, "CREATE TABLE x AS SELECT 7 AS a; SELECT a, a FROM x")
	if err != nil || len(rows) != 1 || rows[0]["a"] != json.Number("7") || rows[0]["a:1"] != json.Number("7") {
		t.Fatalf("multi-statement rows = %v, %v", rows, err)
	}
	if rows, err = d.Query(ctx, "SELECT 1 WHERE false"); err != nil || rows != nil {
		t.Fatalf("empty result = %v, %v", rows, err)
	}

	// Errors carry DuckDB's message.
	if _, err := d.Query(ctx, "SELECT * FROM no_such_table"); err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("bad query error = %v", err)
	}

	// Extensions are never fetched: a known but not built-in extension
	// fails instead of being downloaded.
	if _, err := d.Query(ctx, "SELECT * FROM read_xlsx('x.xlsx')"); err == nil {
		t.Fatal("read_xlsx worked although extension autoloading is off")
	}
	rows, err = d.Query(ctx, "SELECT current_setting('autoinstall_known_extensions') AS i, current_setting('autoload_known_extensions') AS l")
	if err != nil || len(rows) != 1 || rows[0]["i"] != false || rows[0]["l"] != false {
		t.Fatalf("extension settings = %v, %v", rows, err)
	}

	// Files: a path needing quoting, through DuckDBString and DuckDBQuery.
	dir := filepath.Join(t.TempDir(), "it's")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "t.parquet")
	if _, err := testserver.DuckDBQuery(ctx, "COPY (SELECT 5 AS v) TO "+testserver.DuckDBString(path)+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	rows, err = testserver.DuckDBQuery(ctx, "SELECT v FROM read_parquet("+testserver.DuckDBString(path)+")")
	if err != nil || len(rows) != 1 || rows[0]["v"] != json.Number("5") {
		t.Fatalf("parquet round trip = %v, %v", rows, err)
	}
}
