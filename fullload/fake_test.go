package fullload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// fakeDumper serves in-memory tables, to test the orchestration (chunks,
// resume, staging) without a database; real sources are tested in app.
type fakeDumper struct {
	mu     sync.Mutex
	tables []cdc.DumpTable
	rows   map[cdc.TableID][][]any
	gone   map[cdc.TableID]bool
	// failAfter, when positive, makes reads fail once that many rows were
	// served in all (a crash in the middle of the run).
	failAfter atomic.Int64
	served    atomic.Int64
	// delay slows every row down, for tests that watch a run.
	delay time.Duration
}

var errCrash = errors.New("simulated crash")

func newFakeDumper() *fakeDumper {
	return &fakeDumper{rows: map[cdc.TableID][][]any{}, gone: map[cdc.TableID]bool{}}
}

// addTable adds a table of n rows (id, name, amount) keyed on id when
// keyed, else split as split says.
func (f *fakeDumper) addTable(name string, n int, split cdc.SplitKind) {
	t := &cdc.Table{ID: cdc.TableID{Schema: "shop", Name: name}, Columns: []cdc.Column{
		{Name: "id", Kind: cdc.KindInt64, Type: "bigint"},
		{Name: "name", Kind: cdc.KindString, Type: "text", Optional: true},
		{Name: "amount", Kind: cdc.KindFloat64, Type: "double precision", Optional: true},
	}}
	if split == cdc.SplitKey {
		t.Key = []int{0}
	}
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(i*3 + 1), fmt.Sprintf("row %d of %s, padded to make rows wider %040d", i, name, i), float64(i) / 4}
	}
	dt := cdc.DumpTable{Table: t, EstimatedRows: int64(n), Split: split, Empty: n == 0}
	if split == cdc.SplitKey && n > 0 {
		dt.KeyMin, dt.KeyMax = 1, int64((n-1)*3+1)
	}
	if split == cdc.SplitPages {
		dt.Pages = int64(n/100 + 1)
	}
	f.tables = append(f.tables, dt)
	f.rows[t.ID] = rows
}

func (f *fakeDumper) Tables(ctx context.Context) ([]cdc.DumpTable, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cdc.DumpTable(nil), f.tables...), nil
}

func (f *fakeDumper) Read(ctx context.Context, c cdc.Chunk, fn func(row []any) error) error {
	f.mu.Lock()
	rows, gone := f.rows[c.Table], f.gone[c.Table]
	f.mu.Unlock()
	if gone {
		return fmt.Errorf("read %s: %w", c.Table, cdc.ErrTableGone)
	}
	buf := make([]any, 3)
	for i, row := range rows {
		key := row[0].(int64)
		if (c.Lo != nil && key < *c.Lo) || (c.Hi != nil && key > *c.Hi) {
			continue
		}
		page := int64(i / 100)
		if page < c.FirstPage || (c.EndPage != 0 && page >= c.EndPage) {
			continue
		}
		if lim := f.failAfter.Load(); lim > 0 && f.served.Add(1) > lim {
			return errCrash
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.delay > 0 {
			time.Sleep(f.delay)
		}
		copy(buf, row)
		if err := fn(buf); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeDumper) Info() cdc.DumpInfo {
	return cdc.DumpInfo{Consistency: cdc.ConsistencySnapshot, Position: "0/0"}
}

func (f *fakeDumper) Close() error { return nil }
