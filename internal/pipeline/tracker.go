package pipeline

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// txn counts the records of one source transaction that Kafka has not
// acknowledged yet.
type txn struct {
	pending atomic.Int64
	failed  atomic.Bool
	pos     cdc.Position // set when the transaction is sealed
	sealed  time.Time    // when it was sealed
	soon    bool         // its commit asked to be saved soon
	done    func(error)  // delivery callback shared by the transaction's records
}

// tracker orders sealed transactions and finds the newest position before
// which every record is acknowledged: the only position that may be
// checkpointed.
type tracker struct {
	mu     sync.Mutex
	sealed []*txn
	cur    *txn
	err    atomic.Pointer[error] // first delivery failure
	onFail func(error)           // called once, on the first failure
	soon   atomic.Int64          // sealed transactions asking to be saved soon, not yet done
}

// newTracker returns a tracker that calls onFail on the first delivery
// failure, from the goroutine that reported it.
func newTracker(onFail func(error)) *tracker {
	t := &tracker{onFail: onFail}
	t.cur = t.newTxn()
	return t
}

// newTxn returns an open transaction whose callback accounts one delivery.
func (t *tracker) newTxn() *txn {
	tx := &txn{}
	tx.done = func(err error) {
		if err != nil {
			tx.failed.Store(true) // before the decrement, so done() never passes it
			if t.err.CompareAndSwap(nil, &err) && t.onFail != nil {
				t.onFail(err)
			}
		}
		tx.pending.Add(-1)
	}
	return tx
}

// add accounts for one record of the open transaction and returns the
// callback to call when its delivery ends.
func (t *tracker) add() func(error) {
	t.cur.pending.Add(1)
	return t.cur.done
}

// seal ends the open transaction at pos; soon says that its commit asks to
// be saved soon (cdc.Message.SaveSoon).
func (t *tracker) seal(pos cdc.Position, now time.Time, soon bool) {
	tx := t.cur
	tx.pos, tx.sealed, tx.soon = pos, now, soon
	if soon {
		t.soon.Add(1)
	}
	t.cur = t.newTxn()
	t.mu.Lock()
	t.sealed = append(t.sealed, tx)
	t.mu.Unlock()
}

// done pops the sealed transactions whose records are all acknowledged and
// returns the newest of their positions, or nil when none is.
func (t *tracker) done() cdc.Position {
	t.mu.Lock()
	defer t.mu.Unlock()
	var pos cdc.Position
	n := 0
	for _, tx := range t.sealed {
		if tx.pending.Load() != 0 || tx.failed.Load() {
			break
		}
		pos = tx.pos
		n++
		if tx.soon {
			t.soon.Add(-1)
		}
	}
	if n > 0 {
		copy(t.sealed, t.sealed[n:])
		for i := len(t.sealed) - n; i < len(t.sealed); i++ {
			t.sealed[i] = nil
		}
		t.sealed = t.sealed[:len(t.sealed)-n]
	}
	return pos
}

// saveSoon reports whether a sealed transaction asking to be saved soon
// waits for its checkpoint.
func (t *tracker) saveSoon() bool { return t.soon.Load() > 0 }

// failure returns the first delivery error, if any.
// oldest returns when the oldest sealed transaction not yet handed to done
// was sealed, or the zero time when there is none.
func (t *tracker) oldest() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.sealed) == 0 {
		return time.Time{}
	}
	return t.sealed[0].sealed
}

func (t *tracker) failure() error {
	if p := t.err.Load(); p != nil {
		return *p
	}
	return nil
}
