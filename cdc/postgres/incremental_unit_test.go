package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// TestSnapshotVisibility: a chunk's read saw the transactions before xmin,
// and those before xmax not in progress; xids compare modulo 2^32 and the
// epoch of pg_current_snapshot() is dropped, as pgoutput's xids have none.
func TestSnapshotVisibility(t *testing.T) {
	snap, err := parseSnapshot("4294967396:4294967410:4294967400,4294967405") // epoch 1: xmin 100, xmax 114, xip 104, 109
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		xid  uint32
		want bool
	}{{99, true}, {103, true}, {104, false}, {109, false}, {113, true}, {114, false}, {200, false}}
	for _, tc := range tests {
		if got := snap.visible(tc.xid); got != tc.want {
			t.Errorf("xid %d visible %v, want %v (snapshot %+v)", tc.xid, got, tc.want, snap)
		}
	}
	wrap, err := parseSnapshot("4294967290:4294967300:")
	if err != nil {
		t.Fatal(err)
	}
	// xmin 4294967290, xmax 4 after the wrap: 2 is in between, unfinished at
	// no point, so visible; 5 is after xmax.
	if !wrap.visible(2) || wrap.visible(5) || !wrap.visible(4294967280) {
		t.Errorf("around the wrap: %+v", wrap)
	}
	for _, bad := range []string{"", "1:2", "x:2:", "1:2:3,y"} {
		if _, err := parseSnapshot(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestChunkQueryPostgres(t *testing.T) {
	table := &cdc.Table{ID: cdc.TableID{Schema: "public", Name: "t"},
		Columns: []cdc.Column{{Name: "a"}, {Name: "b"}, {Name: "c"}}, Key: []int{1, 0}}
	rs := &relState{table: table, idx: []int{0, -1, 1, 2}, dec: make([]textDecoder, 4)} // relation column 1 is excluded
	cols := []relColumn{{name: "a"}, {name: "x"}, {name: "b"}, {name: "c"}}
	r, err := newTableReader(context.Background(), rs, cols, quoteID(table.ID), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	q, args := chunkQuery(r, []any{"k", "3"}, 50)
	want := `SELECT "a", "b", "c" FROM "public"."t" WHERE ("b", "a") > ($1, $2) ORDER BY "b", "a" LIMIT 50`
	if q != want || fmt.Sprintf("%s", args) != "[k 3]" {
		t.Errorf("got %s %s\nwant %s [k 3]", q, args, want)
	}
	table.Key = nil
	if q, _ := chunkQuery(r, nil, 50); q != `SELECT "a", "b", "c" FROM "public"."t"` {
		t.Errorf("keyless: %s", q)
	}
}

// TestCatchUp: a change streamed just before a chunk's read, from a
// transaction the read's snapshot still shows in progress, replaces the
// chunk's row; one from a transaction the read saw does not.
func TestCatchUp(t *testing.T) {
	table := &cdc.Table{ID: cdc.TableID{Schema: "public", Name: "t"},
		Columns: []cdc.Column{{Name: "id"}, {Name: "v"}}, Key: []int{0}}
	s := &Source{}
	s.chunks = &incChunks{s: s}
	s.inc = s.newDriver((*incremental.Progress)(nil).With(table.ID))
	update := func(xid uint32, id int64) {
		s.stream.tx.xid = xid
		s.observe(&cdc.Event{Op: cdc.OpUpdate, Table: table, After: []any{id, "new"}})
	}
	update(5, 1) // committed and visible to the read
	update(7, 2) // committed, streamed, but still in the read's xip
	snap, err := parseSnapshot("6:8:7")
	if err != nil {
		t.Fatal(err)
	}
	c := &chunk{snap: snap, win: incremental.NewWindow(table, [][]any{{int64(1), "a"}, {int64(2), "b"}, {int64(3), "c"}})}
	s.chunks.OpenWindow(c)
	var left []any
	for _, r := range c.win.Rows() {
		left = append(left, r[0])
	}
	if fmt.Sprint(left) != "[1 3]" {
		t.Errorf("rows left %v, want [1 3]", left)
	}
	if len(s.chunks.recent) != 0 {
		t.Errorf("%d changes kept after the catch-up", len(s.chunks.recent))
	}
}
