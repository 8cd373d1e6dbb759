package incremental

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

func table(key ...int) *cdc.Table {
	return &cdc.Table{ID: cdc.TableID{Schema: "shop", Name: "t"}, Key: key,
		Columns: []cdc.Column{{Name: "a", Kind: cdc.KindInt64}, {Name: "b", Kind: cdc.KindString}, {Name: "v", Kind: cdc.KindString}}}
}

func row(a int64, b, v string) []any { return []any{a, b, v} }

// TestWindow: the rows left at the high watermark are the chunk's rows
// whose keys the stream did not change inside the window, in key order.
func TestWindow(t *testing.T) {
	tb := table(0, 1)
	other := &cdc.Table{ID: cdc.TableID{Schema: "shop", Name: "u"}, Key: []int{0}, Columns: tb.Columns}
	altered := table(0, 1) // same table, another schema version
	chunk := func() [][]any {
		return [][]any{row(1, "x", "r1"), row(2, "x", "r2"), row(3, "y", "r3"), row(4, "y", "r4")}
	}
	ev := func(op cdc.Op, tbl *cdc.Table, before, after []any) *cdc.Event {
		return &cdc.Event{Op: op, Table: tbl, Before: before, After: after}
	}
	tests := []struct {
		name   string
		events []*cdc.Event
		want   string // the a values left
		stale  bool
	}{
		{"nothing in the window", nil, "[1 2 3 4]", false},
		{"update of a chunk key", []*cdc.Event{ev(cdc.OpUpdate, tb, row(2, "x", "r2"), row(2, "x", "new"))}, "[1 3 4]", false},
		{"update without before (PostgreSQL)", []*cdc.Event{ev(cdc.OpUpdate, tb, nil, row(3, "y", "new"))}, "[1 2 4]", false},
		{"delete with the key only", []*cdc.Event{ev(cdc.OpDelete, tb, []any{int64(4), "y", nil}, nil)}, "[1 2 3]", false},
		{"insert of a key the chunk lacks", []*cdc.Event{ev(cdc.OpCreate, tb, nil, row(5, "x", "r5"))}, "[1 2 3 4]", false},
		{"delete then insert again", []*cdc.Event{ev(cdc.OpDelete, tb, row(1, "x", "r1"), nil), ev(cdc.OpCreate, tb, nil, row(1, "x", "again"))}, "[2 3 4]", false},
		{"key change drops both keys", []*cdc.Event{ev(cdc.OpUpdate, tb, row(1, "x", "r1"), row(4, "y", "moved"))}, "[2 3]", false},
		{"composite key: one part equal is not the key", []*cdc.Event{ev(cdc.OpUpdate, tb, row(1, "y", "?"), row(1, "y", "?"))}, "[1 2 3 4]", false},
		{"key of another type", []*cdc.Event{ev(cdc.OpUpdate, tb, []any{"1", "x", "r1"}, []any{"1", "x", "z"})}, "[1 2 3 4]", false},
		{"another table", []*cdc.Event{ev(cdc.OpDelete, other, row(1, "x", ""), nil)}, "[1 2 3 4]", false},
		{"a read of another snapshot", []*cdc.Event{ev(cdc.OpRead, tb, nil, row(2, "x", "old"))}, "[1 2 3 4]", false},
		{"truncate", []*cdc.Event{ev(cdc.OpTruncate, tb, nil, nil)}, "[]", false},
		{"truncate then insert", []*cdc.Event{ev(cdc.OpTruncate, tb, nil, nil), ev(cdc.OpCreate, tb, nil, row(2, "x", "n"))}, "[]", false},
		{"schema changed inside the window", []*cdc.Event{ev(cdc.OpCreate, altered, nil, row(9, "z", ""))}, "[1 2 3 4]", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWindow(tb, chunk())
			for _, e := range tc.events {
				w.Observe(e)
			}
			var got []any
			for _, r := range w.Rows() {
				got = append(got, r[0])
			}
			if fmt.Sprint(got) != tc.want {
				t.Errorf("rows left %v, want %s", got, tc.want)
			}
			if w.Stale() != tc.stale {
				t.Errorf("stale %v, want %v", w.Stale(), tc.stale)
			}
			if w.Dropped()+len(w.Rows()) != 4 {
				t.Errorf("dropped %d + left %d != 4", w.Dropped(), len(w.Rows()))
			}
		})
	}
}

// TestKey: keys are equal exactly when the key values are, type included.
func TestKey(t *testing.T) {
	tb := table(0, 1)
	keyless := table()
	tests := []struct {
		name string
		t    *cdc.Table
		a, b []any
		same bool
	}{
		{"same key, other values", tb, row(1, "x", "a"), row(1, "x", "b"), true},
		{"other key", tb, row(1, "x", "a"), row(2, "x", "a"), false},
		{"lengths are explicit", tb, []any{int64(1), "ab", ""}, []any{int64(1), "a", "b"}, false},
		{"int64 vs uint64", table(0), []any{int64(7)}, []any{uint64(7)}, false},
		{"int64 vs string", table(0), []any{int64(7)}, []any{"7"}, false},
		{"negative", table(0), []any{int64(-1)}, []any{int64(-1)}, true},
		{"bytes vs string", table(0), []any{[]byte("k")}, []any{"k"}, false},
		{"decimal", table(0), []any{big.NewInt(12345)}, []any{big.NewInt(12345)}, true},
		{"null vs empty", table(0), []any{nil}, []any{""}, false},
		{"keyless: the whole row", keyless, row(1, "x", "a"), row(1, "x", "b"), false},
		{"keyless: equal rows", keyless, row(1, "x", "a"), row(1, "x", "a"), true},
	}
	for _, tc := range tests {
		if got := Key(tc.t, tc.a) == Key(tc.t, tc.b); got != tc.same {
			t.Errorf("%s: same %v, want %v", tc.name, got, tc.same)
		}
	}
}
