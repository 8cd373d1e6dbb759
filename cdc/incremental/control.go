package incremental

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Control connects a streaming source's incremental snapshot with the
// goroutines that ask for snapshots (fluxo snapshot, signal rows) and
// watch their progress (fluxo status, /metrics). Requests wait in it until
// the source takes them, between transactions; the source publishes its
// progress after every change. Its methods are safe for concurrent use; a
// nil *Control takes no requests and shows no progress.
type Control struct {
	mu        sync.Mutex
	requested []cdc.TableID
	waiting   atomic.Bool // requested is not empty
	progress  atomic.Pointer[Progress]
	signals   signalCounts
}

// Request asks for an incremental snapshot of ids. A table already queued
// is read once, where the queue has it.
func (c *Control) Request(ids ...cdc.TableID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if !slices.Contains(c.requested, id) {
			c.requested = append(c.requested, id)
		}
	}
	c.waiting.Store(len(c.requested) > 0)
}

// Apply is the source's side, called between transactions (cheap when
// nothing was requested): it returns p with the tables requested since
// the last Apply queued at its end, and those tables, publishes the result
// and forgets the requests, in one step, so that Queue never misses them.
func (c *Control) Apply(p *Progress) (*Progress, []cdc.TableID) {
	if c == nil || !c.waiting.Load() {
		return p, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := c.requested
	c.requested = nil
	c.waiting.Store(false)
	p = p.With(ids...)
	c.progress.Store(p)
	return p, ids
}

// Publish records p as the source's progress (cheap when it did not
// change: the source calls it between every two transactions).
func (c *Control) Publish(p *Progress) {
	if c != nil && c.progress.Load() != p {
		c.progress.Store(p)
	}
}

// Queue is the work left: the published progress followed by the requests
// the source has not taken yet.
func (c *Control) Queue() *Progress {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.progress.Load().With(c.requested...)
}
