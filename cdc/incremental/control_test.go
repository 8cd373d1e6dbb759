package incremental

import (
	"slices"
	"sync"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// TestControl: requests show in the queue at once, behind the published
// progress; Apply moves them into the source's progress exactly once; a
// table already queued is not queued twice; a nil Control is inert.
func TestControl(t *testing.T) {
	a, b, c := cdc.TableID{Schema: "s", Name: "a"}, cdc.TableID{Schema: "s", Name: "b"}, cdc.TableID{Schema: "s", Name: "c"}
	ctl := &Control{}
	reading := (&Progress{}).With(a)
	if p, ids := ctl.Apply(reading); p != reading || ids != nil {
		t.Fatalf("Apply with nothing requested = %v, %v; want the progress unchanged", p, ids)
	}
	ctl.Publish(reading)
	ctl.Request(b, a, b)
	if got := tables(ctl.Queue()); !slices.Equal(got, []cdc.TableID{a, b}) {
		t.Fatalf("queue after the requests = %v, want [a b]", got)
	}
	p, ids := ctl.Apply(reading)
	if !slices.Equal(ids, []cdc.TableID{b, a}) || !slices.Equal(tables(p), []cdc.TableID{a, b}) {
		t.Fatalf("Apply = %v, %v; want the progress [a b] and the requests [b a]", tables(p), ids)
	}
	if _, ids := ctl.Apply(p); ids != nil {
		t.Fatalf("a second Apply took %v again", ids)
	}
	ctl.Request(c)
	if got := tables(ctl.Queue()); !slices.Equal(got, []cdc.TableID{a, b, c}) {
		t.Fatalf("queue = %v, want [a b c]", got)
	}
	var none *Control
	none.Publish(p)
	if p2, ids := none.Apply(p); p2 != p || ids != nil || none.Queue() != nil {
		t.Fatal("a nil Control is not inert")
	}
}

// TestControlConcurrent: requests made while the source applies them are
// each taken exactly once (run with -race).
func TestControlConcurrent(t *testing.T) {
	ctl := &Control{}
	var wg sync.WaitGroup
	const n = 200
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctl.Request(cdc.TableID{Schema: "s", Name: string(rune('a'+i%26)) + string(rune('a'+i/26))})
			ctl.Queue()
		}()
	}
	var p *Progress
	taken := 0
	for taken < n {
		var ids []cdc.TableID
		p, ids = ctl.Apply(p)
		taken += len(ids)
	}
	wg.Wait()
	if _, ids := ctl.Apply(p); len(ids) != 0 || len(p.Tables) != n {
		t.Fatalf("took %d requests, progress holds %d tables, %d left; want %d, %d, 0", taken, len(p.Tables), len(ids), n, n)
	}
}

func tables(p *Progress) []cdc.TableID {
	var out []cdc.TableID
	for _, c := range p.Tables {
		out = append(out, c.Table)
	}
	return out
}
