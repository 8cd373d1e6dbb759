package cdctest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// lastID is the key of the row the first-start cases add last: the
// largest, so its read is in the last chunk of the table's snapshot.
const lastID = 1000

// testSnapshotInitial: snapshot mode initial starts streaming at once and
// snapshots the table incrementally meanwhile, in chunks of 2: the first
// message is a Commit asking to be saved now (the start, durable before
// any chunk), reads are marked incremental, and once the last chunk came,
// replaying what was yielded gives the table, although rows were
// inserted, updated and deleted before and between chunks.
func testSnapshotInitial(t *testing.T, e env) {
	table := map[int64]string{1: "a", 2: "b", 3: "c", 4: "d", 5: "e"}
	setup(t, e, append([]string{createTable("t")}, inserts("t", rowsOf(table)...)...)...)
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotInitial, ChunkRows: 2})
	if m := s.next(); m.Commit == nil || !m.SaveNow {
		t.Fatalf("first message %s (SaveNow %v), want the start's Commit with SaveNow", describe(m), m.SaveNow)
	}
	e.Exec(t, "UPDATE t SET v = 'A' WHERE id = 1", "DELETE FROM t WHERE id = 2", "INSERT INTO t VALUES (6, 'f')")
	table[1] = "A"
	delete(table, 2)
	table[6] = "f"
	got := map[int64]string{}
	replayTx(t, e, s.tx(), got) // the first chunk
	e.Exec(t, "UPDATE t SET v = 'D' WHERE id = 4", "DELETE FROM t WHERE id = 5", "INSERT INTO t VALUES (1000, 'last')")
	table[4] = "D"
	delete(table, 5)
	table[lastID] = "last"
	for !replayTx(t, e, s.tx(), got) {
	}
	if !maps.Equal(got, table) {
		t.Fatalf("after the snapshot, the events replay to %v, want the table %v", got, table)
	}
}

// replayTx applies tx's events of table t to state (id → v) and reports
// whether tx held the read of row lastID: the end of the snapshot.
func replayTx(t *testing.T, e env, tx txn, state map[int64]string) (last bool) {
	t.Helper()
	for _, ev := range tx.events {
		if ev.Table.ID != e.Table("t") {
			continue
		}
		if ev.Op == cdc.OpRead && ev.Source.Snapshot != cdc.SnapshotIncremental {
			t.Errorf("a read has source.snapshot %q, want %q", ev.Source.Snapshot, cdc.SnapshotIncremental)
		}
		if ev.Before != nil {
			id, _ := norm(ev.Before[0]).(int64)
			delete(state, id)
		}
		if ev.After != nil {
			id, _ := norm(ev.After[0]).(int64)
			v, _ := ev.After[1].(string)
			state[id] = v
			last = last || ev.Op == cdc.OpRead && id == lastID
		}
	}
	return last
}

// rowsOf lists the rows of a table held as id → v.
func rowsOf(table map[int64]string) []row {
	var out []row
	for id, v := range table {
		out = append(out, row{id, v})
	}
	return out
}

// testEndOfStream: snapshot mode initial_only snapshots incrementally,
// streaming meanwhile, then ends with cdc.ErrEndOfStream once the last
// chunk's Commit is yielded; what it yielded replays to the table.
func testEndOfStream(t *testing.T, e env) {
	table := map[int64]string{1: "a", 2: "b"}
	setup(t, e, append([]string{createTable("t")}, inserts("t", rowsOf(table)...)...)...)
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotInitialOnly})
	e.Exec(t, "INSERT INTO t VALUES (3, 'c')", "DELETE FROM t WHERE id = 1")
	table[3] = "c"
	delete(table, 1)
	ctx, cancel := context.WithTimeout(context.Background(), nextTimeout)
	defer cancel()
	got := map[int64]string{}
	var tx txn
	for {
		m, err := s.src.Next(ctx)
		if errors.Is(err, cdc.ErrEndOfStream) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v (before the end of the stream)", err)
		}
		if m.Event != nil {
			tx.events = append(tx.events, m.Event)
			continue
		}
		replayTx(t, e, tx, got)
		tx = txn{}
	}
	if len(tx.events) > 0 {
		t.Fatalf("the stream ended after %d events without their Commit", len(tx.events))
	}
	if !maps.Equal(got, table) {
		t.Fatalf("initial_only yielded what replays to %v, want the table %v", got, table)
	}
}

// testOnDemand: a table already streaming is snapshotted again on
// request (fluxo snapshot): the source takes the request between
// transactions and yields a Commit asking to be saved now, so that the
// request survives a crash: a source reopened from that Commit reads the
// table, every row once, marked incremental, and the Control's queue
// empties once it is done.
func testOnDemand(t *testing.T, e env) {
	table := map[int64]string{1: "a", 2: "b", 3: "c"}
	setup(t, e, append([]string{createTable("t")}, inserts("t", rowsOf(table)...)...)...)
	ctl := &incremental.Control{}
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever, Snapshots: ctl})
	s.ready(e)
	e.Exec(t, "INSERT INTO t VALUES (1000, 'last')")
	table[lastID] = "last"
	checkEvents(t, e, s.tx().events, []want{{op: cdc.OpCreate, table: "t", after: []any{lastID, "last"}}})
	ctl.Request(e.Table("t"))
	if q := ctl.Queue(); !q.Has(e.Table("t")) {
		t.Fatalf("right after the request, the queue is %+v, want it to hold %s", q, e.Table("t"))
	}
	m := s.next()
	if m.Commit == nil || !m.SaveNow {
		t.Fatalf("after a request, Next = %s (SaveNow %v), want a Commit with SaveNow", describe(m), m.SaveNow)
	}
	s.close()
	ctl = &incremental.Control{}
	s = open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever, Checkpoint: position(t, m.Commit), ChunkRows: 2, Snapshots: ctl})
	got := map[int64]string{}
	for !replayTx(t, e, s.tx(), got) {
	}
	if !maps.Equal(got, table) {
		t.Fatalf("the requested snapshot replays to %v, want the table %v", got, table)
	}
	for i := 0; ctl.Queue().Pending(); i++ { // a full last chunk leaves an empty one to read
		if i == 5 {
			t.Fatalf("after the snapshot and %d markers, the queue still holds %+v", i, ctl.Queue().Tables)
		}
		s.mark(e)
	}
}

// testSignal: an execute-snapshot row inserted into the signal table (not
// captured) in the same transaction as a captured change requests a
// snapshot of the table it names: the transaction's own Commit asks to be
// saved now and carries the request, so that a source reopened from it
// reads the table; the signal table's rows are not events, and a malformed
// signal row is counted as ignored without stopping the stream.
func testSignal(t *testing.T, e env) {
	table := map[int64]string{1: "a", 2: "b", 3: "c"}
	setup(t, e, append([]string{createTable("t"),
		"CREATE TABLE fluxo_signal (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data TEXT)"},
		inserts("t", rowsOf(table)...)...)...)
	ctl := &incremental.Control{}
	o := OpenOptions{Snapshot: cdc.SnapshotNever, Snapshots: ctl, Tables: []string{markTable, "t"}, SignalTable: "fluxo_signal"}
	s := open(t, e, o)
	s.ready(e)
	e.Exec(t, "INSERT INTO fluxo_signal VALUES ('bad-1', 'execute-snapshot', 'not json')")
	s.mark(e)
	e.Exec(t, "BEGIN", "INSERT INTO t VALUES (1000, 'last')",
		fmt.Sprintf(`INSERT INTO fluxo_signal VALUES ('ad-hoc-1', 'execute-snapshot', '{"data-collections": ["%s"], "type": "incremental"}')`, e.Table("t")),
		"COMMIT")
	table[lastID] = "last"
	tx := s.tx()
	checkEvents(t, e, tx.events, []want{{op: cdc.OpCreate, table: "t", after: []any{lastID, "last"}}})
	if !tx.saveNow {
		t.Fatalf("the signal's transaction %s does not ask to be saved now", describeTx(tx))
	}
	if accepted, ignored := ctl.SignalCounts(); accepted != 1 || ignored != 1 {
		t.Fatalf("signals accepted %d, ignored %d; want 1 and 1", accepted, ignored)
	}
	s.close()
	o.Checkpoint, o.ChunkRows, o.Snapshots = position(t, tx.commit), 2, &incremental.Control{}
	s = open(t, e, o)
	got := map[int64]string{}
	for !replayTx(t, e, s.tx(), got) {
	}
	if !maps.Equal(got, table) {
		t.Fatalf("the signalled snapshot replays to %v, want the table %v", got, table)
	}
}

// testNeverSavesStart: snapshot.mode never starts streaming from the
// current position, and its first message is a Commit asking to be saved
// now: a crash before the first transaction must resume from that start,
// not from a later current position that skips what happened in between.
func testNeverSavesStart(t *testing.T, e env) {
	setup(t, e, createTable("t"))
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever})
	m := s.next()
	if m.Commit == nil || !m.SaveNow {
		t.Fatalf("the first message is %s (SaveNow %v), want a Commit asking to be saved now", describe(m), m.SaveNow)
	}
	e.Exec(t, "INSERT INTO t VALUES (1, 'a')")
	s.close()
	s = open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever, Checkpoint: position(t, m.Commit)})
	checkEvents(t, e, s.tx().events, []want{{op: cdc.OpCreate, table: "t", after: []any{int64(1), "a"}}})
}
