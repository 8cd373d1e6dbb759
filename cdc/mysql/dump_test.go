package mysql

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// dumpFilter captures the tables of one database, minus excluded columns.
type dumpFilter struct {
	schema  string
	exclude map[string]bool     // "table.column"
	keys    map[string][]string // table -> key_columns
}

func (f dumpFilter) Match(schema, _ string) bool { return schema == f.schema }
func (f dumpFilter) ExcludedColumn(_, table, column string) bool {
	return f.exclude[table+"."+column]
}
func (f dumpFilter) KeyColumns(_, table string) []string { return f.keys[table] }

// dumpEnv is the MariaDB server of the full-load tests, with three users:
// root (global view, may release metadata locks), reload (SELECT and
// RELOAD: global view that keeps metadata locks) and ro (SELECT only:
// per-table view).
type dumpEnv struct {
	t    *testing.T
	m    *testserver.MariaDB
	root *client.Conn
}

const dumpDB = "fl"

func newDumpEnv(t *testing.T) *dumpEnv {
	m := testserver.MariaDBT(t, testserver.MariaDBOptions{})
	e := &dumpEnv{t: t, m: m}
	e.exec(`CREATE DATABASE ` + dumpDB)
	e.exec(`CREATE USER ro@'%' IDENTIFIED BY 'ro-pw'`)
	e.exec(`GRANT SELECT ON ` + dumpDB + `.* TO ro@'%'`)
	e.exec(`CREATE USER reload@'%' IDENTIFIED BY 'reload-pw'`)
	e.exec(`GRANT SELECT ON ` + dumpDB + `.* TO reload@'%'`)
	e.exec(`GRANT RELOAD ON *.* TO reload@'%'`)
	return e
}

// on returns the environment for subtest t.
func (e *dumpEnv) on(t *testing.T) *dumpEnv { return &dumpEnv{t: t, m: e.m, root: e.root} }

func (e *dumpEnv) conn(user string) Conn {
	pw := map[string]string{"root": "", "ro": "ro-pw", "reload": "reload-pw"}[user]
	return Conn{Host: "127.0.0.1", Port: uint16(e.m.Port), User: user, Password: pw}
}

// exec runs statements as root on a session that allows zero dates.
func (e *dumpEnv) exec(qs ...string) {
	e.t.Helper()
	if e.root == nil {
		c, err := dial(context.Background(), e.conn("root"))
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := c.Execute("SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'"); err != nil {
			e.t.Fatal(err)
		}
		e.root = c
		e.t.Cleanup(func() { c.Close() })
	}
	for _, q := range qs {
		if _, err := e.root.Execute(q); err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
	}
}

// other runs statements in a session of their own (the mariadb client).
func (e *dumpEnv) other(q string) error {
	return e.m.Exec(context.Background(), q)
}

func (e *dumpEnv) open(user string, parallelism int, f Filter) *Dumper {
	e.t.Helper()
	if f == nil {
		f = dumpFilter{schema: dumpDB}
	}
	d, err := OpenDumper(context.Background(), DumpOptions{Conn: e.conn(user), Filter: f, Parallelism: parallelism})
	if err != nil {
		e.t.Fatalf("OpenDumper as %s: %v", user, err)
	}
	e.t.Cleanup(func() { d.Close() })
	return d
}

func id(name string) cdc.TableID { return cdc.TableID{Schema: dumpDB, Name: name} }

// tables returns the dumper's tables by name.
func tables(t *testing.T, d *Dumper) map[string]cdc.DumpTable {
	t.Helper()
	ts, err := d.Tables(context.Background())
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	out := map[string]cdc.DumpTable{}
	for _, dt := range ts {
		out[dt.Table.ID.Name] = dt
	}
	return out
}

// readAll reads a chunk and returns copies of its rows.
func readAll(ctx context.Context, d *Dumper, c cdc.Chunk) ([][]any, error) {
	var rows [][]any
	err := d.Read(ctx, c, func(row []any) error {
		rows = append(rows, slices.Clone(row))
		return nil
	})
	return rows, err
}

// ids returns the first column of rows, as int64.
func ids(t *testing.T, rows [][]any) []int64 {
	t.Helper()
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r[0].(int64)
	}
	slices.Sort(out)
	return out
}

func ptr(v int64) *int64 { return &v }

func TestDumper(t *testing.T) {
	e := newDumpEnv(t)
	t.Run("types", e.testTypes)
	t.Run("splits", e.testSplits)
	t.Run("chunks", e.testChunks)
	t.Run("global consistency", e.testGlobal)
	t.Run("per-table", e.testPerTable)
	t.Run("dropped table", e.testDropped)
	t.Run("excluded columns", e.testExcluded)
	t.Run("stopping", e.testStopping)
	t.Run("conversion error", e.testConversionError)
	t.Run("close", e.testClose)
}

// sqlNull stands for SQL NULL in comparisons.
const sqlNull = "\x00NULL"

// testTypes reads a row of every type's maximum, minimum, a mixed value and
// NULL, in both kinds of view, and compares each value with the database's
// canonical text of it (the checks of the stream's round-trip test).
func (e *dumpEnv) testTypes(t *testing.T) {
	e = e.on(t)
	defs := []string{"id int PRIMARY KEY"}
	names := []string{"id"}
	exprs := []string{"id"}
	for _, c := range dumpTypeCols {
		defs = append(defs, "`"+c.name+"` "+c.def)
		names = append(names, "`"+c.name+"`")
		exprs = append(exprs, "CAST("+fmt.Sprintf(c.expr, "`"+c.name+"`")+" AS CHAR)")
	}
	e.exec("CREATE TABLE " + dumpDB + ".types (" + strings.Join(defs, ", ") + ") CHARACTER SET utf8mb4")
	for i := range dumpTypeRows {
		vals := []string{strconv.Itoa(i + 1)}
		for _, c := range dumpTypeCols {
			vals = append(vals, c.vals[i])
		}
		e.exec(fmt.Sprintf("INSERT INTO %s.types (%s) VALUES (%s)", dumpDB, strings.Join(names, ", "), strings.Join(vals, ", ")))
	}
	r, err := e.root.Execute("SELECT " + strings.Join(exprs, ", ") + " FROM " + dumpDB + ".types")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64][]string{}
	for i, row := range r.Values {
		id, _ := r.GetInt(i, 0)
		texts := make([]string, len(dumpTypeCols))
		for j := range dumpTypeCols {
			texts[j] = sqlNull
			if row[j+1].Type != gomysql.FieldValueTypeNull {
				texts[j] = string(row[j+1].AsString())
			}
		}
		want[id] = texts
	}
	r.Close()

	for _, user := range []string{"root", "ro"} {
		t.Run(user, func(t *testing.T) {
			d := e.on(t).open(user, 2, nil)
			dt, ok := tables(t, d)["types"]
			if !ok {
				t.Fatal("Tables does not list the types table")
			}
			rows, err := readAll(context.Background(), d, cdc.Chunk{Table: id("types")})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(dumpTypeRows) {
				t.Fatalf("read %d rows, want %d", len(rows), len(dumpTypeRows))
			}
			for _, row := range rows {
				rowID := row[0].(int64)
				t.Run(dumpTypeRows[rowID-1], func(t *testing.T) {
					for j, c := range dumpTypeCols {
						col := dt.Table.Columns[j+1]
						if col.Name != c.name {
							t.Fatalf("column %d is %s, want %s", j+1, col.Name, c.name)
						}
						v := row[j+1]
						got, exp := cdcText(v, col), dumpExpected(c, want[rowID][j])
						if got != exp {
							t.Errorf("%s: read %s, database holds %s (%s)", c.name, clip(got), clip(exp), clip(want[rowID][j]))
						}
						if gt, wt := fmt.Sprintf("%T", v), kindGoTypes[col.Kind]; v != nil && gt != wt {
							t.Errorf("%s: read a %s, want a %s for kind %s", c.name, gt, wt, col.Kind)
						}
					}
				})
			}
		})
	}
}

// kindGoTypes is the Go type of each kind's values (cdc/table.go).
var kindGoTypes = map[cdc.Kind]string{
	cdc.KindInt32: "int64", cdc.KindInt64: "int64", cdc.KindUint64: "uint64", cdc.KindDecimal: "*big.Int",
	cdc.KindFloat32: "float32", cdc.KindFloat64: "float64", cdc.KindBool: "bool", cdc.KindBytes: "[]uint8",
	cdc.KindString: "string", cdc.KindUUID: "string", cdc.KindDate: "int64", cdc.KindDurationMicros: "int64",
	cdc.KindLocalTimestampMicros: "int64", cdc.KindTimestampMicros: "int64",
}

// cdcText renders a value of col as canonical text.
func cdcText(v any, col cdc.Column) string {
	switch x := v.(type) {
	case nil:
		return sqlNull
	case int64:
		switch col.Kind {
		case cdc.KindDate:
			return time.Unix(x*86400, 0).UTC().Format(time.DateOnly)
		case cdc.KindTimestampMicros, cdc.KindLocalTimestampMicros:
			return time.UnixMicro(x).UTC().Format("2006-01-02 15:04:05.000000")
		}
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case *big.Int:
		return new(big.Rat).SetFrac(x, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(col.Scale)), nil)).RatString()
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 64)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return map[bool]string{true: "1", false: "0"}[x]
	case []byte:
		return strings.ToUpper(fmt.Sprintf("%x", x))
	case string:
		return x
	}
	return fmt.Sprintf("unexpected %T", v)
}

// dumpExpected turns the database's text into the text the value must
// render to: floats and decimals in canonical form, and zero dates as the
// documented fallback (null when nullable, else the epoch).
func dumpExpected(c dumpTypeCol, db string) string {
	if db == sqlNull {
		return sqlNull
	}
	avro, _, _ := strings.Cut(c.avro, "@")
	avro, _, _ = strings.Cut(avro, "(")
	switch avro {
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
			if !strings.Contains(c.def, "NOT NULL") {
				return sqlNull
			}
			return "1970-01-01 00:00:00.000000"[:len(db)]
		}
	}
	return db
}

func clip(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%q...(%d bytes)", s[:80], len(s))
	}
	return strconv.Quote(s)
}

// testSplits checks which tables can be split, their key ranges, order and
// estimates, and that views and tables outside the filter are absent.
func (e *dumpEnv) testSplits(t *testing.T) {
	e = e.on(t)
	e.exec(
		"CREATE TABLE fl.s_big (id bigint PRIMARY KEY, v int)",
		fmt.Sprintf("INSERT INTO fl.s_big VALUES (%d, 1), (-5, 2), (0, 3), (%d, 4), (%d, 5), (%d, 6)",
			int64(math.MinInt64), int64(1)<<53, int64(1)<<53+1, int64(math.MaxInt64)),
		"CREATE TABLE fl.s_uint (id int unsigned PRIMARY KEY)",
		"INSERT INTO fl.s_uint VALUES (0), (4294967295)",
		"CREATE TABLE fl.s_ubig (id bigint unsigned PRIMARY KEY)",
		"INSERT INTO fl.s_ubig VALUES (18446744073709551615)",
		"CREATE TABLE fl.s_comp (a int, b int, PRIMARY KEY (a, b))",
		"CREATE TABLE fl.s_nopk (a int)",
		"CREATE TABLE fl.s_str (k varchar(10) PRIMARY KEY)",
		"CREATE TABLE fl.s_empty (id smallint PRIMARY KEY)",
		"CREATE TABLE fl.s_second (name varchar(10), id mediumint PRIMARY KEY)",
		"INSERT INTO fl.s_second VALUES ('a', -7), ('b', 8)",
		"CREATE VIEW fl.s_view AS SELECT id FROM fl.s_big",
		"CREATE DATABASE fl_other",
		"CREATE TABLE fl_other.s_big (id int PRIMARY KEY)",
		"ANALYZE TABLE fl.s_big",
	)
	type want struct {
		split          cdc.SplitKind
		min, max       int64
		empty          bool
		keyCol         int
		estimatedAtLst int64
	}
	cases := map[string]want{
		"s_big":    {split: cdc.SplitKey, min: math.MinInt64, max: math.MaxInt64, estimatedAtLst: 1},
		"s_uint":   {split: cdc.SplitKey, min: 0, max: 4294967295},
		"s_ubig":   {split: cdc.SplitNone},
		"s_comp":   {split: cdc.SplitNone},
		"s_nopk":   {split: cdc.SplitNone},
		"s_str":    {split: cdc.SplitNone},
		"s_empty":  {split: cdc.SplitKey, empty: true},
		"s_second": {split: cdc.SplitKey, min: -7, max: 8, keyCol: 1},
	}
	for _, user := range []string{"root", "ro"} {
		t.Run(user, func(t *testing.T) {
			d := e.on(t).open(user, 2, nil)
			list, err := d.Tables(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, dt := range list {
				names = append(names, dt.Table.ID.Name)
				if dt.Table.ID.Schema != dumpDB {
					t.Errorf("table %s is outside the filter", dt.Table.ID)
				}
			}
			if !slices.IsSorted(names) {
				t.Errorf("tables not in order: %v", names)
			}
			if slices.Contains(names, "s_view") {
				t.Error("the view is listed")
			}
			got := tables(t, d)
			for name, w := range cases {
				t.Run(name, func(t *testing.T) {
					dt, ok := got[name]
					if !ok {
						t.Fatal("not listed")
					}
					if user == "ro" { // per-table view: never split
						w = want{split: cdc.SplitNone}
					}
					if dt.Split != w.split || dt.KeyMin != w.min || dt.KeyMax != w.max || dt.Empty != w.empty ||
						(w.split == cdc.SplitKey && dt.KeyColumn != w.keyCol) {
						t.Errorf("got split %d [%d, %d] empty %v key column %d, want %+v",
							dt.Split, dt.KeyMin, dt.KeyMax, dt.Empty, dt.KeyColumn, w)
					}
					if dt.EstimatedRows < w.estimatedAtLst {
						t.Errorf("estimated rows %d, want at least %d", dt.EstimatedRows, w.estimatedAtLst)
					}
				})
			}
		})
	}
}

// testChunks checks that key ranges cover a table exactly, with bounds
// compared as integers (2^53 and 2^53+1 are one double).
func (e *dumpEnv) testChunks(t *testing.T) {
	e = e.on(t)
	d := e.open("root", 2, nil)
	all, err := readAll(context.Background(), d, cdc.Chunk{Table: id("s_big")})
	if err != nil {
		t.Fatal(err)
	}
	allIDs := ids(t, all)
	p53 := int64(1) << 53
	tests := []struct {
		name   string
		chunks []cdc.Chunk
		want   []int64 // nil: every row
	}{
		{"whole", []cdc.Chunk{{}}, nil},
		{"open ends", []cdc.Chunk{{Hi: ptr(-5)}, {Lo: ptr(-4), Hi: ptr(p53)}, {Lo: ptr(p53 + 1)}}, nil},
		{"extremes", []cdc.Chunk{{Lo: ptr(math.MinInt64), Hi: ptr(math.MinInt64)}, {Lo: ptr(math.MinInt64 + 1), Hi: ptr(math.MaxInt64 - 1)},
			{Lo: ptr(math.MaxInt64), Hi: ptr(math.MaxInt64)}}, nil},
		{"one key above 2^53", []cdc.Chunk{{Lo: ptr(p53 + 1), Hi: ptr(p53 + 1)}}, []int64{p53 + 1}},
		{"one key at 2^53", []cdc.Chunk{{Lo: ptr(p53), Hi: ptr(p53)}}, []int64{p53}},
		{"empty range", []cdc.Chunk{{Lo: ptr(1), Hi: ptr(100)}}, []int64{}},
		{"inverted range", []cdc.Chunk{{Lo: ptr(100), Hi: ptr(1)}}, []int64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rows [][]any
			for _, c := range tc.chunks {
				c.Table = id("s_big")
				part, err := readAll(context.Background(), d, c)
				if err != nil {
					t.Fatal(err)
				}
				rows = append(rows, part...)
			}
			want := tc.want
			if want == nil {
				want = allIDs
			}
			if got := ids(t, rows); !slices.Equal(got, want) {
				t.Errorf("read keys %v, want %v", got, want)
			}
		})
	}
	t.Run("bounds on an unsplit table", func(t *testing.T) {
		err := d.Read(context.Background(), cdc.Chunk{Table: id("s_str"), Lo: ptr(1)}, func([]any) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "SplitNone") {
			t.Errorf("got %v, want an error about bounds", err)
		}
	})
	t.Run("table outside the filter", func(t *testing.T) {
		err := d.Read(context.Background(), cdc.Chunk{Table: cdc.TableID{Schema: "fl_other", Name: "s_big"}}, func([]any) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "not captured") {
			t.Errorf("got %v, want an error", err)
		}
	})
	t.Run("pages", func(t *testing.T) {
		if err := d.Read(context.Background(), cdc.Chunk{Table: id("s_big"), EndPage: 3}, func([]any) error { return nil }); err == nil {
			t.Error("a page range was accepted")
		}
	})
}

// testGlobal checks that writes committed by another session after
// OpenDumper are invisible to every connection of a global view.
func (e *dumpEnv) testGlobal(t *testing.T) {
	e = e.on(t)
	e.exec(
		"CREATE TABLE fl.g1 (id int PRIMARY KEY, v varchar(10))",
		"INSERT INTO fl.g1 VALUES (1, 'a'), (2, 'b'), (3, 'c')",
		"CREATE TABLE fl.g2 (id int PRIMARY KEY, n int)",
		"INSERT INTO fl.g2 VALUES (1, 10)",
	)
	before, err := queryString(e.root, "SELECT @@gtid_binlog_pos")
	if err != nil {
		t.Fatal(err)
	}
	const parallelism = 3
	d := e.open("root", parallelism, nil)
	for _, q := range []string{"INSERT INTO fl.g1 VALUES (4, 'd')", "DELETE FROM fl.g1 WHERE id = 1",
		"UPDATE fl.g1 SET v = 'B' WHERE id = 2", "UPDATE fl.g2 SET n = 11"} {
		if err := e.other(q); err != nil {
			t.Fatal(err)
		}
	}
	info := d.Info()
	if info.Consistency != cdc.ConsistencyGlobal || !strings.Contains(info.Position, "gtid "+before+" (binlog.") {
		t.Errorf("info %+v, want global at gtid %s", info, before)
	}
	tables(t, d)
	// Hold every connection at once, so that each one reads.
	var wg, started sync.WaitGroup
	started.Add(parallelism)
	results := make([]string, parallelism)
	for i := range parallelism {
		wg.Go(func() {
			var rows [][]any
			first := true
			err := d.Read(context.Background(), cdc.Chunk{Table: id("g1")}, func(row []any) error {
				if first {
					first = false
					started.Done()
					started.Wait()
				}
				rows = append(rows, slices.Clone(row))
				return nil
			})
			slices.SortFunc(rows, func(a, b []any) int { return int(a[0].(int64) - b[0].(int64)) })
			results[i] = fmt.Sprint(rows, err)
		})
	}
	wg.Wait()
	want := fmt.Sprint([][]any{{int64(1), "a"}, {int64(2), "b"}, {int64(3), "c"}}, nil)
	for i, r := range results {
		if r != want {
			t.Errorf("reader %d: %s, want %s", i, r, want)
		}
	}
	rows, err := readAll(context.Background(), d, cdc.Chunk{Table: id("g2")})
	if got := fmt.Sprint(rows, err); got != fmt.Sprint([][]any{{int64(1), int64(10)}}, nil) {
		t.Errorf("g2: %s, want the value before the update", got)
	}
	d2 := e.open("reload", 1, nil) // position without BINLOG MONITOR: from the snapshot
	after, _ := queryString(e.root, "SELECT @@gtid_binlog_pos")
	if info := d2.Info(); info.Consistency != cdc.ConsistencyGlobal || !strings.Contains(info.Position, "gtid "+after+" (binlog.") {
		t.Errorf("reload user: info %+v, want global at gtid %s", info, after)
	}
}
