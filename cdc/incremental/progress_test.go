package incremental

import (
	"fmt"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// TestProgress: a Progress never changes once made (positions that carry
// it are marshalled later), and its steps queue, advance and drop tables.
func TestProgress(t *testing.T) {
	a, b, c := cdc.TableID{Schema: "s", Name: "a"}, cdc.TableID{Schema: "s", Name: "b"}, cdc.TableID{Schema: "s", Name: "c"}
	var none *Progress
	if none.Pending() || none.Current() != nil || none.Has(a) {
		t.Fatal("a nil Progress has work")
	}
	p := none.With(a, b)
	q := p.With(b, c) // b is queued already
	r := q.Advance([]Value{{Type: "i", Text: "20"}}, 20, false)
	s := r.Advance(nil, 5, true) // a is done
	u := s.Keep(func(id cdc.TableID) bool { return id != c })
	tests := []struct {
		name string
		p    *Progress
		want string
	}{
		{"queued", p, "[{s.a 0 0} {s.b 0 0}]"},
		{"queued again", q, "[{s.a 0 0} {s.b 0 0} {s.c 0 0}]"},
		{"after a chunk", r, "[{s.a 20 1} {s.b 0 0} {s.c 0 0}]"},
		{"table done", s, "[{s.b 0 0} {s.c 0 0}]"},
		{"a table removed", u, "[{s.b 0 0}]"},
	}
	for _, tc := range tests {
		var got []string
		for _, c := range tc.p.Tables {
			got = append(got, fmt.Sprintf("{%s %d %d}", c.Table, c.Rows, c.Chunks))
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, got, tc.want)
		}
	}
	if cur := r.Current(); cur.Table != a || len(cur.Last) != 1 || !r.Has(c) || s.Has(a) {
		t.Errorf("current %+v; r has c %v; s has a %v", cur, r.Has(c), s.Has(a))
	}
}

// TestPlan: at a restart, tables no longer captured leave the queue and
// captured tables the checkpoint neither covered nor queued are added, and
// queued only when snapshots are on.
func TestPlan(t *testing.T) {
	a, b, c, d := cdc.TableID{Schema: "s", Name: "a"}, cdc.TableID{Schema: "s", Name: "b"}, cdc.TableID{Schema: "s", Name: "c"}, cdc.TableID{Schema: "s", Name: "d"}
	queued := (*Progress)(nil).With(b, d) // b being read; d was removed from source.tables since
	next, added := queued.Plan([]cdc.TableID{a, b, c}, []cdc.TableID{a}, true)
	if fmt.Sprint(added) != fmt.Sprint([]cdc.TableID{c}) || !next.Has(b) || !next.Has(c) || next.Has(d) || next.Has(a) {
		t.Errorf("added %v, queue %+v", added, next.Tables)
	}
	next, added = queued.Plan([]cdc.TableID{a, b, c}, []cdc.TableID{a}, false)
	if len(added) != 1 || next.Has(c) || !next.Has(b) {
		t.Errorf("snapshots off: added %v, queue %+v", added, next.Tables)
	}
}
