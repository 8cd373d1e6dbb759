package cdctest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// nextTimeout bounds each Next call, and each wait for a transaction, so
// that a broken source fails the test instead of hanging it.
const nextTimeout = 30 * time.Second

// markTable is the table every fixture has for markers: rows written to
// prove that the stream has started, or to end a stretch of reading.
const markTable = "mark"

// createTable is the statement creating a table of the suite's shape.
func createTable(name string) string {
	return "CREATE TABLE " + name + " (id INT PRIMARY KEY, v VARCHAR(40))"
}

// setup creates the marker table, then runs stmts.
func setup(t *testing.T, e env, stmts ...string) {
	t.Helper()
	e.Exec(t, append([]string{createTable(markTable)}, stmts...)...)
}

// stream is one opened source of a case.
type stream struct {
	t      *testing.T
	src    cdc.Source
	held   []cdc.Message // read ahead, yielded before the source's next
	closed bool
}

// open opens a source of e and closes it when the test ends.
func open(t *testing.T, e env, o OpenOptions) *stream {
	t.Helper()
	s := &stream{t: t, src: e.Open(t, o)}
	t.Cleanup(s.close)
	return s
}

// close closes the source unless the case did.
func (s *stream) close() {
	if s.closed {
		return
	}
	s.closed = true
	if err := s.src.Close(); err != nil {
		s.t.Logf("Close: %v", err)
	}
}

// next returns the next message, failing the test on an error, after
// nextTimeout, or on a malformed message.
func (s *stream) next() cdc.Message {
	s.t.Helper()
	if len(s.held) > 0 {
		m := s.held[0]
		s.held = s.held[1:]
		return m
	}
	ctx, cancel := context.WithTimeout(context.Background(), nextTimeout)
	defer cancel()
	m, err := s.src.Next(ctx)
	if err != nil {
		s.t.Fatalf("Next: %v", err)
	}
	if err := checkMessage(m); err != nil {
		s.t.Fatalf("Next yielded %s: %v", describe(m), err)
	}
	return m
}

// checkMessage checks what every message promises: either an event or a
// commit, and an event whose rows fit its table.
func checkMessage(m cdc.Message) error {
	if (m.Event == nil) == (m.Commit == nil) {
		return fmt.Errorf("want exactly one of Event and Commit")
	}
	ev := m.Event
	if ev == nil {
		return nil
	}
	if ev.Table == nil {
		return fmt.Errorf("event without a Table")
	}
	for _, row := range [][]any{ev.Before, ev.After} {
		if row != nil && len(row) != len(ev.Table.Columns) {
			return fmt.Errorf("a row of %d values for %d columns", len(row), len(ev.Table.Columns))
		}
	}
	return nil
}

// idleTime is how long a source streams with nothing to read in the ack
// case: time for its periodic work, such as a status update to the server.
const idleTime = 2500 * time.Millisecond

// idle keeps s streaming for d with nothing written, failing the test if
// it yields an event meanwhile (empty commits are fine), then closes it:
// its last Next failed when d ran out.
func (s *stream) idle(d time.Duration) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		m, err := s.src.Next(ctx)
		if err != nil && ctx.Err() == nil {
			s.t.Fatalf("Next: %v", err)
		}
		if err != nil {
			s.close()
			return
		}
		if m.Event != nil {
			s.t.Fatalf("with nothing written, Next yielded %s", describe(m))
		}
	}
}

// txn is one transaction as read: its events and the Commit after them.
type txn struct {
	events  []*cdc.Event
	commit  cdc.Position
	saveNow bool
}

// tx reads the next transaction: the events up to the first Commit that
// follows at least one event. Commits with no event before them (heartbeats,
// DDL, changes to tables not captured, the start of a snapshot) are
// skipped.
func (s *stream) tx() txn {
	s.t.Helper()
	var tx txn
	deadline := time.Now().Add(nextTimeout)
	for {
		m := s.next()
		switch {
		case m.Event != nil:
			tx.events = append(tx.events, m.Event)
		case len(tx.events) > 0:
			tx.commit, tx.saveNow = m.Commit, m.SaveNow
			return tx
		case time.Now().After(deadline):
			s.t.Fatalf("no transaction within %v, only empty commits", nextTimeout)
		}
	}
}

// markers numbers the marker rows of every fixture.
var markers atomic.Int64

// mark writes a marker row and reads until its transaction, returning the
// transactions read before it.
func (s *stream) mark(e env) []txn {
	s.t.Helper()
	id := markers.Add(1)
	e.Exec(s.t, fmt.Sprintf("INSERT INTO %s VALUES (%d, 'mark')", markTable, id))
	var before []txn
	for {
		tx := s.tx()
		if isMark(e, tx, id) {
			return before
		}
		if before = append(before, tx); len(before) > 100 {
			s.t.Fatalf("marker %d not seen after 100 transactions", id)
		}
	}
}

// isMark reports whether tx is exactly the insert of marker id.
func isMark(e env, tx txn, id int64) bool {
	if len(tx.events) != 1 {
		return false
	}
	ev := tx.events[0]
	return ev.Op == cdc.OpCreate && ev.Table.ID == e.Table(markTable) && len(ev.After) > 0 && norm(ev.After[0]) == id
}

// ready proves that the stream has started: a marker row written now is
// the first transaction it yields.
func (s *stream) ready(e env) {
	s.t.Helper()
	if before := s.mark(e); len(before) > 0 {
		s.t.Fatalf("before the marker, the stream yielded %s", describeTx(before[0]))
	}
}

// position returns the bytes of pos, failing the test on error.
func position(t *testing.T, pos cdc.Position) []byte {
	t.Helper()
	b, err := pos.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary of %s: %v", pos, err)
	}
	return b
}
