package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/checkpoint"
)

// TxSink is a Sink that writes in Kafka transactions (exactly once).
type TxSink interface {
	// Commit makes the records produced since the last Commit, and extra,
	// visible to read_committed consumers at once, all or none; on a
	// failure none is ever visible.
	Commit(ctx context.Context, extra []*cdc.Record) error
	// Abort discards the records produced since the last Commit.
	Abort(ctx context.Context) error
}

// TxStore is a Store whose checkpoints can be saved inside a sink's
// transaction.
type TxStore interface {
	// Records returns the records that save cp, and done, to call once
	// they are committed.
	Records(cp *checkpoint.Checkpoint) (recs []*cdc.Record, done func(), err error)
}

// The commit cadence of a transactional pipeline: a Kafka transaction is
// committed at a source transaction boundary once it is
// Options.CommitInterval old or holds txnRecords records, at once when the
// source asks to be saved now, and every idle() when only the position
// moved (so that PostgreSQL's slot advances on an idle stream). The
// interval is what a read_committed consumer waits for a change beyond the
// delivery itself.
const txnRecords = 10_000

// idle is how often a position that moved without records is committed.
func (p *Pipeline) idle() time.Duration { return max(time.Second, p.opts.CommitInterval) }

// ErrTransactionTooLong is returned when one source transaction takes
// longer to send than the Kafka transaction may stay open.
var ErrTransactionTooLong = errors.New("a source transaction takes longer to send than kafka.transaction_timeout allows")

// txnState is a transactional pipeline's open Kafka transaction.
type txnState struct {
	pos        cdc.Position // the newest boundary not committed yet (nil: none)
	begun      time.Time    // when the last commit ended
	opened     time.Time    // when the first record after it was sent
	committed  int64        // records produced up to the last commit
	sealedUpTo int64        // records produced up to the last boundary
	// failed is why a commit failed: its records were aborted, so no later
	// commit may checkpoint them (the run ends, the next resumes before).
	failed error
}

// transactional reports whether the pipeline writes in Kafka transactions.
func (p *Pipeline) transactional() bool { return p.opts.Transactions }

// boundary notes a source transaction's end at pos and commits the Kafka
// transaction when it is due (now: the source asked to be saved now).
func (p *Pipeline) boundary(ctx context.Context, pos cdc.Position, now bool) error {
	p.txn.pos, p.txn.sealedUpTo = pos, p.stats.Records
	n, age := p.stats.Records-p.txn.committed, time.Since(p.txn.begun)
	if now || n >= txnRecords || n > 0 && age >= p.opts.CommitInterval || age >= p.idle() {
		return p.commitTxn(ctx)
	}
	return nil
}

// commitTxn commits the records up to the last boundary together with the
// checkpoint of that boundary, then lets the source confirm it.
func (p *Pipeline) commitTxn(ctx context.Context) error {
	pos := p.txn.pos
	if pos == nil {
		return nil
	}
	if p.txn.failed != nil {
		return p.txn.failed
	}
	cp, err := p.checkpointOf(pos)
	if err != nil {
		return err
	}
	recs, done, err := p.opts.Store.(TxStore).Records(cp)
	if err != nil {
		return err
	}
	began := time.Now()
	if err := p.opts.Sink.(TxSink).Commit(ctx, recs); err != nil {
		p.opts.Observer.Transaction(0, false) // Commit aborts what it could not commit
		p.txn.failed = fmt.Errorf("commit records and checkpoint: %w", err)
		return p.txn.failed
	}
	p.opts.Observer.Transaction(time.Since(began), true)
	done()
	p.txn.pos, p.txn.begun, p.txn.committed = nil, time.Now(), p.txn.sealedUpTo
	p.tracker.done() // everything committed is acknowledged
	p.cpMu.Lock()
	p.saved = cp.SavedAt
	p.cpMu.Unlock()
	p.opts.Observer.Saved()
	p.opts.Observer.Round(cp.SavedAt, p.tracker.oldest())
	if err := p.opts.Source.Ack(ctx, pos); err != nil {
		return fmt.Errorf("confirm position %s: %w", pos, err)
	}
	return nil
}

// finishTxn ends a transactional run: the records up to the last boundary
// are committed on a clean stop unless records of an unfinished source
// transaction follow them, which would be committed too: then, and on a
// failure, the open transaction is aborted, and the next start resumes
// from the last commit.
func (p *Pipeline) finishTxn(clean bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.FlushTimeout)
	defer cancel()
	if clean && p.txn.failed == nil && p.stats.Records == p.txn.sealedUpTo {
		return p.commitTxn(ctx)
	}
	if p.txn.failed == nil && p.stats.Records > p.txn.committed { // a failed commit counted its abort
		p.opts.Observer.Transaction(0, false)
	}
	if err := p.opts.Sink.(TxSink).Abort(ctx); err != nil {
		return fmt.Errorf("abort the open transaction (its records stay invisible to read_committed consumers): %w", err)
	}
	return nil
}

// runTxn runs a transactional pipeline: the loop, and a committer that
// commits the records of finished source transactions once they are
// CommitInterval old even when no new boundary comes (an idle source).
func (p *Pipeline) runTxn(ctx, loopCtx context.Context, stopLoop context.CancelCauseFunc) error {
	p.txn.begun = time.Now()
	cctx, stopCommitter := context.WithCancel(context.Background())
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		if err := p.committer(cctx); err != nil {
			stopLoop(err)
		}
	}()
	runErr := p.loop(loopCtx)
	stopCommitter()
	<-committed
	stopped := ctx.Err() != nil
	clean := p.txn.failed == nil && (runErr == nil || errors.Is(runErr, cdc.ErrEndOfStream) || stopped && errors.Is(runErr, ctx.Err()))
	if clean {
		runErr = nil
	}
	if p.txn.failed != nil && stopped && errors.Is(p.txn.failed, context.Canceled) {
		runErr = nil // a stop in the middle of a commit: its transaction was aborted, a clean stop
	}
	if cause := context.Cause(loopCtx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(runErr, cause) {
		runErr, clean = errors.Join(runErr, cause), false
	}
	if f := p.tracker.failure(); f != nil && !(stopped && errors.Is(f, context.Canceled)) {
		runErr, clean = errors.Join(runErr, fmt.Errorf("kafka delivery failed: %w", f)), false
	}
	return errors.Join(runErr, p.finishTxn(clean))
}

// committer commits, every half CommitInterval, what finished source
// transactions left uncommitted for CommitInterval, and stops a source
// transaction that would outlive the Kafka transaction.
func (p *Pipeline) committer(ctx context.Context) error {
	t := time.NewTicker(max(p.opts.CommitInterval/2, time.Millisecond))
	defer t.Stop()
	var seen int64      // records sent at the last tick
	var moved time.Time // when the count last changed
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			p.txnMu.Lock()
			var err error
			if p.stats.Records != seen {
				seen, moved = p.stats.Records, now
			}
			sealed := p.stats.Records == p.txn.sealedUpTo
			switch {
			case p.txn.pos != nil && sealed && time.Since(p.txn.begun) >= p.opts.CommitInterval:
				err = p.commitTxn(ctx)
			case !sealed && p.stats.Records > p.txn.committed && time.Since(p.txn.opened) >= p.opts.TransactionTimeout*9/10:
				err = p.tooLong(now.Sub(moved))
			}
			p.txnMu.Unlock()
			if err != nil {
				return err
			}
		}
	}
}

// tooLong is the failure of a source transaction that has been sent for
// nine tenths of the transaction timeout: the brokers would abort it.
// When records still flowed (idle is short), the source transaction is
// too large for the timeout: retrying cannot help, a larger timeout can.
// When nothing was sent for a while, the pipeline waits on something (the
// schema registry, the source): the run ends, its transaction is aborted,
// and a new run may get through.
func (p *Pipeline) tooLong(idle time.Duration) error {
	n, d := p.stats.Records-p.txn.committed, time.Since(p.txn.opened).Round(time.Millisecond)
	if idle >= time.Second {
		return fmt.Errorf("%w: the Kafka transaction has been open for %v, with %d records of an unfinished source transaction, and nothing was sent for %v (is the schema registry reachable?); it is aborted, and a restart resumes from the last commit",
			ErrTransactionTooLong, d, n, idle.Round(time.Millisecond))
	}
	return &cdc.PermanentError{
		Err: fmt.Errorf("%w: %d records of one source transaction were sent in %v and it has not ended (its Kafka transaction is aborted; nothing after the last commit is lost)",
			ErrTransactionTooLong, n, d),
		Fix: fmt.Sprintf("raise kafka.transaction_timeout (now %v) up to the brokers' transaction.max.timeout.ms (15m by default), or split the source transaction", p.opts.TransactionTimeout),
	}
}

// checkTransactional fails when the sink or the store cannot take part in
// transactions.
func checkTransactional(opts Options) error {
	if !opts.Transactions {
		return nil
	}
	if _, ok := opts.Sink.(TxSink); !ok {
		return errors.New("pipeline: transactions need a transactional sink")
	}
	if _, ok := opts.Store.(TxStore); !ok {
		return errors.New("pipeline: transactions need a checkpoint store that writes to Kafka (checkpoint.store: kafka)")
	}
	return nil
}
