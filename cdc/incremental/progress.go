package incremental

import (
	"fmt"
	"log/slog"
	"slices"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Progress is a stream's incremental snapshot work: the tables still to
// read, in order, each with its cursor. It is immutable: the positions that
// carry it may be marshalled long after the stream moved on, so every change
// returns a new Progress. The zero value (or nil) has nothing to do.
type Progress struct {
	Tables []Cursor `json:"tables,omitempty"`
}

// Pending reports whether a table remains to be read.
func (p *Progress) Pending() bool { return p != nil && len(p.Tables) > 0 }

// Current is the cursor of the table being read, or nil.
func (p *Progress) Current() *Cursor {
	if !p.Pending() {
		return nil
	}
	return &p.Tables[0]
}

// Advance returns the progress after a chunk of the current table: its
// cursor moved to last, rows more emitted; done ends the table.
func (p *Progress) Advance(last []Value, rows int, done bool) *Progress {
	n := &Progress{Tables: slices.Clone(p.Tables)}
	if done {
		n.Tables = n.Tables[1:]
		return n
	}
	c := &n.Tables[0]
	c.Last, c.Rows, c.Chunks = last, c.Rows+int64(rows), c.Chunks+1
	return n
}

// Estimated returns the progress with the current table's row estimate
// set to rows.
func (p *Progress) Estimated(rows int64) *Progress {
	n := &Progress{Tables: slices.Clone(p.Tables)}
	n.Tables[0].Estimate = rows
	return n
}

// TableReport is one table of an incremental snapshot under way, as fluxo
// status and GET /snapshot show it.
type TableReport struct {
	Table    string `json:"table"`
	RowsDone int64  `json:"rows_done"`
	// Estimate is the server's estimate of the table's rows (0: unknown
	// yet).
	Estimate int64 `json:"rows_estimated,omitempty"`
	Chunks   int64 `json:"chunks"`
	Reading  bool  `json:"reading"` // false: queued behind the first
}

// Report lists the tables left, the one being read first.
func (p *Progress) Report() []TableReport {
	if !p.Pending() {
		return nil
	}
	out := make([]TableReport, len(p.Tables))
	for i, c := range p.Tables {
		out[i] = TableReport{Table: c.Table.String(), RowsDone: c.Rows, Estimate: c.Estimate, Chunks: c.Chunks, Reading: i == 0}
	}
	return out
}

// With returns the progress with the tables of ids that it does not list
// yet added at the end.
func (p *Progress) With(ids ...cdc.TableID) *Progress {
	n := &Progress{}
	if p != nil {
		n.Tables = slices.Clone(p.Tables)
	}
	for _, id := range ids {
		if !n.Has(id) {
			n.Tables = append(n.Tables, Cursor{Table: id})
		}
	}
	return n
}

// Keep returns the progress without the tables keep rejects (tables no
// longer captured).
func (p *Progress) Keep(keep func(cdc.TableID) bool) *Progress {
	n := &Progress{}
	if p != nil {
		for _, c := range p.Tables {
			if keep(c.Table) {
				n.Tables = append(n.Tables, c)
			}
		}
	}
	return n
}

// Has reports whether id is still to be read.
func (p *Progress) Has(id cdc.TableID) bool {
	return p != nil && slices.ContainsFunc(p.Tables, func(c Cursor) bool { return c.Table == id })
}

// LogAdded says what becomes of the tables added to source.tables since
// the checkpoint (Plan's added): snapshotted, or only streamed.
func LogAdded(log *slog.Logger, added []cdc.TableID, snapshot bool) {
	switch {
	case len(added) == 0:
	case snapshot:
		log.Info("tables added to source.tables: snapshotting them incrementally while streaming", "tables", fmt.Sprint(added))
	default:
		log.Info("tables added to source.tables are streamed without a snapshot (snapshot.mode never)", "tables", fmt.Sprint(added))
	}
}

// ChunkRows is the chunk size n, or DefaultChunkRows when n is 0.
func ChunkRows(n int) int {
	if n > 0 {
		return n
	}
	return DefaultChunkRows
}

// DefaultChunkRows is the chunk size of incremental snapshots when the
// config sets none (snapshot.chunk_rows).
const DefaultChunkRows = 8192

// Plan returns the work of a stream resuming from a position whose
// progress was p and which covered the tables covered, now that it
// captures the tables captured: the tables no longer captured leave the
// queue, and the captured ones neither covered nor queued (added to
// source.tables) are queued when snapshot is set. added lists those new
// tables, queued or not.
func (p *Progress) Plan(captured, covered []cdc.TableID, snapshot bool) (next *Progress, added []cdc.TableID) {
	next = p.Keep(func(id cdc.TableID) bool { return slices.Contains(captured, id) })
	for _, id := range captured {
		if !slices.Contains(covered, id) && !next.Has(id) {
			added = append(added, id)
		}
	}
	if snapshot {
		next = next.With(added...)
	}
	return next, added
}
