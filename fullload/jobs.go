package fullload

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// job is one unit of work: a chunk to read, or a table to finish.
type job struct {
	t          *table
	keys       keyRange // SplitKey tables
	pages      [2]int64 // SplitPages tables: [first, end), end 0 = open
	finishOnly bool     // nothing to read: copy staged parts, write manifest
}

// queue is an unbounded job queue that knows when all work is done.
type queue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	items   []*job
	pending int // pushed and not done
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// push adds a job.
func (q *queue) push(j *job) {
	q.mu.Lock()
	q.items = append(q.items, j)
	q.pending++
	q.mu.Unlock()
	q.cond.Signal()
}

// pop waits for a job; it returns nil once every pushed job is done.
func (q *queue) pop() *job {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && q.pending > 0 {
		q.cond.Wait()
	}
	if len(q.items) == 0 {
		return nil
	}
	j := q.items[0]
	q.items = q.items[1:]
	return j
}

// done marks a popped job finished.
func (q *queue) done() {
	q.mu.Lock()
	q.pending--
	q.mu.Unlock()
	q.cond.Broadcast()
}

// errOverflow stops a chunk whose part outgrew MaxPartBytes.
var errOverflow = errors.New("part size bound reached")

// runJob runs one job and, when it was its table's last, finishes the table.
func (r *runner) runJob(ctx context.Context, j *job) {
	t := j.t
	if t.failed() || ctx.Err() != nil {
		return
	}
	t.prog.setState(stateReading)
	var err error
	switch {
	case j.finishOnly:
	case t.staged:
		err = r.readStaged(ctx, j)
	default:
		err = r.readKeys(ctx, j)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		t.fail(describeReadErr(t, err))
		return
	}
	t.mu.Lock()
	t.pending--
	last := t.pending == 0 && t.err == nil
	t.mu.Unlock()
	if last {
		if err := r.finish(ctx, t); err != nil {
			t.fail(err)
		}
	}
}

// describeReadErr adds the fix to errors users can act on.
func describeReadErr(t *table, err error) error {
	if errors.Is(err, cdc.ErrTableGone) {
		return fmt.Errorf("%w: the table was dropped or renamed during the load; its files so far are not listed as complete (no _SUCCESS): restore it and resume, or start a new run without it", err)
	}
	return err
}

// readKeys reads one key range into one part file, committed after its
// journal record. A range that outgrows MaxPartBytes is split in two and
// requeued, its partial file discarded; a range of a single key cannot split
// and makes one oversized part.
func (r *runner) readKeys(ctx context.Context, j *job) error {
	t := j.t
	if r.presplit(j) {
		return nil
	}
	a, b, splittable := bisect(j.keys, t.dt.KeyMin, t.dt.KeyMax)
	p, err := newPart(ctx, r.o.Store, t.dir+"/"+t.allocPart(), t.format)
	if err != nil {
		return err
	}
	defer p.abort()
	err = r.o.Dumper.Read(ctx, cdc.Chunk{Table: t.id, Lo: j.keys.Lo, Hi: j.keys.Hi}, func(row []any) error {
		if err := p.rows.Write(row); err != nil {
			return err
		}
		t.prog.add(1)
		if splittable && p.rows.Size() > r.o.MaxPartBytes {
			return errOverflow
		}
		return nil
	})
	if errors.Is(err, errOverflow) {
		t.prog.add(-p.rows.Rows())
		r.requeue(t, &job{t: t, keys: a}, &job{t: t, keys: b})
		return nil
	}
	if err != nil {
		return err
	}
	return r.commitKeys(ctx, j, p)
}

// commitKeys finishes a key range's part, records it, then commits it.
func (r *runner) commitKeys(ctx context.Context, j *job, p *part) error {
	t := j.t
	rec := chunkRecord{Range: j.keys, SchemaSHA: t.schemaSHA, Attempt: r.attempt}
	if p.rows.Rows() > 0 {
		info, err := p.finish(r.attempt)
		if err != nil {
			return err
		}
		rec.Part = &info
		t.learn(info)
	}
	if err := r.journal.put(ctx, r.journal.chunkKey(t.id, r.attempt, t.nextChunk()), rec); err != nil {
		return err
	}
	if rec.Part != nil {
		if err := p.commit(); err != nil {
			return err
		}
	}
	t.mu.Lock()
	t.chunks = append(t.chunks, rec)
	t.mu.Unlock()
	return nil
}

// presplit splits a range that, by the table's observed row size, would
// not fit a part, and requeues the pieces. It reports whether it did.
func (r *runner) presplit(j *job) bool {
	t := j.t
	t.mu.Lock()
	rowBytes := t.rowBytes
	t.mu.Unlock()
	if rowBytes == 0 || t.dt.Empty {
		return false
	}
	fit := int64(0.7 * float64(r.o.MaxPartBytes) / rowBytes)
	width := keyWidth(&t.dt, max(fit, 1))
	pieces := splitRange(j.keys, t.dt.KeyMin, t.dt.KeyMax, width)
	if len(pieces) < 2 {
		return false
	}
	more := make([]*job, len(pieces))
	for i, kr := range pieces {
		more[i] = &job{t: t, keys: kr}
	}
	r.requeue(t, more...)
	return true
}

// requeue replaces the running job of t by jobs.
func (r *runner) requeue(t *table, jobs ...*job) {
	t.mu.Lock()
	t.pending += len(jobs) // the running job counts itself down when it returns
	t.mu.Unlock()
	for _, j := range jobs {
		r.q.push(j)
	}
}
