package incremental

import (
	"github.com/fluxo-cdc/fluxo/cdc"
)

// Window is one chunk of a table between its low and high watermarks: the
// rows the chunk read returned, less those whose keys the stream changed
// inside the window. It is not safe for concurrent use: the goroutine that
// reads the stream owns it.
type Window struct {
	table *cdc.Table
	rows  [][]any
	index map[string]int // key -> index in rows
	live  int            // rows not dropped
	stale bool
}

// NewWindow opens the window of a chunk of table t whose read returned
// rows, in key order; rows are t's captured columns, as events carry them.
// t must be the *cdc.Table the stream's events of the table carry (a source
// keeps one per schema version): another one means another schema.
func NewWindow(t *cdc.Table, rows [][]any) *Window {
	w := &Window{table: t, rows: rows, index: make(map[string]int, len(rows)), live: len(rows)}
	for i, r := range rows {
		w.index[Key(t, r)] = i
	}
	return w
}

// Table is the table the chunk was read as.
func (w *Window) Table() *cdc.Table { return w.table }

// Observe applies one event the stream carried inside the window (after the
// low watermark, before the high one). An event of another table is
// ignored. A change to a key of the chunk drops that key's row: the stream
// emits the change in its place and its version is newer than the read's.
// An update that changes the key drops both keys; a truncate drops every
// row. An event of the chunk's table with another schema (the table was
// altered inside the window) makes the window stale: the chunk must be read
// again with the new schema.
func (w *Window) Observe(ev *cdc.Event) {
	if ev.Table == nil || ev.Table.ID != w.table.ID {
		return
	}
	if ev.Table != w.table {
		w.stale = true
		return
	}
	switch ev.Op {
	case cdc.OpTruncate:
		for k := range w.index {
			w.drop(k)
		}
		return
	case cdc.OpRead:
		return // another snapshot's read carries no newer version
	}
	for _, row := range [][]any{ev.Before, ev.After} {
		if row != nil {
			w.drop(Key(w.table, row))
		}
	}
}

func (w *Window) drop(key string) {
	if i, ok := w.index[key]; ok {
		delete(w.index, key)
		w.rows[i] = nil
		w.live--
	}
}

// Stale reports whether the table's schema changed inside the window, so
// that the chunk must be read again instead of emitted.
func (w *Window) Stale() bool { return w.stale }

// Rows returns the rows left at the high watermark, in the chunk's key
// order: those to emit as reads.
func (w *Window) Rows() [][]any {
	out := make([][]any, 0, w.live)
	for _, r := range w.rows {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// Dropped is how many of the chunk's rows the stream superseded.
func (w *Window) Dropped() int { return len(w.rows) - w.live }
