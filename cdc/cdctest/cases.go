package cdctest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// ackTimeout is how long Ack and Close may take.
const ackTimeout = 5 * time.Second

// testTransaction: a transaction's events come in statement order, with
// one transaction block, followed by exactly one Commit.
func testTransaction(t *testing.T, e env) {
	setup(t, e, createTable("t1"), createTable("t2"), "INSERT INTO t2 VALUES (1, 'x')")
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever})
	s.ready(e)
	e.Exec(t, "BEGIN", "INSERT INTO t1 VALUES (1, 'a')", "INSERT INTO t1 VALUES (2, 'b')",
		"UPDATE t2 SET v = 'y' WHERE id = 1", "COMMIT")
	tx := s.tx()
	checkEvents(t, e, tx.events, []want{
		{op: cdc.OpCreate, table: "t1", after: []any{1, "a"}},
		{op: cdc.OpCreate, table: "t1", after: []any{2, "b"}},
		{op: cdc.OpUpdate, table: "t2", before: []any{1, "x"}, after: []any{1, "y"}},
	})
	checkTxInfo(t, tx.events)
	checkOneCommit(t, e, s, tx.commit)
}

// checkOneCommit writes a marker and reads up to its event, failing t if a
// Commit at pos comes again (a transaction has exactly one) or an event
// comes first.
func checkOneCommit(t *testing.T, e env, s *stream, pos cdc.Position) {
	t.Helper()
	id := markers.Add(1)
	e.Exec(t, fmt.Sprintf("INSERT INTO %s VALUES (%d, 'mark')", markTable, id))
	for {
		m := s.next()
		switch {
		case m.Commit != nil && m.Commit.String() == pos.String():
			t.Fatalf("a second commit at %s", pos)
		case m.Event != nil && isMark(e, txn{events: []*cdc.Event{m.Event}}, id):
			return
		case m.Event != nil:
			t.Fatalf("after the transaction's commit, unexpected %s", describe(m))
		}
	}
}

// testResume: a source opened from a marshalled Commit yields what was
// written after it, and nothing before it.
func testResume(t *testing.T, e env) {
	setup(t, e, createTable("t"))
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever})
	s.ready(e)
	e.Exec(t, "BEGIN", "INSERT INTO t VALUES (1, 'a')", "INSERT INTO t VALUES (2, 'b')", "COMMIT")
	tx1 := s.tx()
	checkEvents(t, e, tx1.events, []want{
		{op: cdc.OpCreate, table: "t", after: []any{1, "a"}},
		{op: cdc.OpCreate, table: "t", after: []any{2, "b"}},
	})
	cp := position(t, tx1.commit)
	s.close()
	e.Exec(t, "BEGIN", "INSERT INTO t VALUES (3, 'c')", "UPDATE t SET v = 'A' WHERE id = 1", "COMMIT")
	e.Exec(t, "DELETE FROM t WHERE id = 2")
	// A checkpoint wins over the snapshot mode: no snapshot now.
	s = open(t, e, OpenOptions{Snapshot: cdc.SnapshotInitial, Checkpoint: cp})
	checkEvents(t, e, s.tx().events, []want{
		{op: cdc.OpCreate, table: "t", after: []any{3, "c"}},
		{op: cdc.OpUpdate, table: "t", before: []any{1, "a"}, after: []any{1, "A"}},
	})
	checkEvents(t, e, s.tx().events, []want{{op: cdc.OpDelete, table: "t", before: []any{2, "b"}}})
}

// testAck: Ack of a yielded Commit succeeds, also from another goroutine
// while Next blocks, and a position never acknowledged is yielded again
// after a restart from the acknowledged one.
func testAck(t *testing.T, e env) {
	setup(t, e, createTable("t"))
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever})
	s.ready(e)
	e.Exec(t, "INSERT INTO t VALUES (1, 'a')")
	tx1 := s.tx()
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	if err := s.src.Ack(ctx, tx1.commit); err != nil {
		t.Fatalf("Ack(%s) = %v, want nil", tx1.commit, err)
	}
	cp := position(t, tx1.commit)
	ackWhileBlocked(t, e, s, tx1.commit, "INSERT INTO t VALUES (2, 'b')")
	tx2 := s.tx()
	want2 := []want{{op: cdc.OpCreate, table: "t", after: []any{2, "b"}}}
	checkEvents(t, e, tx2.events, want2)
	s.idle(idleTime) // time to confirm tx2 to the server, wrongly
	s.close()
	s = open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever, Checkpoint: cp})
	checkEvents(t, e, s.tx().events, want2)
}

// result is what a Next call returned.
type result struct {
	m   cdc.Message
	err error
}

// ackWhileBlocked calls Ack(pos) from another goroutine while Next blocks
// with nothing to read, failing t unless Ack returns nil within
// ackTimeout; then it runs write, which ends the Next call. The event Next
// returned is yielded again by s.next.
func ackWhileBlocked(t *testing.T, e env, s *stream, pos cdc.Position, write string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), nextTimeout)
	defer cancel()
	got, received := make(chan result, 1), false
	go func() { got <- nextEvent(ctx, s.src) }()
	defer func() {
		if !received { // failing: let Next end before the source is closed
			cancel()
			<-got
		}
	}()
	time.Sleep(500 * time.Millisecond) // let Next block
	acked := make(chan error, 1)
	go func() {
		actx, acancel := context.WithTimeout(context.Background(), ackTimeout)
		defer acancel()
		acked <- s.src.Ack(actx, pos)
	}()
	select {
	case err := <-acked:
		if err != nil {
			t.Fatalf("Ack(%s) while Next blocks = %v, want nil", pos, err)
		}
	case <-time.After(ackTimeout):
		t.Fatalf("Ack(%s) did not return within %v while Next blocked", pos, ackTimeout)
	}
	e.Exec(t, write)
	r := <-got
	received = true
	if r.err != nil {
		t.Fatalf("Next: %v", r.err)
	}
	if err := checkMessage(r.m); err != nil {
		t.Fatalf("Next yielded %s: %v", describe(r.m), err)
	}
	s.held = append(s.held, r.m)
}

// nextEvent calls Next until it yields an event or fails; empty commits
// (heartbeats) are dropped.
func nextEvent(ctx context.Context, src cdc.Source) result {
	for {
		m, err := src.Next(ctx)
		if err != nil || m.Event != nil {
			return result{m, err}
		}
	}
}

// testCloseTwice: Close may be called twice after use, and neither call
// panics or hangs.
func testCloseTwice(t *testing.T, e env) {
	setup(t, e, createTable("t"))
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever})
	s.ready(e)
	e.Exec(t, "INSERT INTO t VALUES (1, 'a')")
	checkEvents(t, e, s.tx().events, []want{{op: cdc.OpCreate, table: "t", after: []any{1, "a"}}})
	s.closed = true // closed here, not at cleanup
	for i := 1; i <= 2; i++ {
		failure, err := closeWithin(s.src, ackTimeout)
		if failure != "" {
			t.Fatalf("Close #%d %s", i, failure)
		}
		if err != nil {
			t.Logf("Close #%d = %v", i, err)
		}
	}
}

// closeResult is what a Close call did.
type closeResult struct {
	err      error
	panicked any
}

// closeWithin calls src.Close and returns its error, or says how it
// failed: a panic, or no return within d.
func closeWithin(src cdc.Source, d time.Duration) (failure string, err error) {
	done := make(chan closeResult, 1)
	go func() {
		var r closeResult
		defer func() {
			r.panicked = recover()
			done <- r
		}()
		r.err = src.Close()
	}()
	select {
	case r := <-done:
		if r.panicked != nil {
			return fmt.Sprintf("panicked: %v", r.panicked), nil
		}
		return "", r.err
	case <-time.After(d):
		return fmt.Sprintf("did not return within %v", d), nil
	}
}
