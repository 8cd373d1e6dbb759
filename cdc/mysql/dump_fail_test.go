package mysql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// testPerTable checks the view of a user with only SELECT: each read is a
// snapshot of its own, taken when it starts, and nothing is split.
func (e *dumpEnv) testPerTable(t *testing.T) {
	e = e.on(t)
	e.exec("CREATE TABLE fl.p1 (id bigint PRIMARY KEY)", "INSERT INTO fl.p1 VALUES (1)")
	d := e.open("ro", 2, nil)
	if info := d.Info(); info.Consistency != cdc.ConsistencyPerTable || info.Position != "" {
		t.Errorf("info %+v, want per-table without a position", info)
	}
	for name, dt := range tables(t, d) {
		if dt.Split != cdc.SplitNone {
			t.Errorf("%s: split %d in a per-table view", name, dt.Split)
		}
	}
	if err := e.other("INSERT INTO fl.p1 VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	err := d.Read(context.Background(), cdc.Chunk{Table: id("p1")}, func(row []any) error {
		if len(rows) == 0 { // a write during the read is not part of it
			if err := e.other("INSERT INTO fl.p1 VALUES (3)"); err != nil {
				return err
			}
		}
		rows = append(rows, slices.Clone(row))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(t, rows); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("first read: %v, want the rows committed when it started [1 2]", got)
	}
	rows, err = readAll(context.Background(), d, cdc.Chunk{Table: id("p1")})
	if got := ids(t, rows); err != nil || !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("second read: %v %v, want [1 2 3]", got, err)
	}
}

// testDropped checks what a read of a table dropped (or otherwise changed)
// by another session after the view began returns.
func (e *dumpEnv) testDropped(t *testing.T) {
	e = e.on(t)
	tests := []struct {
		name     string
		user     string
		when     string // before tables, after tables, between chunks
		ddl      string // %s is the table
		wantGone bool   // the read fails wrapping ErrTableGone
		wantErr  string // or with this text
		ddlErr   string // the DDL itself fails so
	}{
		{"dropped before Tables", "root", "before tables", "DROP TABLE %s", true, "", ""},
		{"dropped after Tables", "root", "after tables", "DROP TABLE %s", true, "", ""},
		{"dropped between chunks", "root", "between chunks", "DROP TABLE %s", true, "", ""},
		{"renamed", "root", "after tables", "RENAME TABLE %[1]s TO %[1]s_renamed", true, "", ""},
		{"truncated", "root", "between chunks", "TRUNCATE TABLE %s", false, "altered, truncated or re-created", ""},
		{"altered", "root", "after tables", "ALTER TABLE %s ADD COLUMN extra int, FORCE", false, "altered, truncated or re-created", ""},
		{"dropped in a per-table view", "ro", "after tables", "DROP TABLE %s", true, "", ""},
		{"metadata locks kept without BINLOG ADMIN", "reload", "between chunks", "DROP TABLE %s", false, "", "Lock wait timeout"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.on(t)
			name := fmt.Sprintf("d%d", i)
			table := dumpDB + "." + name
			e.exec(fmt.Sprintf("CREATE TABLE %s (id int PRIMARY KEY, v int)", table),
				fmt.Sprintf("INSERT INTO %s SELECT seq, seq FROM fl.seq_1_to_10", table))
			d := e.open(tc.user, 2, nil)
			ddl := func() {
				t.Helper()
				err := e.other("SET SESSION lock_wait_timeout = 2; " + fmt.Sprintf(tc.ddl, table))
				if tc.ddlErr == "" && err != nil {
					t.Fatalf("DDL: %v", err)
				}
				if tc.ddlErr != "" && (err == nil || !strings.Contains(err.Error(), tc.ddlErr)) {
					t.Fatalf("DDL: %v, want an error with %q", err, tc.ddlErr)
				}
			}
			if tc.when == "before tables" {
				ddl()
			}
			listed := tables(t, d)
			if _, ok := listed[name]; ok == (tc.when == "before tables") {
				t.Errorf("listed = %v", ok)
			}
			want := 10
			var c cdc.Chunk
			switch tc.when {
			case "after tables":
				ddl()
			case "between chunks":
				c.Lo, c.Hi = ptr(1), ptr(5)
				if d.Info().Consistency == cdc.ConsistencyPerTable {
					c.Lo, c.Hi = nil, nil
				}
				rows, err := readAll(context.Background(), d, cdc.Chunk{Table: id(name), Lo: c.Lo, Hi: c.Hi})
				if err != nil || len(rows) != 5 {
					t.Fatalf("first chunk: %d rows, %v", len(rows), err)
				}
				ddl()
				c.Lo, c.Hi, want = ptr(6), nil, 5
			}
			c.Table = id(name)
			rows, err := readAll(context.Background(), d, c)
			switch {
			case tc.wantGone:
				if !errors.Is(err, cdc.ErrTableGone) {
					t.Errorf("read: %d rows, %v; want an error wrapping ErrTableGone", len(rows), err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, cdc.ErrTableGone) {
					t.Errorf("read: %d rows, %v; want an error with %q", len(rows), err, tc.wantErr)
				}
			default:
				if err != nil || len(rows) != want {
					t.Errorf("read: %d rows, %v; want %d rows", len(rows), err, want)
				}
			}
			if err != nil {
				t.Logf("read error: %v", err)
			}
			if tc.ddlErr != "" { // the DDL waited for the view: it goes through once the view is closed
				d.Close()
				if err := e.other(fmt.Sprintf(tc.ddl, table)); err != nil {
					t.Errorf("DDL after Close: %v", err)
				}
			}
		})
	}
}

// testExcluded checks that excluded columns are neither described nor
// read, and that configured key columns make the key.
func (e *dumpEnv) testExcluded(t *testing.T) {
	e = e.on(t)
	e.exec(
		"CREATE TABLE fl.x1 (id int PRIMARY KEY, secret varchar(10), v int)", "INSERT INTO fl.x1 VALUES (1, 's', 10)",
		"CREATE TABLE fl.x2 (code int, secret int, v int)", "INSERT INTO fl.x2 VALUES (7, 8, 9)",
		"CREATE TABLE fl.x3 (id int PRIMARY KEY, code int)", "INSERT INTO fl.x3 VALUES (1, 2)",
		"CREATE TABLE fl.x4 (a int, b int)", "INSERT INTO fl.x4 VALUES (1, 2), (3, 4)",
	)
	f := dumpFilter{schema: dumpDB,
		exclude: map[string]bool{"x1.secret": true, "x2.secret": true, "x3.id": true, "x4.a": true, "x4.b": true},
		keys:    map[string][]string{"x2": {"code"}, "x3": {"code"}}}
	tests := []struct {
		table string
		cols  string
		key   []int
		split cdc.SplitKind
		rows  string
	}{
		{"x1", "[id v]", []int{0}, cdc.SplitKey, "[[1 10]]"},
		{"x2", "[code v]", []int{0}, cdc.SplitNone, "[[7 9]]"},
		{"x3", "[code]", []int{0}, cdc.SplitNone, "[[2]]"}, // the primary key is excluded: no split
		{"x4", "[]", []int{}, cdc.SplitNone, "[[] []]"},
	}
	d := e.open("root", 1, f)
	listed := tables(t, d)
	for _, tc := range tests {
		t.Run(tc.table, func(t *testing.T) {
			dt := listed[tc.table]
			if dt.Table == nil {
				t.Fatal("not listed")
			}
			var names []string
			for _, c := range dt.Table.Columns {
				names = append(names, c.Name)
			}
			if got := fmt.Sprint(names); got != tc.cols || !slices.Equal(dt.Table.Key, tc.key) || dt.Split != tc.split {
				t.Errorf("columns %s key %v split %d, want %s %v %d", got, dt.Table.Key, dt.Split, tc.cols, tc.key, tc.split)
			}
			rows, err := readAll(context.Background(), d, cdc.Chunk{Table: id(tc.table)})
			if got := fmt.Sprint(rows); err != nil || got != tc.rows {
				t.Errorf("rows %s %v, want %s", got, err, tc.rows)
			}
		})
	}
}

var errStop = errors.New("stop here")

// testStopping checks that an error from fn or the end of the context stops
// a read at once, and what becomes of its connection.
func (e *dumpEnv) testStopping(t *testing.T) {
	e = e.on(t)
	e.exec("CREATE TABLE fl.big (id int PRIMARY KEY, v varchar(40))",
		"INSERT INTO fl.big SELECT seq, REPEAT('x', 40) FROM fl.seq_1_to_200000")
	defer func(g time.Duration) { killGrace = g }(killGrace)
	killGrace = 300 * time.Millisecond
	tests := []struct {
		name     string
		user     string
		stop     string // fn error, cancel, or cut (fn blocks past killGrace after the cancel)
		wantLost bool   // the next read finds no connection left
	}{
		{"fn error", "root", "fn error", false},
		{"cancel", "root", "cancel", false},
		{"cut", "root", "cut", true},
		{"fn error per-table", "ro", "fn error", false},
		{"cancel per-table", "ro", "cancel", false},
		{"cut per-table", "ro", "cut", false}, // re-dialled
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.on(t)
			n, err := queryString(e.root, "SELECT COUNT(*) FROM fl.big")
			if err != nil {
				t.Fatal(err)
			}
			count, _ := strconv.Atoi(n)
			d := e.open(tc.user, 1, nil)
			// A write after the view began: a global view never sees it.
			if err := e.other(fmt.Sprintf("INSERT INTO fl.big VALUES (%d, 'late')", 1_000_000+i)); err != nil {
				t.Fatal(err)
			}
			if d.Info().Consistency == cdc.ConsistencyPerTable {
				count++
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			seen := 0
			start := time.Now()
			err = d.Read(ctx, cdc.Chunk{Table: id("big")}, func(row []any) error {
				seen++
				if seen == 10 {
					switch tc.stop {
					case "fn error":
						return errStop
					case "cancel":
						cancel()
					case "cut":
						cancel()
						time.Sleep(4 * killGrace)
					}
				}
				return nil
			})
			elapsed := time.Since(start)
			wantErr := errStop
			if tc.stop != "fn error" {
				wantErr = context.Canceled
			}
			if err != wantErr { // unwrapped
				t.Errorf("read: %v, want %v", err, wantErr)
			}
			if seen != 10 || elapsed > 3*time.Second {
				t.Errorf("the read went on for %d rows and %v after it was stopped", seen-10, elapsed)
			}
			rows, err := readAll(context.Background(), d, cdc.Chunk{Table: id("big")})
			switch {
			case tc.wantLost:
				if !errors.Is(err, errViewLost) {
					t.Errorf("next read: %v, want %v", err, errViewLost)
				}
			case err != nil || len(rows) != count:
				t.Errorf("next read: %d rows %v, want %d rows", len(rows), err, count)
			}
		})
	}
	t.Run("waiting for a connection", func(t *testing.T) {
		d := e.on(t).open("root", 1, nil)
		holding, release := make(chan struct{}), make(chan struct{})
		done := make(chan error)
		go func() {
			first := true
			done <- d.Read(context.Background(), cdc.Chunk{Table: id("big"), Hi: ptr(100)}, func([]any) error {
				if first {
					first = false
					close(holding)
					<-release
				}
				return nil
			})
		}()
		<-holding
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := d.Read(ctx, cdc.Chunk{Table: id("big")}, func([]any) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("read without a free connection: %v, want the context's error", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// testConversionError checks that a value the column's kind cannot hold is
// an error naming the table, column and value, and leaves the view usable.
func (e *dumpEnv) testConversionError(t *testing.T) {
	e = e.on(t)
	e.exec("CREATE TABLE fl.conv (id int PRIMARY KEY, amount decimal(10,2))", "INSERT INTO fl.conv VALUES (1, 1.00), (2, 1.25)")
	d := e.open("root", 1, nil)
	tables(t, d)
	dt := d.table(id("conv"))
	desc, col := dt.ts.descs[1], dt.ts.table.Columns[1]
	desc.Scale, col.Scale = 1, 1 // as if the schema said decimal(10,1)
	dt.reader.decoders[1] = newFieldDecoder(desc, col, newConverter(dt.ts.table.ID, desc, col, nil))
	_, err := readAll(context.Background(), d, cdc.Chunk{Table: id("conv")})
	if err == nil || !strings.Contains(err.Error(), "fl.conv") || !strings.Contains(err.Error(), "amount") ||
		!strings.Contains(err.Error(), `"1.25"`) {
		t.Errorf("got %v, want an error naming table, column and value", err)
	} else {
		t.Log(err)
	}
	if rows, err := readAll(context.Background(), d, cdc.Chunk{Table: id("x1")}); err != nil || len(rows) != 1 {
		t.Errorf("next read: %v %v", rows, err)
	}
}

// testClose checks that Close ends reads, closes every connection and can
// be called twice.
func (e *dumpEnv) testClose(t *testing.T) {
	e = e.on(t)
	d := e.open("ro", 2, nil)
	inRead := make(chan struct{})
	done := make(chan error)
	go func() {
		first := true
		done <- d.Read(context.Background(), cdc.Chunk{Table: id("big")}, func([]any) error {
			if first {
				first = false
				close(inRead)
				time.Sleep(200 * time.Millisecond) // Close runs meanwhile
			}
			return nil
		})
	}()
	<-inRead
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Error("a read running during Close succeeded")
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := d.Read(context.Background(), cdc.Chunk{Table: id("p1")}, func([]any) error { return nil }); !errors.Is(err, errDumperClosed) {
		t.Errorf("read after Close: %v", err)
	}
	if _, err := d.Tables(context.Background()); err == nil {
		t.Error("Tables after Close succeeded")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := queryString(e.root, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'ro'")
		if err != nil {
			t.Fatal(err)
		}
		if n == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%s connections of user ro left after Close", n)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}
