package postgres

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// testFilter is a cdc.Filter for the tests: tables match a glob on
// "schema.table", excluded columns are "schema.table.column".
type testFilter struct {
	tables   string // glob; "" matches every table in public
	excluded []string
	keys     map[string][]string
}

func (f testFilter) Match(schema, table string) bool {
	pat := f.tables
	if pat == "" {
		pat = "public.*"
	}
	ok, _ := path.Match(pat, schema+"."+table)
	return ok
}

func (f testFilter) ExcludedColumn(schema, table, column string) bool {
	return slices.Contains(f.excluded, schema+"."+table+"."+column)
}

func (f testFilter) KeyColumns(schema, table string) []string { return f.keys[schema+"."+table] }

// dumpEnv is a test server for the dumper tests; each test gets its own
// database.
type dumpEnv struct {
	p  *testserver.Postgres
	mu sync.Mutex
	n  int
}

// newDB creates a database, runs setup in it and returns its superuser DSN
// and a connection to it.
func (e *dumpEnv) newDB(t *testing.T, setup string) (string, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	e.mu.Lock()
	e.n++
	name := fmt.Sprintf("d%d", e.n)
	e.mu.Unlock()
	admin, err := pgx.Connect(ctx, e.p.SuperuserDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	dsn := e.p.SuperuserDSN(name)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if setup != "" {
		if _, err := conn.Exec(ctx, setup); err != nil {
			t.Fatal(err)
		}
	}
	return dsn, conn
}

// openDumper opens a dumper that the test closes at its end.
func openDumper(t *testing.T, o DumpOptions) *Dumper {
	t.Helper()
	if o.Logger == nil {
		o.Logger = discardLogger()
	}
	d, err := OpenDumper(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// tablesByName returns the dumper's tables by name.
func tablesByName(t *testing.T, d *Dumper) map[string]cdc.DumpTable {
	t.Helper()
	ts, err := d.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]cdc.DumpTable{}
	for _, dt := range ts {
		m[dt.Table.ID.Name] = dt
	}
	return m
}

// readAll reads chunk c and returns copies of its rows.
func readAll(t *testing.T, d *Dumper, c cdc.Chunk) [][]any {
	t.Helper()
	rows, err := readRowsOf(d, c)
	if err != nil {
		t.Fatalf("read %+v: %v", c, err)
	}
	return rows
}

func readRowsOf(d *Dumper, c cdc.Chunk) ([][]any, error) {
	var rows [][]any
	err := d.Read(context.Background(), c, func(row []any) error {
		rows = append(rows, slices.Clone(row))
		return nil
	})
	return rows, err
}

// ids returns the int64 first column of rows, sorted.
func ids(rows [][]any) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r[0].(int64)
	}
	slices.Sort(out)
	return out
}

func ptr(v int64) *int64 { return &v }

func TestDumper(t *testing.T) {
	env := &dumpEnv{p: testserver.PostgresT(t, testserver.PostgresOptions{})}
	t.Run("types", func(t *testing.T) { testDumpTypes(t, env) })
	t.Run("bulk binary equals text", func(t *testing.T) { testDumpBulkTypes(t, env) })
	t.Run("key chunks", func(t *testing.T) { testDumpKeyChunks(t, env) })
	t.Run("page chunks", func(t *testing.T) { testDumpPageChunks(t, env) })
	t.Run("splits and partitions", func(t *testing.T) { testDumpSplits(t, env) })
	t.Run("consistency", func(t *testing.T) { testDumpConsistency(t, env) })
	t.Run("concurrent reads", func(t *testing.T) { testDumpConcurrent(t, env) })
	t.Run("dropped tables", func(t *testing.T) { testDumpDropped(t, env) })
	t.Run("filter", func(t *testing.T) { testDumpFilter(t, env) })
	t.Run("errors and cancellation", func(t *testing.T) { testDumpErrors(t, env) })
	t.Run("info and privileges", func(t *testing.T) { testDumpInfo(t, env) })
}

// sameDeep compares decoded values as sameValue does, arrays element-wise.
func sameDeep(a, b any) bool {
	x, ok1 := a.([]any)
	y, ok2 := b.([]any)
	if !ok1 && !ok2 {
		return sameValue(a, b)
	}
	if !ok1 || !ok2 || len(x) != len(y) {
		return false
	}
	for i := range x {
		if !sameDeep(x[i], y[i]) {
			return false
		}
	}
	return true
}

// testDumpTypes reads every case of types_test.go, one row per chunk, in
// binary (where a decoder exists) and in text, and checks both against each
// other and against the server's own computation of the value.
func testDumpTypes(t *testing.T, env *dumpEnv) {
	ctx := context.Background()
	dsn, conn := env.newDB(t, "")
	if _, err := conn.Exec(ctx, sessionSetup); err != nil {
		t.Fatal(err)
	}
	cases := createTypeTables(t, ctx, conn)
	d := openDumper(t, DumpOptions{DSN: dsn, Filter: testFilter{tables: "public.c_*"}, Parallelism: 2})
	tables := tablesByName(t, d)
	binary := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dt, ok := tables["c_"+tc.name]
			if !ok {
				t.Fatal("table not listed")
			}
			col := dt.Table.Columns[1]
			if col.Kind != tc.want.Kind || col.Optional == tc.notNull || col.Precision != tc.want.Precision ||
				col.Scale != tc.want.Scale || col.SemanticName != tc.want.SemanticName {
				t.Fatalf("column %s, want %s", describe(col), describe(tc.want))
			}
			if dt.Split != cdc.SplitKey || dt.KeyColumn != 0 || dt.KeyMin != 1 || dt.KeyMax != int64(len(tc.values)) {
				t.Fatalf("split %+v", dt)
			}
			if d.tables[dt.Table.ID].formats[1] == 1 {
				binary++
			}
			q := fmt.Sprintf("SELECT id, %s, %s FROM c_%s ORDER BY id", expectSQL(&col, "v"),
				map[bool]string{true: dimsSQL, false: "''"}[col.Kind == cdc.KindArray], tc.name)
			rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
			if err != nil {
				t.Fatal(err)
			}
			type expect struct {
				id   int64
				want []byte
				dims string
			}
			var exp []expect
			for rows.Next() {
				raw := rows.RawValues()
				id, _ := parseInt(raw[0])
				exp = append(exp, expect{id, slices.Clone(raw[1]), string(raw[2])})
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			for _, e := range exp {
				read := func(text bool) (any, error) {
					d.textOnly = text
					defer func() { d.textOnly = false }()
					var got any
					err := d.Read(ctx, cdc.Chunk{Table: dt.Table.ID, Lo: ptr(e.id), Hi: ptr(e.id)}, func(row []any) error {
						got = row[1]
						return nil
					})
					return got, err
				}
				bin, berr := read(false)
				txt, terr := read(true)
				switch {
				case (berr == nil) != (terr == nil):
					t.Errorf("row %d: binary error %v, text error %v", e.id, berr, terr)
				case berr != nil && berr.Error() != terr.Error():
					t.Errorf("row %d: binary error %q, text error %q", e.id, berr, terr)
				case berr == nil && !sameDeep(bin, txt):
					t.Errorf("row %d: binary %#v, text %#v", e.id, bin, txt)
				}
				if berr != nil && !strings.Contains(berr.Error(), "c_"+tc.name) {
					t.Errorf("row %d: error %q does not name the table", e.id, berr)
				}
				if msg := compareValue(&col, bin, berr, e.want, e.dims); msg != "" {
					t.Errorf("row %d: %s", e.id, msg)
				}
			}
		})
	}
	if binary < 20 {
		t.Errorf("only %d cases read in binary", binary)
	}
}

// bulkSetup creates a table with a column of every type that has a binary
// decoder (and a few that do not), filled with pseudo-random values, edge
// values and NULLs.
const bulkSetup = `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN price AS numeric(10,2);
CREATE DOMAIN posint AS int8 CHECK (VALUE > 0);
CREATE TABLE everything (
	id int8 PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, o oid, f4 float4, f8 float8,
	n numeric(12,2), n38 numeric(38,10), nneg numeric(4,-2), ntiny numeric(3,5), nfree numeric, m money,
	t text, vc varchar(20), bp char(5), nm name, js json, jb jsonb, by bytea, u uuid,
	d date, dnn date NOT NULL, tm time, ts timestamp, tsnn timestamp NOT NULL, tstz timestamptz,
	e mood, dom price, pos posint, arr int4[], iv interval, nnn numeric(12,2) NOT NULL);
SELECT setseed(0.42);
INSERT INTO everything SELECT g,
	CASE WHEN g % 7 = 0 THEN NULL ELSE g % 2 = 0 END,
	CASE WHEN g % 11 = 0 THEN NULL ELSE ((random() - 0.5) * 65535)::int2 END,
	((random() - 0.5) * 4294967295)::int8::int4,
	CASE WHEN g % 13 = 0 THEN NULL ELSE ((random() - 0.5) * 1.8e19)::numeric::int8 END,
	(random() * 4294967295)::int8::oid,
	CASE g % 50 WHEN 1 THEN 'NaN'::float4 WHEN 2 THEN '-Infinity' WHEN 3 THEN '-0' ELSE ((random() - 0.5) * 1e10)::float4 END,
	CASE g % 50 WHEN 1 THEN 'NaN'::float8 WHEN 2 THEN 'Infinity' WHEN 3 THEN '-0' WHEN 4 THEN 'Infinity'::float8 - 'Infinity'::float8
		ELSE (random() - 0.5) * 10 ^ (random() * 600 - 300) END,
	CASE g % 50 WHEN 1 THEN 'NaN' WHEN 2 THEN NULL ELSE ((random() - 0.5) * 2e10)::numeric(12,2) END,
	CASE g % 50 WHEN 1 THEN 'NaN' WHEN 2 THEN 0
		ELSE ((CASE WHEN g % 2 = 0 THEN '-' ELSE '' END) || floor(random() * 1e15)::text || floor(random() * 1e13)::text
			|| '.' || lpad(floor(random() * 1e10)::text, 10, '0'))::numeric(38,10) END,
	((random() - 0.5) * 1e6)::numeric(4,-2),
	((random() - 0.5) * 1e-2)::numeric(3,5),
	CASE g % 50 WHEN 1 THEN 'NaN' WHEN 2 THEN 'Infinity' WHEN 3 THEN '-Infinity'
		ELSE ((random() - 0.5) * 10 ^ (random() * 40 - 20))::numeric END,
	CASE g % 50 WHEN 1 THEN '92233720368547758.07'::money WHEN 2 THEN '-92233720368547758.08'::money
		ELSE ((random() - 0.5) * 1e12)::numeric::money END,
	CASE WHEN g % 17 = 0 THEN NULL WHEN g % 17 = 1 THEN '' ELSE md5(g::text) || ' héllo 😀 ' || repeat('x', g % 300) END,
	left(md5(random()::text), (g % 21)),
	left(md5(random()::text), (g % 6)),
	md5(g::text),
	('{"a": [1, 2.50], "g": ' || g || '}')::json,
	('{"b": ' || g || ', "a": "😀", "n": null}')::jsonb,
	CASE WHEN g % 19 = 0 THEN '' ELSE decode(md5(g::text) || md5((g + 1)::text), 'hex') END,
	md5(g::text)::uuid,
	CASE g % 50 WHEN 1 THEN 'infinity'::date WHEN 2 THEN '-infinity' WHEN 3 THEN '4713-01-01 BC' WHEN 4 THEN '5874897-12-31'
		ELSE date '2000-01-01' + ((random() - 0.5) * 1.5e6)::int END,
	CASE g % 50 WHEN 1 THEN 'infinity'::date WHEN 2 THEN '-infinity' ELSE date '1970-01-01' + (g % 1000) END,
	CASE g % 50 WHEN 1 THEN '24:00:00'::time ELSE time '00:00' + random() * interval '24 hours' END,
	CASE g % 50 WHEN 1 THEN 'infinity'::timestamp WHEN 2 THEN '-infinity' WHEN 3 THEN '4713-01-01 00:00:00 BC'
		WHEN 4 THEN '294247-01-10 04:00:54.775807' WHEN 5 THEN '0044-03-15 12:00:00.5 BC'
		ELSE timestamp '1970-01-01' + ((random() - 0.5) * 2e16)::int8 * interval '1 microsecond' END,
	CASE g % 50 WHEN 1 THEN 'infinity'::timestamp WHEN 2 THEN '-infinity'
		ELSE timestamp '2024-01-01' + g * interval '1.000001 second' END,
	CASE g % 50 WHEN 1 THEN 'infinity'::timestamptz WHEN 2 THEN '-infinity' WHEN 3 THEN '1800-01-01 00:00:00+00'
		ELSE timestamptz '1970-01-01 00:00+00' + ((random() - 0.5) * 2e16)::int8 * interval '1 microsecond' END,
	(ARRAY['sad', 'ok', 'happy', NULL])[1 + g % 4]::mood,
	((random() - 0.5) * 1e8)::numeric(10,2)::price,
	1 + g,
	CASE WHEN g % 5 = 0 THEN NULL ELSE ARRAY[g, NULL, -g] END,
	g * interval '1 day 1.5 second',
	((random() - 0.5) * 2e10)::numeric(12,2)
FROM generate_series(1, 6000) g;`

// testDumpBulkTypes reads a table of every type in binary and in text and
// compares every value.
func testDumpBulkTypes(t *testing.T, env *dumpEnv) {
	dsn, _ := env.newDB(t, bulkSetup)
	log, warnings := countingLogger()
	d := openDumper(t, DumpOptions{DSN: dsn, Filter: testFilter{}, Parallelism: 1, Logger: log})
	tables := tablesByName(t, d)
	dt := tables["everything"]
	dtab := d.tables[dt.Table.ID]
	var text []string
	for i, c := range dt.Table.Columns {
		if dtab.formats[i] == 0 {
			text = append(text, c.Name)
		}
	}
	if want := []string{"nfree", "arr", "iv"}; !slices.Equal(text, want) {
		t.Errorf("columns read as text: %v, want %v", text, want)
	}
	c := cdc.Chunk{Table: dt.Table.ID}
	bin := readAll(t, d, c)
	d.textOnly = true
	txt := readAll(t, d, c)
	d.textOnly = false
	if len(bin) != 6000 || len(txt) != 6000 {
		t.Fatalf("%d and %d rows, want 6000", len(bin), len(txt))
	}
	byID := map[int64][]any{}
	for _, r := range txt {
		byID[r[0].(int64)] = r
	}
	nulls := 0
	for _, r := range bin {
		want := byID[r[0].(int64)]
		for i := range r {
			if r[i] == nil {
				nulls++
			}
			if !sameDeep(r[i], want[i]) {
				t.Errorf("id %v column %s: binary %#v, text %#v", r[0], dt.Table.Columns[i].Name, r[i], want[i])
			}
		}
	}
	if nulls == 0 {
		t.Error("no NULLs read")
	}
	if *warnings == 0 {
		t.Error("no fallback warnings for the infinities")
	}
}

// testDumpKeyChunks checks that key ranges cover the table exactly.
func testDumpKeyChunks(t *testing.T, env *dumpEnv) {
	dsn, _ := env.newDB(t, `CREATE TABLE k8 (id int8 PRIMARY KEY, v text);
		INSERT INTO k8 SELECT g * 3 - 5000, 'v' || g FROM generate_series(1, 5000) g WHERE g % 7 <> 0;
		CREATE TABLE k2 (id int2 PRIMARY KEY, v text);
		INSERT INTO k2 SELECT g, 'v' FROM generate_series(-32768, 32767, 97) g;
		CREATE TABLE kempty (id int4 PRIMARY KEY);`)
	d := openDumper(t, DumpOptions{DSN: dsn, Filter: testFilter{}, Parallelism: 3})
	tables := tablesByName(t, d)
	if e := tables["kempty"]; e.Split != cdc.SplitKey || !e.Empty || e.KeyMin != 0 || e.KeyMax != 0 {
		t.Errorf("empty table: %+v", e)
	}
	if rows := readAll(t, d, cdc.Chunk{Table: tables["kempty"].Table.ID, Lo: ptr(0), Hi: ptr(10)}); len(rows) != 0 {
		t.Errorf("%d rows in an empty table", len(rows))
	}
	for _, name := range []string{"k8", "k2"} {
		t.Run(name, func(t *testing.T) {
			dt := tables[name]
			if dt.Split != cdc.SplitKey || dt.Empty || dt.KeyColumn != 0 {
				t.Fatalf("%+v", dt)
			}
			all := ids(readAll(t, d, cdc.Chunk{Table: dt.Table.ID}))
			if all[0] != dt.KeyMin || all[len(all)-1] != dt.KeyMax {
				t.Fatalf("key range [%d, %d], rows from %d to %d", dt.KeyMin, dt.KeyMax, all[0], all[len(all)-1])
			}
			for _, n := range []int64{1, 2, 7, 100} {
				step := (dt.KeyMax-dt.KeyMin)/n + 1
				var got []int64
				for lo := dt.KeyMin; lo <= dt.KeyMax; lo += step {
					c := cdc.Chunk{Table: dt.Table.ID, Lo: ptr(lo), Hi: ptr(lo + step - 1)}
					switch {
					case lo == dt.KeyMin:
						c.Lo = nil // the first and last chunks are open
					case lo+step > dt.KeyMax:
						c.Hi = nil
					}
					got = append(got, ids(readAll(t, d, c))...)
				}
				slices.Sort(got)
				if !slices.Equal(got, all) {
					t.Fatalf("%d chunks: %d rows, want %d, or not each once", n, len(got), len(all))
				}
			}
			// Bounds beyond the column's type.
			if got := readAll(t, d, cdc.Chunk{Table: dt.Table.ID, Lo: ptr(-1 << 62), Hi: ptr(1 << 62)}); len(got) != len(all) {
				t.Fatalf("wide range: %d rows, want %d", len(got), len(all))
			}
		})
	}
}

// testDumpPageChunks checks that page ranges over a multi-page table cover
// every row of the snapshot exactly once, while other sessions move rows
// to new pages.
func testDumpPageChunks(t *testing.T, env *dumpEnv) {
	dsn, conn := env.newDB(t, `CREATE TABLE heap (id int8, pad text);
		INSERT INTO heap SELECT g, repeat('p', 200) FROM generate_series(1, 20000) g;
		DELETE FROM heap WHERE id % 5 = 0;`)
	d := openDumper(t, DumpOptions{DSN: dsn, Filter: testFilter{}, Parallelism: 4})
	ctx := context.Background()
	// After the snapshot: updates move rows to new pages, inserts add pages,
	// a VACUUM may reuse the space of the deleted rows.
	for _, sql := range []string{"UPDATE heap SET pad = 'moved' WHERE id % 3 = 0", "VACUUM heap",
		"INSERT INTO heap SELECT g, repeat('n', 200) FROM generate_series(20001, 25000) g",
		"DELETE FROM heap WHERE id % 7 = 0"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	dt := tablesByName(t, d)["heap"]
	if dt.Split != cdc.SplitPages || dt.Pages < 100 || len(dt.Table.Key) != 0 {
		t.Fatalf("%+v", dt)
	}
	var want []int64
	for i := int64(1); i <= 20000; i++ {
		if i%5 != 0 {
			want = append(want, i)
		}
	}
	for _, size := range []int64{1, 7, 64, dt.Pages} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var mu sync.Mutex
			var got []int64
			var wg sync.WaitGroup
			errs := make(chan error, dt.Pages+1)
			for first := int64(0); first < dt.Pages; first += size {
				end := first + size
				if end >= dt.Pages {
					end = 0 // the last chunk is open
				}
				wg.Go(func() {
					rows, err := readRowsOf(d, cdc.Chunk{Table: dt.Table.ID, FirstPage: first, EndPage: end})
					if err != nil {
						errs <- err
						return
					}
					for _, r := range rows {
						if r[1] != strings.Repeat("p", 200) {
							errs <- fmt.Errorf("row %v has pad %q: not the snapshot's version", r[0], r[1])
							return
						}
					}
					mu.Lock()
					got = append(got, ids(rows)...)
					mu.Unlock()
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%d rows, want %d, each once", len(got), len(want))
			}
		})
	}
	if _, err := readRowsOf(d, cdc.Chunk{Table: dt.Table.ID, Lo: ptr(1)}); err == nil {
		t.Error("a key range of a table split by pages was accepted")
	}
}

// testDumpSplits checks the split of each kind of table, and partitioned
// tables read through their root.
func testDumpSplits(t *testing.T, env *dumpEnv) {
	dsn, _ := env.newDB(t, `CREATE TABLE textpk (id text PRIMARY KEY, n int);
		INSERT INTO textpk SELECT 'k' || g, g FROM generate_series(1, 100) g;
		CREATE TABLE twopk (a int, b int, PRIMARY KEY (a, b));
		INSERT INTO twopk VALUES (1, 1), (1, 2);
		CREATE DOMAIN myid AS int8;
		CREATE TABLE dompk (id myid PRIMARY KEY);
		INSERT INTO dompk VALUES (5), (9);
		CREATE TABLE parted (id int8 PRIMARY KEY, v text) PARTITION BY RANGE (id);
		CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (1000);
		CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (1000) TO (MAXVALUE);
		INSERT INTO parted SELECT g, 'v' FROM generate_series(1, 3000) g;
		CREATE TABLE plist (k text, v int) PARTITION BY LIST (k);
		CREATE TABLE plist_a PARTITION OF plist FOR VALUES IN ('a');
		CREATE TABLE plist_b PARTITION OF plist FOR VALUES IN ('b');
		INSERT INTO plist SELECT CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, g FROM generate_series(1, 501) g;
		CREATE TABLE parent (id int8 PRIMARY KEY);
		CREATE TABLE child (x int) INHERITS (parent);
		INSERT INTO parent VALUES (1), (2);
		INSERT INTO child VALUES (3, 0);
		ANALYZE;`)
	d := openDumper(t, DumpOptions{DSN: dsn, Filter: testFilter{}, Parallelism: 2})
	tables := tablesByName(t, d)
	var names []string
	for n := range tables {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"child", "dompk", "parent", "parted", "plist", "textpk", "twopk"}; !slices.Equal(names, want) {
		t.Fatalf("tables %v, want %v (partitions under their root)", names, want)
	}
	tests := []struct {
		name  string
		split cdc.SplitKind
		rows  int
		est   int64
		key   []int
	}{
		{"textpk", cdc.SplitPages, 100, 100, []int{0}},
		{"twopk", cdc.SplitPages, 2, 2, []int{0, 1}},
		{"dompk", cdc.SplitKey, 2, 2, []int{0}},
		{"parted", cdc.SplitKey, 3000, 3000, []int{0}},
		{"plist", cdc.SplitNone, 501, 501, nil},
		{"parent", cdc.SplitKey, 2, 2, []int{0}}, // ONLY: the child is a table of its own
		{"child", cdc.SplitPages, 1, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dt := tables[tc.name]
			if dt.Split != tc.split || dt.EstimatedRows != tc.est || !slices.Equal(dt.Table.Key, tc.key) {
				t.Fatalf("split %d, estimate %d, key %v; want %d, %d, %v", dt.Split, dt.EstimatedRows, dt.Table.Key,
					tc.split, tc.est, tc.key)
			}
			if rows := readAll(t, d, cdc.Chunk{Table: dt.Table.ID}); len(rows) != tc.rows {
				t.Fatalf("%d rows, want %d", len(rows), tc.rows)
			}
			if tc.split == cdc.SplitNone {
				if _, err := readRowsOf(d, cdc.Chunk{Table: dt.Table.ID, FirstPage: 1}); err == nil {
					t.Error("a page range of a table without split was accepted")
				}
			}
		})
	}
	p := tables["parted"]
	if p.KeyMin != 1 || p.KeyMax != 3000 {
		t.Errorf("parted key range [%d, %d]", p.KeyMin, p.KeyMax)
	}
	if rows := readAll(t, d, cdc.Chunk{Table: p.Table.ID, Lo: ptr(990), Hi: ptr(1009)}); len(rows) != 20 {
		t.Errorf("%d rows across the partition bound, want 20", len(rows))
	}
}

// testDumpConsistency checks that every worker reads the snapshot of
// OpenDumper, whatever other sessions do after it.
func testDumpConsistency(t *testing.T, env *dumpEnv) {
	dsn, conn := env.newDB(t, `CREATE TABLE acct (id int8 PRIMARY KEY, balance int);
		INSERT INTO acct SELECT g, 100 FROM generate_series(1, 1000) g;`)
	ctx := context.Background()
	d := openDumper(t, DumpOptions{DSN: dsn, Filter: testFilter{}, Parallelism: 3})
	for _, sql := range []string{
		"INSERT INTO acct SELECT g, 1 FROM generate_series(1001, 2000) g",
		"DELETE FROM acct WHERE id <= 100",
		"UPDATE acct SET balance = balance - 50 WHERE id % 2 = 0",
		"CREATE TABLE later (id int PRIMARY KEY)",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	tables := tablesByName(t, d)
	if _, ok := tables["later"]; ok {
		t.Error("a table created after the snapshot is listed")
	}
	dt := tables["acct"]
	if dt.KeyMin != 1 || dt.KeyMax != 1000 {
		t.Errorf("key range [%d, %d], want the snapshot's [1, 1000]", dt.KeyMin, dt.KeyMax)
	}
	var wg sync.WaitGroup
	var total, sum atomic.Int64
	errs := make(chan error, 10)
	for i := range int64(10) {
		wg.Go(func() {
			err := d.Read(ctx, cdc.Chunk{Table: dt.Table.ID, Lo: ptr(i*200 + 1), Hi: ptr(i*200 + 200)}, func(row []any) error {
				total.Add(1)
				sum.Add(row[1].(int64))
				return nil
			})
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if total.Load() != 1000 || sum.Load() != 100_000 {
		t.Fatalf("%d rows summing to %d, want the snapshot's 1000 rows of 100", total.Load(), sum.Load())
	}
}

// testDumpConcurrent checks that reads beyond the parallelism wait for a
// free connection.
func testDumpConcurrent(t *testing.T, env *dumpEnv) {
	dsn, _ := env.newDB(t, `CREATE TABLE c (id int8 PRIMARY KEY);
		INSERT INTO c SELECT g FROM generate_series(1, 100) g;`)
	ctx := context.Background()
	d := openDumper(t, DumpOptions{DSN: dsn, Filter: testFilter{}, Parallelism: 2})
	id := tablesByName(t, d)["c"].Table.ID
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			first := true
			err := d.Read(ctx, cdc.Chunk{Table: id}, func([]any) error {
				if first {
					first = false
					started <- struct{}{}
					<-release
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	<-started
	<-started
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err := d.Read(short, cdc.Chunk{Table: id}, func([]any) error { return nil })
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a third read with two busy workers: %v, want it to wait", err)
	}
	done := make(chan error)
	go func() { done <- d.Read(ctx, cdc.Chunk{Table: id}, func([]any) error { return nil }) }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// Many at once.
	var rows atomic.Int64
	for range 12 {
		wg.Go(func() {
			if err := d.Read(ctx, cdc.Chunk{Table: id}, func([]any) error { rows.Add(1); return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if rows.Load() != 1200 {
		t.Fatalf("%d rows, want 1200", rows.Load())
	}
}

// testDumpDropped checks tables dropped or replaced after the snapshot, and
// that Tables' locks make later drops wait for Close.
func testDumpDropped(t *testing.T, env *dumpEnv) {
	dsn, conn := env.newDB(t, `CREATE TABLE gone (id int8 PRIMARY KEY);
		CREATE TABLE replaced (id int8 PRIMARY KEY, v text);
		CREATE TABLE kept (id int8 PRIMARY KEY);
		CREATE TABLE lazy (id int8 PRIMARY KEY);
		INSERT INTO gone VALUES (1); INSERT INTO replaced VALUES (1, 'old'); INSERT INTO kept VALUES (1);
		INSERT INTO lazy VALUES (1);`)
	ctx := context.Background()
	d := openDumper(t, DumpOptions{DSN: dsn, Filter: testFilter{}, Parallelism: 2})
	for _, sql := range []string{"DROP TABLE gone", "DROP TABLE replaced",
		"CREATE TABLE replaced (id int8 PRIMARY KEY, v text)", "INSERT INTO replaced VALUES (2, 'new')",
		"DROP TABLE lazy"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	// A table that Tables has not described: Read describes it.
	_, err := readRowsOf(d, cdc.Chunk{Table: cdc.TableID{Schema: "public", Name: "lazy"}})
	if !errors.Is(err, cdc.ErrTableGone) {
		t.Fatalf("reading a dropped table never listed: %v, want ErrTableGone", err)
	}
	if _, err := readRowsOf(d, cdc.Chunk{Table: cdc.TableID{Schema: "public", Name: "never"}}); !errors.Is(err, cdc.ErrTableGone) {
		t.Fatalf("reading a table not in the snapshot: %v, want ErrTableGone", err)
	}
	tables := tablesByName(t, d)
	for _, name := range []string{"gone", "replaced"} {
		dt, ok := tables[name]
		if !ok {
			t.Fatalf("%s is not listed", name)
		}
		if len(dt.Table.Columns) == 0 || dt.Split != cdc.SplitNone {
			t.Errorf("%s: %+v, want the snapshot's columns and no split", name, dt)
		}
		_, err := readRowsOf(d, cdc.Chunk{Table: dt.Table.ID})
		if !errors.Is(err, cdc.ErrTableGone) || !strings.Contains(err.Error(), name) {
			t.Errorf("reading %s: %v, want ErrTableGone naming it", name, err)
		}
	}
	// Once described, a table cannot be dropped until Close.
	if _, err := conn.Exec(ctx, "SET lock_timeout = '300ms'"); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{"DROP TABLE kept", "TRUNCATE kept", "ALTER TABLE kept ADD COLUMN x int"} {
		_, err := conn.Exec(ctx, sql)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "55P03" {
			t.Fatalf("%s while the dumper is open: %v, want lock_not_available", sql, err)
		}
	}
	if rows := readAll(t, d, cdc.Chunk{Table: tables["kept"].Table.ID}); len(rows) != 1 {
		t.Fatalf("%d rows in kept", len(rows))
	}
	d.Close()
	if _, err := conn.Exec(ctx, "DROP TABLE kept"); err != nil {
		t.Fatalf("DROP after Close: %v", err)
	}
}

// testDumpFilter checks excluded tables and columns and configured keys.
func testDumpFilter(t *testing.T, env *dumpEnv) {
	dsn, _ := env.newDB(t, `CREATE SCHEMA other;
		CREATE TABLE cust (id int8 PRIMARY KEY, name text, tax_id text, note text,
			total int GENERATED ALWAYS AS (id * 2) STORED);
		INSERT INTO cust (id, name, tax_id, note) VALUES (1, 'a', 'secret', 'n'), (2, 'b', 'secret', NULL);
		CREATE TABLE events (event_id int8, payload text);
		INSERT INTO events VALUES (7, 'x');
		CREATE TABLE skipped (id int PRIMARY KEY);
		CREATE TABLE other.t (id int PRIMARY KEY);
		CREATE VIEW v AS SELECT * FROM cust;
		CREATE MATERIALIZED VIEW mv AS SELECT * FROM cust;`)
	f := testFilter{tables: "public.[ce]*", excluded: []string{"public.cust.tax_id"},
		keys: map[string][]string{"public.events": {"event_id"}}}
	d := openDumper(t, DumpOptions{DSN: dsn, Filter: f, Parallelism: 1})
	tables := tablesByName(t, d)
	if len(tables) != 2 {
		t.Fatalf("tables %v, want cust and events", tables)
	}
	cust := tables["cust"]
	var names []string
	for _, c := range cust.Table.Columns {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"id", "name", "note"}) {
		t.Errorf("cust columns %v: excluded and generated columns must be absent", names)
	}
	rows := readAll(t, d, cdc.Chunk{Table: cust.Table.ID})
	slices.SortFunc(rows, func(a, b []any) int { return int(a[0].(int64) - b[0].(int64)) })
	want := [][]any{{int64(1), "a", "n"}, {int64(2), "b", nil}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v", rows, want)
	}
	ev := tables["events"]
	if !slices.Equal(ev.Table.Key, []int{0}) || ev.Split != cdc.SplitPages {
		t.Errorf("events: key %v split %d, want the configured key and pages", ev.Table.Key, ev.Split)
	}
	if _, err := readRowsOf(d, cdc.Chunk{Table: cdc.TableID{Schema: "public", Name: "skipped"}}); err == nil ||
		errors.Is(err, cdc.ErrTableGone) {
		t.Errorf("reading a table the filter leaves out: %v", err)
	}
	// A key column that is excluded is an error.
	f.excluded = append(f.excluded, "public.events.event_id")
	d2 := openDumper(t, DumpOptions{DSN: dsn, Filter: f, Parallelism: 1})
	if _, err := d2.Tables(context.Background()); err == nil || !strings.Contains(err.Error(), "event_id") {
		t.Errorf("an excluded key column: %v", err)
	}
}

// testDumpErrors checks decoder failures, errors of fn and cancellation,
// and that the dumper keeps working after each.
func testDumpErrors(t *testing.T, env *dumpEnv) {
	dsn, conn := env.newDB(t, `CREATE TABLE bad (id int8 PRIMARY KEY, n numeric(10,2) NOT NULL, ts timestamp NOT NULL);
		INSERT INTO bad VALUES (1, 1, '2024-01-01'), (2, 'NaN', '2024-01-01'), (3, 2, '294276-12-31 23:59:59.999999');
		CREATE TABLE big (id int8 PRIMARY KEY, v text);
		INSERT INTO big SELECT g, repeat('v', 100) FROM generate_series(1, 300000) g;`)
	ctx := context.Background()
	d := openDumper(t, DumpOptions{DSN: dsn, Filter: testFilter{}, Parallelism: 1})
	tables := tablesByName(t, d)
	badID := tables["bad"].Table.ID
	pid := d.workers[0].conn.PgConn().PID()
	// state returns the worker backend's state: a stopped read must not
	// leave its query running on the server.
	state := func() string {
		var st string
		if err := conn.QueryRow(ctx, "SELECT state FROM pg_stat_activity WHERE pid = $1", pid).Scan(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	for _, text := range []bool{false, true} {
		d.textOnly = text
		_, err := readRowsOf(d, cdc.Chunk{Table: badID, Lo: ptr(2), Hi: ptr(2)})
		if err == nil || !strings.Contains(err.Error(), "public.bad") || !strings.Contains(err.Error(), "column n") ||
			!strings.Contains(err.Error(), "NaN") || !cdc.Permanent(err) {
			t.Errorf("text %v: NaN in a NOT NULL numeric(10,2): %v", text, err)
		}
		_, err = readRowsOf(d, cdc.Chunk{Table: badID, Lo: ptr(3), Hi: ptr(3)})
		if err == nil || !strings.Contains(err.Error(), "column ts") || !strings.Contains(err.Error(), "294276-12-31 23:59:59.999999") {
			t.Errorf("text %v: a timestamp beyond int64 micros: %v", text, err)
		}
	}
	d.textOnly = false
	bigID := tables["big"].Table.ID
	// Rows inserted now are not in the snapshot, which a replaced
	// connection must import again.
	if _, err := conn.Exec(ctx, "INSERT INTO big SELECT g, 'new' FROM generate_series(300001, 300100) g"); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	n := 0
	err := d.Read(ctx, cdc.Chunk{Table: bigID}, func([]any) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("fn's error came back as %v, want it unwrapped", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	n = 0
	start := time.Now()
	err = d.Read(cctx, cdc.Chunk{Table: bigID}, func([]any) error {
		if n++; n == 1000 {
			go cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= 300000 || time.Since(start) > 2*time.Second {
		t.Fatalf("cancelled read: %v after %d rows and %v", err, n, time.Since(start))
	}
	if st := state(); st == "active" {
		t.Errorf("the worker's query still runs after the cancelled read (%s)", st)
	}
	cctx, cancel = context.WithCancel(ctx)
	cancel()
	if err := d.Read(cctx, cdc.Chunk{Table: bigID}, func([]any) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("read with a done context: %v", err)
	}
	if rows := readAll(t, d, cdc.Chunk{Table: bigID}); len(rows) != 300000 {
		t.Fatalf("after the failures: %d rows, want the snapshot's 300000", len(rows))
	}
	if rows := readAll(t, d, cdc.Chunk{Table: badID, Lo: ptr(1), Hi: ptr(1)}); len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	if got := d.workers[0].conn.PgConn().PID(); got != pid {
		t.Errorf("the worker connection was replaced (backend %d, then %d): stopped reads should cancel on the server", pid, got)
	}
}

// testDumpInfo checks Info, Close and a role with only SELECT on some
// columns and without the WAL functions.
func testDumpInfo(t *testing.T, env *dumpEnv) {
	dsn, conn := env.newDB(t, `CREATE TABLE pub (id int8 PRIMARY KEY, a text, secret text);
		INSERT INTO pub VALUES (1, 'x', 's');
		CREATE TABLE hidden (id int PRIMARY KEY);
		CREATE ROLE reader LOGIN;
		GRANT SELECT (id, a) ON pub TO reader;`)
	ctx := context.Background()
	d := openDumper(t, DumpOptions{DSN: dsn, Filter: testFilter{}})
	info := d.Info()
	if info.Consistency != cdc.ConsistencySnapshot || info.Snapshot == "" {
		t.Fatalf("info %+v", info)
	}
	if _, err := pglogrepl.ParseLSN(info.Position); err != nil {
		t.Fatalf("position %q is not an LSN: %v", info.Position, err)
	}
	if len(d.workers) != 4 {
		t.Errorf("%d workers, want the default 4", len(d.workers))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := d.Tables(ctx); err == nil {
		t.Error("Tables after Close")
	}
	if _, err := readRowsOf(d, cdc.Chunk{Table: cdc.TableID{Schema: "public", Name: "pub"}}); err == nil {
		t.Error("Read after Close")
	}
	var open int
	for range 100 { // backends exit asynchronously
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").
			Scan(&open); err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if open != 0 {
		t.Errorf("%d connections left after Close", open)
	}

	if _, err := conn.Exec(ctx, "REVOKE EXECUTE ON FUNCTION pg_current_wal_lsn() FROM PUBLIC"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "GRANT EXECUTE ON FUNCTION pg_current_wal_lsn() TO PUBLIC")
	rdsn := strings.Replace(dsn, "postgres@", "reader@", 1)
	f := testFilter{tables: "public.pub", excluded: []string{"public.pub.secret"}}
	d = openDumper(t, DumpOptions{DSN: rdsn, Filter: f, Parallelism: 2})
	if pos := d.Info().Position; !strings.Contains(pos, ":") || strings.Contains(pos, "/") {
		t.Errorf("position without the WAL function: %q, want the snapshot's xmin:xmax:xip", pos)
	}
	dt := tablesByName(t, d)["pub"]
	rows := readAll(t, d, cdc.Chunk{Table: dt.Table.ID, Lo: ptr(1)})
	if fmt.Sprint(rows) != "[[1 x]]" {
		t.Errorf("rows %v", rows)
	}
	// Without the exclusion, and for a table without any privilege, Tables
	// says what to grant.
	for _, tc := range []struct{ table, want string }{{"pub", "GRANT SELECT (secret)"}, {"hidden", "GRANT SELECT ON"}} {
		d = openDumper(t, DumpOptions{DSN: rdsn, Filter: testFilter{tables: "public." + tc.table}, Parallelism: 1})
		_, err := d.Tables(ctx)
		var pe *cdc.PermanentError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s without privileges: %v, want a permanent error saying %q", tc.table, err, tc.want)
		}
	}
}
