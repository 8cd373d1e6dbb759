package cdctest

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// The transaction of the reconnect case: far more than a client holds in
// its buffers (go-mysql caches 1,024 events, a socket a few MB), so that
// the cut falls inside it.
const (
	cutStatements = 4000
	cutRowsPer    = 50
)

// testReconnectInsideTransaction: the server ends the stream's connection
// while the source yields a large transaction; the source reconnects by
// itself and goes on: every row of the transaction comes once, in order,
// then one Commit. (A source that yields the rows before the cut again
// breaks exactly once: an open Kafka transaction holds them already.)
func testReconnectInsideTransaction(t *testing.T, e env) {
	setup(t, e, createTable("t"))
	h := &downs{}
	s := open(t, e, OpenOptions{Snapshot: cdc.SnapshotNever, Health: h})
	s.ready(e)
	stmts := []string{"BEGIN"}
	for i := range cutStatements {
		rows := make([]string, cutRowsPer)
		for j := range rows {
			id := i*cutRowsPer + j + 1
			rows[j] = fmt.Sprintf("(%d, 'row %d, too large to buffer')", id, id)
		}
		stmts = append(stmts, "INSERT INTO t VALUES "+strings.Join(rows, ", "))
	}
	e.Exec(t, append(stmts, "COMMIT")...)

	want, cutAt := int64(1), int64(0)
	for {
		m := s.next()
		if m.Commit != nil {
			if want == 1 {
				continue // a position before the transaction
			}
			break
		}
		ev := m.Event
		if ev.Table.ID != e.Table("t") || ev.Op != cdc.OpCreate || norm(ev.After[0]) != want {
			t.Fatalf("row %d was due (%d came so far), got %s: a row twice or lost", want, want-1, describe(m))
		}
		if want == 100 {
			e.Sever(t)
		}
		if cutAt == 0 && h.n.Load() > 0 {
			cutAt = want
		}
		want++
	}
	if total := int64(cutStatements * cutRowsPer); want-1 != total {
		t.Fatalf("the transaction's Commit after %d rows, want %d", want-1, total)
	}
	if cutAt == 0 {
		t.Fatalf("the source did not lose its connection inside the transaction (no Health.Down before its Commit): the case proves nothing")
	}
	t.Logf("connection lost after %d of %d rows; each came once", cutAt, cutStatements*cutRowsPer)
}

// downs is a cdc.Health that counts Down calls.
type downs struct {
	cdc.NoHealth
	n atomic.Int64
}

// Down implements cdc.Health.
func (d *downs) Down(string, error) { d.n.Add(1) }
