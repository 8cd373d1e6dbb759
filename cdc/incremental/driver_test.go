package incremental

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// fakeChunks is an in-memory table behind incremental.Chunks: reads return
// rows of keys after the bound, the stream passes a chunk's high watermark
// when told, and failures are injected per read.
type fakeChunks struct {
	table   *cdc.Table
	keys    []int64
	passed  bool
	fail    []error // the error of each next read (nil: succeed)
	emitted []int64
	commits []string
	starts  int
	closed  int
}

type fakeChunk struct {
	win  *Window
	last []any
	full bool
}

func (c *fakeChunk) Window() *Window { return c.win }
func (c *fakeChunk) Last() []any     { return c.last }
func (c *fakeChunk) Full() bool      { return c.full }

func (f *fakeChunks) StartRead(_ context.Context, cur *Cursor, after []any, n int) (func(context.Context) (Chunk, error), error) {
	f.starts++
	var err error
	if len(f.fail) > 0 {
		err, f.fail = f.fail[0], f.fail[1:]
	}
	return func(context.Context) (Chunk, error) {
		if err != nil {
			return nil, err
		}
		var rows [][]any
		for _, k := range f.keys {
			if (len(after) == 0 || k > after[0].(int64)) && len(rows) < n {
				rows = append(rows, []any{k})
			}
		}
		c := &fakeChunk{win: NewWindow(f.table, rows), full: len(rows) == n}
		if len(rows) > 0 {
			c.last = []any{rows[len(rows)-1][0]}
		}
		return c, nil
	}, nil
}

func (f *fakeChunks) Estimate(context.Context, cdc.TableID) int64 { return int64(len(f.keys)) }
func (f *fakeChunks) OpenWindow(Chunk)                            {}
func (f *fakeChunks) Passed(context.Context, Chunk) (bool, error) { return f.passed, nil }
func (f *fakeChunks) Emit(_ Chunk, rows [][]any) {
	for _, r := range rows {
		f.emitted = append(f.emitted, r[0].(int64))
	}
}
func (f *fakeChunks) Commit(saveNow, saveSoon bool) {
	f.commits = append(f.commits, fmt.Sprintf("now=%v soon=%v", saveNow, saveSoon))
}
func (f *fakeChunks) CloseConn(reading <-chan struct{}) {
	if reading != nil {
		<-reading
	}
	f.closed++
}

// run steps d until it is idle, waiting for reads and passing each chunk's
// high watermark at once, and fails after limit steps, or when a step
// leaves the source nothing to wait for but its stream (it would stall on
// an idle server).
func run(t *testing.T, d *Driver, f *fakeChunks, limit int) error {
	t.Helper()
	f.passed = true
	for i := 0; !d.Idle(); i++ {
		if i == limit {
			t.Fatalf("not idle after %d steps", limit)
		}
		if done := d.ReadDone(); done != nil {
			<-done
		}
		queued, err := d.Step(context.Background())
		if err != nil {
			return err
		}
		if !queued && !d.Idle() && d.ReadDone() == nil {
			// The stream has passed every watermark: a source would now
			// wait for its next change, which may be long in coming.
			t.Fatalf("step %d queued nothing and left nothing to wait for but the stream (waiting chunk %v)", i, d.Waiting() != nil)
		}
	}
	return nil
}

// TestDriver: the driver reads a table in chunks after the cursor, emits
// each once the stream passed its watermark with a commit asking to be
// saved soon, reads a chunk again after ErrReadAgain, moves on after a
// table is gone, stops at a read error, and takes requests with a commit
// asking to be saved now.
func TestDriver(t *testing.T) {
	a := cdc.TableID{Schema: "s", Name: "a"}
	table := &cdc.Table{ID: a, Columns: []cdc.Column{{Name: "id"}}, Key: []int{0}}
	keys := []int64{1, 2, 3, 4, 5, 6, 7}
	log := slog.New(slog.DiscardHandler)
	cases := []struct {
		name    string
		fail    []error
		emitted []int64
		err     bool
	}{
		{"chunks", nil, keys, false},
		{"read again", []error{nil, fmt.Errorf("x: %w", ErrReadAgain)}, keys, false},
		{"table gone", []error{nil, fmt.Errorf("x: %w", cdc.ErrTableGone)}, []int64{1, 2, 3}, false},
		{"read error", []error{errors.New("boom")}, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeChunks{table: table, keys: keys, fail: c.fail}
			ctl := &Control{}
			d := NewDriver(f, (&Progress{}).With(a), 3, ctl, log)
			if err := run(t, d, f, 50); (err != nil) != c.err {
				t.Fatalf("error %v, want one: %v", err, c.err)
			}
			if !slices.Equal(f.emitted, c.emitted) {
				t.Fatalf("emitted %v, want %v", f.emitted, c.emitted)
			}
			if c.err {
				if f.closed == 0 {
					t.Error("the connection was not closed after a read error")
				}
				return
			}
			for _, m := range f.commits {
				if m != "now=false soon=true" {
					t.Fatalf("commits %v, want each chunk's to ask to be saved soon", f.commits)
				}
			}
			ctl.Request(a)
			if queued, err := d.Step(context.Background()); !queued || err != nil || f.commits[len(f.commits)-1] != "now=true soon=false" {
				t.Fatalf("a request: Step = %v, %v, last commit %q; want a commit saved now", queued, err, f.commits[len(f.commits)-1])
			}
			if q := ctl.Queue(); !q.Has(a) || d.Idle() {
				t.Fatalf("after the request the queue is %+v, want a", q)
			}
		})
	}
}
