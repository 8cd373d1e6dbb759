package pipeline

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/checkpoint"
)

// txSink is a transactional sink in memory: records are visible once
// committed, with the checkpoint records Commit was given; failNext makes
// the next Commit fail (and abort).
type txSink struct {
	heldSink
	mu       sync.Mutex
	open     []string // record values of the open transaction
	visible  []string // committed record values, checkpoint positions as "cp:<pos>"
	failNext error
	commits  int
	ends     txnCounter
}

// txnCounter is an Observer that counts the transactions that ended.
type txnCounter struct {
	noObserver
	mu                 sync.Mutex
	committed, aborted int
}

func (c *txnCounter) Transaction(_ time.Duration, committed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if committed {
		c.committed++
	} else {
		c.aborted++
	}
}

func (c *txnCounter) counts() (committed, aborted int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.committed, c.aborted
}

func (k *txSink) Produce(ctx context.Context, r *cdc.Record, done func(error)) {
	k.mu.Lock()
	k.open = append(k.open, "rec")
	k.mu.Unlock()
	done(nil)
}

func (k *txSink) Commit(_ context.Context, extra []*cdc.Record) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.failNext; err != nil {
		k.failNext, k.open = nil, nil
		return err
	}
	for _, r := range extra {
		k.open = append(k.open, "cp:"+string(r.Value))
	}
	k.visible, k.open = append(k.visible, k.open...), nil
	k.commits++
	return nil
}

func (k *txSink) Abort(context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.open = nil
	return nil
}

func (k *txSink) seen() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.visible)
}

// txStore hands the checkpoint's position as one record.
type txStore struct{ memStore }

func (s *txStore) Records(cp *checkpoint.Checkpoint) ([]*cdc.Record, func(), error) {
	return []*cdc.Record{{Topic: "_cp", Value: cp.Position}}, func() {}, nil
}

// TestTransactions: records and checkpoints become visible together at
// source transaction boundaries (an idle source's included); a stop in the
// middle of a source transaction commits nothing of it; after a failed
// commit, nothing it held is ever checkpointed.
func TestTransactions(t *testing.T) {
	var runSource func(t *testing.T, src cdc.Source, sink *txSink) (stop func() error)
	const interval = 100 * time.Millisecond
	run := func(t *testing.T, msgs []cdc.Message, sink *txSink) (stop func() error) {
		t.Helper()
		return runSource(t, &script{msgs: msgs}, sink)
	}
	runSource = func(t *testing.T, src cdc.Source, sink *txSink) (stop func() error) {
		t.Helper()
		p, err := New(Options{Name: "t", TopicPrefix: "fx", Connector: cdc.ConnectorMySQL, Source: src,
			Sink: sink, Registry: ids{}, Store: &txStore{}, Transactions: true, Observer: &sink.ends, CommitInterval: interval, TransactionTimeout: 20 * interval})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		return func() error { cancel(); return <-done }
	}
	t.Run("idle source", func(t *testing.T) {
		sink := &txSink{}
		stop := run(t, []cdc.Message{insert(1), insert(2), commit("p1")}, sink)
		waitFor(t, "the committer", func() bool { return len(sink.seen()) > 0 })
		if got := sink.seen(); !slices.Equal(got, []string{"rec", "rec", "cp:p1"}) {
			t.Fatalf("visible %v, want the two records and the checkpoint p1", got)
		}
		if c, a := sink.ends.counts(); c != 1 || a != 0 {
			t.Fatalf("observed %d commits and %d aborts, want one commit", c, a)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("stop inside a source transaction", func(t *testing.T) {
		sink := &txSink{}
		stop := run(t, []cdc.Message{insert(1), commit("p1"), insert(2)}, sink)
		time.Sleep(3 * interval) // the committer must not commit the unfinished transaction's record
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got := sink.seen(); len(got) != 0 {
			t.Fatalf("a stop inside a source transaction made %v visible", got)
		}
	})
	t.Run("source transaction longer than the transaction timeout", func(t *testing.T) {
		sink := &txSink{}
		stop := runSource(t, &endless{}, sink)
		time.Sleep(20 * interval) // the unfinished transaction outlives nine tenths of the timeout
		err := stop()
		if !errors.Is(err, ErrTransactionTooLong) || !cdc.Permanent(err) {
			t.Fatalf("Run with a source transaction growing past the timeout = %v, want a permanent ErrTransactionTooLong", err)
		}
		if got := sink.seen(); len(got) != 0 {
			t.Fatalf("visible %v, want nothing of the unfinished transaction", got)
		}
	})
	t.Run("stalled source transaction", func(t *testing.T) {
		sink := &txSink{}
		stop := run(t, []cdc.Message{insert(1), insert(2)}, sink)
		time.Sleep(20 * interval) // nothing more comes: a wait, not a large transaction
		err := stop()
		if !errors.Is(err, ErrTransactionTooLong) || cdc.Permanent(err) {
			t.Fatalf("Run with a stalled source transaction open past the timeout = %v, want a transient ErrTransactionTooLong", err)
		}
		if got := sink.seen(); len(got) != 0 {
			t.Fatalf("visible %v, want nothing of the unfinished transaction", got)
		}
	})
	t.Run("failed commit", func(t *testing.T) {
		boom := errors.New("fenced")
		sink := &txSink{failNext: boom}
		stop := run(t, []cdc.Message{insert(1), commit("p1")}, sink)
		time.Sleep(3 * interval)
		if err := stop(); !errors.Is(err, boom) {
			t.Fatalf("Run after a failed commit = %v, want it", err)
		}
		if got := sink.seen(); len(got) != 0 {
			t.Fatalf("after a failed commit, %v became visible", got)
		}
		if c, a := sink.ends.counts(); c != 0 || a != 1 {
			t.Fatalf("observed %d commits and %d aborts, want one abort", c, a)
		}
	})
}

// endless is a source transaction that never ends: an insert every
// millisecond.
type endless struct{ n int64 }

func (s *endless) Next(ctx context.Context) (cdc.Message, error) {
	select {
	case <-ctx.Done():
		return cdc.Message{}, ctx.Err()
	case <-time.After(time.Millisecond):
	}
	s.n++
	return insert(s.n), nil
}

func (s *endless) Ack(context.Context, cdc.Position) error { return nil }
func (s *endless) Close() error                            { return nil }
