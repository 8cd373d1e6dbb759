package cdctest

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// inserts returns the statements inserting rows into table, one each.
func inserts(table string, rows ...row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = "INSERT INTO " + table + " VALUES (" + r.sql() + ")"
	}
	return out
}

// row is a row of the suite's tables: (id, v).
type row struct {
	id int64
	v  string
}

func (r row) sql() string { return strconv.FormatInt(r.id, 10) + ", '" + r.v + "'" }

// testSnapshotHandoff: snapshot mode initial_consistent yields each
// existing row once as a read, then a Commit, then what was written after
// the snapshot began as creates: every row exactly once. Resuming from the
// snapshot's Commit reads nothing of the snapshot again.
func testSnapshotHandoff(t *testing.T, e env) {
	before := []row{{1, "a"}, {2, "b"}, {3, "c"}}
	setup(t, e, append([]string{createTable("t")}, inserts("t", before...)...)...)
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotInitialConsistent})
	e.Exec(t, inserts("t", row{4, "d"})...) // after Open: the stream's, not the snapshot's
	snap := s.tx()
	checkSnapshot(t, e, snap.events, before)
	checkSaveNow(t, snap)
	e.Exec(t, inserts("t", row{5, "e"})...)
	after := []want{
		{op: cdc.OpCreate, table: "t", after: []any{4, "d"}},
		{op: cdc.OpCreate, table: "t", after: []any{5, "e"}},
	}
	checkEvents(t, e, eventsOf(s.mark(e)), after)
	s.close()
	s = open(t, e, OpenOptions{Snapshot: cdc.SnapshotInitialConsistent, Checkpoint: position(t, snap.commit)})
	checkEvents(t, e, s.tx().events, after[:1])
	checkEvents(t, e, s.tx().events, after[1:])
}

// checkSaveNow fails t unless the snapshot's Commit asks to be saved now:
// the stream after the snapshot starts at the snapshot's position, which
// the source relies on being durable (cdc.Message.SaveNow).
func checkSaveNow(t *testing.T, snap txn) {
	t.Helper()
	if !snap.saveNow {
		t.Errorf("the snapshot's commit at %s has SaveNow false, want true", snap.commit)
	}
}

// eventsOf returns the events of txs in order.
func eventsOf(txs []txn) []*cdc.Event {
	var out []*cdc.Event
	for _, tx := range txs {
		out = append(out, tx.events...)
	}
	return out
}

// checkSnapshot fails t unless events are reads of table t outside any
// transaction, each row of want exactly once, in any order.
func checkSnapshot(t *testing.T, e env, events []*cdc.Event, want []row) {
	t.Helper()
	var got []row
	for _, ev := range events {
		if ev.Op != cdc.OpRead || ev.Table.ID != e.Table("t") || ev.Tx != nil || ev.Before != nil || len(ev.After) != 2 {
			t.Fatalf("in the snapshot, %s; want reads of %s, Tx nil", describe(cdc.Message{Event: ev}), e.Table("t"))
		}
		id, _ := norm(ev.After[0]).(int64)
		v, _ := ev.After[1].(string)
		got = append(got, row{id, v})
	}
	slices.SortFunc(got, func(a, b row) int { return int(a.id - b.id) })
	if !slices.Equal(got, want) {
		t.Fatalf("the snapshot read %v, want %v", got, want)
	}
}

// testSchemaChange: an event after ALTER TABLE ADD COLUMN has a Table with
// the new column and its value; the event before keeps the old Table.
func testSchemaChange(t *testing.T, e env) {
	setup(t, e, createTable("t"))
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever})
	s.ready(e)
	e.Exec(t, "INSERT INTO t VALUES (1, 'a')")
	e.Exec(t, "ALTER TABLE t ADD COLUMN w INT")
	e.Exec(t, "INSERT INTO t VALUES (2, 'b', 7)")
	first, second := s.tx(), s.tx()
	checkEvents(t, e, first.events, []want{{op: cdc.OpCreate, table: "t", after: []any{1, "a"}}})
	checkEvents(t, e, second.events, []want{{op: cdc.OpCreate, table: "t", after: []any{2, "b", 7}}})
	checkColumns(t, "before the change", first.events[0].Table, "id", "v")
	checkColumns(t, "after the change", second.events[0].Table, "id", "v", "w")
}

// checkColumns fails t unless table has the named columns, in order.
func checkColumns(t *testing.T, when string, table *cdc.Table, names ...string) {
	t.Helper()
	var got []string
	for _, c := range table.Columns {
		got = append(got, c.Name)
	}
	if !slices.Equal(got, names) {
		t.Errorf("%s, the table has columns %v, want %v", when, got, names)
	}
}

// testTruncate: TRUNCATE TABLE yields a truncate event for the table,
// alone in its transaction.
func testTruncate(t *testing.T, e env) {
	setup(t, e, createTable("t"), "INSERT INTO t VALUES (1, 'a')")
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever})
	s.ready(e)
	e.Exec(t, "INSERT INTO t VALUES (2, 'b')", "TRUNCATE TABLE t")
	checkTxs(t, e, s.mark(e), [][]want{
		{{op: cdc.OpCreate, table: "t", after: []any{2, "b"}}},
		{{op: cdc.OpTruncate, table: "t"}},
	})
}

// testTruncateUnchanged: a truncate is yielded also when it is the first
// change to its table since the source opened, on a first start and after
// a resume.
func testTruncateUnchanged(t *testing.T, e env) {
	setup(t, e, createTable("t"), "INSERT INTO t VALUES (1, 'a')")
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever})
	s.ready(e)
	e.Exec(t, "TRUNCATE TABLE t")
	truncated := [][]want{{{op: cdc.OpTruncate, table: "t"}}}
	checkTxs(t, e, s.mark(e), truncated)
	e.Exec(t, "INSERT INTO t VALUES (2, 'b')")
	cp := position(t, s.tx().commit)
	s.close()
	e.Exec(t, "TRUNCATE TABLE t")
	s = open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever, Checkpoint: cp})
	checkTxs(t, e, s.mark(e), truncated)
}

// checkTxs fails t unless got are the transactions of want, in order.
func checkTxs(t *testing.T, e env, got []txn, want [][]want) {
	t.Helper()
	if len(got) != len(want) {
		var all []string
		for _, tx := range got {
			all = append(all, describeTx(tx))
		}
		t.Fatalf("got %d transactions, want %d: %v", len(got), len(want), all)
	}
	for i := range want {
		checkEvents(t, e, got[i].events, want[i])
	}
}

// testAddedTable: a table the capture did not include when a position was
// taken is snapshotted incrementally when the source resumes from that
// position with the table included (reads marked incremental, in key
// order, then a commit), and then streamed.
func testAddedTable(t *testing.T, e env) {
	s := restartWithTable(t, e, 0, createTable("t2"),
		"INSERT INTO t2 VALUES (3, 'c')", "INSERT INTO t2 VALUES (1, 'a')", "INSERT INTO t2 VALUES (2, 'b')")
	reads := s.tx()
	checkEvents(t, e, reads.events, []want{
		{op: cdc.OpRead, table: "t2", after: []any{1, "a"}},
		{op: cdc.OpRead, table: "t2", after: []any{2, "b"}},
		{op: cdc.OpRead, table: "t2", after: []any{3, "c"}},
	})
	for _, ev := range reads.events {
		if ev.Source.Snapshot != cdc.SnapshotIncremental {
			t.Errorf("a read of the added table has source.snapshot %q, want %q", ev.Source.Snapshot, cdc.SnapshotIncremental)
		}
	}
	e.Exec(t, "UPDATE t2 SET v = 'B' WHERE id = 2")
	checkEvents(t, e, s.tx().events, []want{{op: cdc.OpUpdate, table: "t2", before: []any{2, "b"}, after: []any{2, "B"}}})
}

// testAddedTableChunks: an added table with a composite key of text and a
// signed integer, read in chunks of 2 rows, yields each row exactly once:
// the chunks' key comparisons agree with the server's key order (its
// collation included).
func testAddedTableChunks(t *testing.T, e env) {
	rows := [][]any{{"", -1, "e"}, {"a", 0, "x"}, {"a", -7, "y"}, {"a b", 3, "z"}, {"ab", 1, "w"},
		{"b", 2147483647, "v"}, {"b", -2147483648, "u"}, {"z", 5, "t"}, {"éa", 1, "s"}}
	stmts := []string{"CREATE TABLE ck (a VARCHAR(20), b INT, v VARCHAR(40), PRIMARY KEY (a, b))"}
	for _, r := range rows {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO ck VALUES ('%s', %d, '%s')", r[0], r[1], r[2]))
	}
	s := restartWithTable(t, e, 2, stmts...)
	seen := readsOnce(t, e, s, "ck", len(rows), func(r []any) string { return fmt.Sprint(norm(r[0]), norm(r[1]), norm(r[2])) })
	for _, r := range rows {
		if k := fmt.Sprint(norm(r[0]), norm(r[1]), norm(r[2])); seen[k] != 1 {
			t.Errorf("row %v read %d times, want once", r, seen[k])
		}
	}
	e.Exec(t, "INSERT INTO ck VALUES ('zz', 0, 'after')")
	checkEvents(t, e, s.tx().events, []want{{op: cdc.OpCreate, table: "ck", after: []any{"zz", 0, "after"}}})
}

// testAddedTableAltered: a table altered between two chunks of its
// incremental snapshot is read on: chunks read after the ALTER carry the
// new column (those read before it, as the next chunk is read ahead, do
// not, and the stream's updates follow them), no row is lost or read twice,
// and the events replay to the table.
func testAddedTableAltered(t *testing.T, e env) {
	stmts := []string{createTable("t2")}
	for id := 1; id <= 6; id++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO t2 VALUES (%d, 'r%d')", id, id))
	}
	s := restartWithTable(t, e, 2, stmts...)
	checkEvents(t, e, s.tx().events, []want{
		{op: cdc.OpRead, table: "t2", after: []any{1, "r1"}},
		{op: cdc.OpRead, table: "t2", after: []any{2, "r2"}},
	})
	e.Exec(t, "ALTER TABLE t2 ADD COLUMN w INT", "UPDATE t2 SET w = id * 10")
	state, reads := map[int64]string{1: "r1 <nil>", 2: "r2 <nil>"}, map[int64]int{}
	for len(reads) < 4 {
		for _, ev := range s.tx().events {
			if ev.Table.ID != e.Table("t2") {
				continue
			}
			id, _ := norm(ev.After[0]).(int64)
			w := any(nil)
			if len(ev.After) == 3 {
				w = norm(ev.After[2])
			}
			state[id] = fmt.Sprint(ev.After[1], " ", w)
			if ev.Op == cdc.OpRead {
				reads[id]++
			}
		}
	}
	s.mark(e) // the updates still due arrive before the marker
	for _, tx := range s.mark(e) {
		for _, ev := range tx.events {
			id, _ := norm(ev.After[0]).(int64)
			state[id] = fmt.Sprint(ev.After[1], " ", norm(ev.After[2]))
		}
	}
	for id := int64(1); id <= 6; id++ {
		if want := fmt.Sprintf("r%d %d", id, id*10); state[id] != want {
			t.Errorf("row %d replays to %q, want %q", id, state[id], want)
		}
		if id > 2 && reads[id] != 1 {
			t.Errorf("row %d read %d times, want once", id, reads[id])
		}
	}
}

// testAddedTableUUID: an added table keyed by a uuid column (MariaDB's and
// PostgreSQL's uuid types order differently from the text) is read in
// chunks of 2, each row exactly once.
func testAddedTableUUID(t *testing.T, e env) {
	ids := []string{"00000000-0000-0000-0000-000000000001", "ffffffff-0000-0000-0000-000000000000",
		"0b1e7c1c-5a1e-4f5e-9b1a-3c2d1e0f9a8b", "80000000-0000-0000-0000-000000000000",
		"7fffffff-ffff-ffff-ffff-ffffffffffff", "12345678-9abc-4ef0-9234-56789abcdef0", "00000000-0000-0000-ffff-000000000000"}
	stmts := []string{"CREATE TABLE ku (id UUID PRIMARY KEY, v VARCHAR(40))"}
	for i, id := range ids {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO ku VALUES ('%s', 'r%d')", id, i))
	}
	s := restartWithTable(t, e, 2, stmts...)
	seen := readsOnce(t, e, s, "ku", len(ids), func(r []any) string { return fmt.Sprint(r[0]) })
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("uuid %s read %d times, want once (reads: %v)", id, seen[id], seen)
		}
	}
}

// testAddedTableBinary: an added table keyed by a binary column (bytes
// compared unsigned, zero bytes and 0xff included, prefixes of each other)
// is read in chunks of 2, each row exactly once.
func testAddedTableBinary(t *testing.T, e env) {
	keys := [][]byte{{0}, {0, 0}, {0xff}, {0x7f, 0xff}, {0x80}, {1, 2, 3}, {1, 2}, {0xff, 0}, {0x00, 0xff}}
	stmts := []string{"CREATE TABLE kb (id " + e.dialect.Binary + " PRIMARY KEY, v VARCHAR(40))"}
	for i, k := range keys {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO kb VALUES (%s, 'r%d')", e.dialect.BinaryLiteral(k), i))
	}
	s := restartWithTable(t, e, 2, stmts...)
	seen := readsOnce(t, e, s, "kb", len(keys), func(r []any) string { return fmt.Sprintf("%x", r[0]) })
	for _, k := range keys {
		if seen[fmt.Sprintf("%x", k)] != 1 {
			t.Errorf("key %x read %d times, want once (reads: %v)", k, seen[fmt.Sprintf("%x", k)], seen)
		}
	}
}

// testAddedTableDropped: of two added tables, one dropped after its first
// chunk and one empty, the dropped one's snapshot ends without an error
// (at most the chunk read ahead before the DROP follows), the empty one
// yields no read, and the stream goes on.
func testAddedTableDropped(t *testing.T, e env) {
	s := restartWithTable(t, e, 2, createTable("td"), createTable("te"),
		"INSERT INTO td VALUES (1, 'a')", "INSERT INTO td VALUES (2, 'b')", "INSERT INTO td VALUES (3, 'c')")
	checkEvents(t, e, s.tx().events, []want{
		{op: cdc.OpRead, table: "td", after: []any{1, "a"}},
		{op: cdc.OpRead, table: "td", after: []any{2, "b"}},
	})
	e.Exec(t, "DROP TABLE td", "INSERT INTO t1 VALUES (2, 'after')")
	tx := s.tx()
	if len(tx.events) == 1 && tx.events[0].Op == cdc.OpRead {
		checkEvents(t, e, tx.events, []want{{op: cdc.OpRead, table: "td", after: []any{3, "c"}}})
		tx = s.tx()
	}
	checkEvents(t, e, tx.events, []want{{op: cdc.OpCreate, table: "t1", after: []any{2, "after"}}})
}

// restartWithTable is the start of the added-table cases: it creates t1
// and what stmts make, streams t1 alone up to a checkpoint, then reopens
// the source from it capturing every table, in chunks of chunkRows (0: the
// source's default). A source whose Limits say it does not snapshot added
// tables skips the case.
func restartWithTable(t *testing.T, e env, chunkRows int, stmts ...string) *stream {
	t.Helper()
	if e.limits.NoAddedTableSnapshot {
		t.Skip("this source does not snapshot a table added to the capture yet")
	}
	setup(t, e, append([]string{createTable("t1")}, stmts...)...)
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever, Tables: []string{markTable, "t1"}})
	s.ready(e)
	e.Exec(t, "INSERT INTO t1 VALUES (1, 'x')")
	cp := position(t, s.tx().commit)
	s.close()
	return open(t, e, OpenOptions{Snapshot: cdc.SnapshotInitial, Checkpoint: cp, ChunkRows: chunkRows})
}

// readsOnce reads the snapshot of table until n rows came, failing t on
// anything but its reads, and counts the rows by key(row).
func readsOnce(t *testing.T, e env, s *stream, table string, n int, key func(row []any) string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for got := 0; got < n; {
		for _, ev := range s.tx().events {
			if ev.Op != cdc.OpRead || ev.Table.ID != e.Table(table) {
				t.Fatalf("during the snapshot: %s", describe(cdc.Message{Event: ev}))
			}
			seen[key(ev.After)]++
			got++
		}
	}
	return seen
}
