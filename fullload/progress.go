package fullload

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Table states shown in the progress display.
const (
	stateWaiting = "waiting"
	stateReading = "reading"
	stateDone    = "done"
	stateFailed  = "failed"
)

// tableProgress counts one table's rows for the display.
type tableProgress struct {
	id   cdc.TableID
	est  int64
	rows atomic.Int64

	mu    sync.Mutex
	state string
	start time.Time
	end   time.Time
}

func newTableProgress(id cdc.TableID, est int64) *tableProgress {
	return &tableProgress{id: id, est: est, state: stateWaiting}
}

func (p *tableProgress) add(n int64) { p.rows.Add(n) }

func (p *tableProgress) setState(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == stateFailed || (p.state == s) {
		return
	}
	now := time.Now()
	if s == stateReading && p.start.IsZero() {
		p.start = now
	}
	if s == stateDone || s == stateFailed {
		p.end = now
	}
	p.state = s
}

// snapshot returns the state, rows, rate (rows/s) and ETA.
func (p *tableProgress) snapshot() (state string, rows int64, rate float64, eta time.Duration) {
	p.mu.Lock()
	state, start, end := p.state, p.start, p.end
	p.mu.Unlock()
	rows = p.rows.Load()
	if start.IsZero() {
		return state, rows, 0, 0
	}
	if end.IsZero() {
		end = time.Now()
	}
	if secs := end.Sub(start).Seconds(); secs > 0 {
		rate = float64(rows) / secs
	}
	if state == stateReading && rate > 0 && p.est > rows {
		eta = time.Duration(float64(p.est-rows) / rate * float64(time.Second))
	}
	return state, rows, rate, eta
}

// elapsed returns the table's reading time in this invocation.
func (p *tableProgress) elapsed() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.start.IsZero() {
		return 0
	}
	if p.end.IsZero() {
		return time.Since(p.start)
	}
	return p.end.Sub(p.start)
}

// showProgress starts the live display (terminal) or the periodic log
// lines, and returns the function that stops it.
func (r *runner) showProgress() (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	every := r.o.LogEvery
	if r.o.Terminal {
		every = 500 * time.Millisecond
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		lines := 0
		for {
			select {
			case <-done:
				if r.o.Terminal {
					r.draw(lines)
				}
				return
			case <-tick.C:
				if r.o.Terminal {
					lines = r.draw(lines)
				} else {
					r.logProgress()
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// draw redraws the display over its previous lines and returns its height.
func (r *runner) draw(prev int) int {
	var b strings.Builder
	if prev > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", prev)
	}
	fmt.Fprintf(&b, "\x1b[2K%-40s %-8s %12s %10s %9s\n", "table", "state", "rows", "rows/s", "eta")
	for _, t := range r.tables {
		state, rows, rate, eta := t.prog.snapshot()
		etaText := "-"
		if eta > 0 {
			etaText = eta.Round(time.Second).String()
		}
		fmt.Fprintf(&b, "\x1b[2K%-40s %-8s %12d %10.0f %9s\n", t.id, state, rows, rate, etaText)
	}
	io.WriteString(r.o.Progress, b.String())
	return len(r.tables) + 1
}

// logProgress logs one line per table being read.
func (r *runner) logProgress() {
	for _, t := range r.tables {
		state, rows, rate, eta := t.prog.snapshot()
		if state != stateReading {
			continue
		}
		r.o.Logger.Info("fullload progress", "table", t.id.String(), "rows", rows, "estimated_rows", t.dt.EstimatedRows,
			"rows_per_sec", int64(rate), "eta", eta.Round(time.Second).String())
	}
}

// WriteSummary prints the result as a table.
func WriteSummary(w io.Writer, res *Result) {
	fmt.Fprintf(w, "run %s (date=%s)\n", res.RunID, res.Date)
	fmt.Fprintf(w, "%-40s %-10s %12s %6s %12s %10s %10s\n", "table", "status", "rows", "files", "bytes", "elapsed", "rows/s")
	for _, t := range res.Tables {
		status, rate := "complete", "-"
		switch {
		case t.Err != nil:
			status = "FAILED"
		case t.Earlier:
			status = "earlier"
		}
		if secs := t.Elapsed.Seconds(); secs > 0 && !t.Earlier {
			rate = fmt.Sprintf("%.0f", float64(t.Rows)/secs)
		}
		fmt.Fprintf(w, "%-40s %-10s %12d %6d %12d %10s %10s\n", t.Table, status, t.Rows, t.Files, t.Bytes,
			t.Elapsed.Round(time.Millisecond), rate)
	}
}
