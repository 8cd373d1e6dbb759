package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// ErrFenced is returned by a transactional sink that a newer producer with
// the same transactional id fenced: another fluxo process of the stream
// took over.
var ErrFenced = errors.New("kafka: another producer with this transactional id took over (fenced)")

// begin opens a transaction when the sink is transactional and none is
// open.
func (s *Sink) begin() error {
	if !s.txnal || s.inTxn {
		return nil
	}
	if err := s.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("kafka: begin transaction: %w", explainTxn(err))
	}
	s.inTxn = true
	return nil
}

// Commit makes the records produced since the last Commit, and extra (the
// checkpoint's records), visible to read_committed consumers at once, all
// or none: it flushes them, then commits the transaction. On any failure
// it aborts the transaction, so that none of them is ever visible, and
// returns why (ErrFenced when another producer took over). Only for a
// sink made with a TransactionalID.
func (s *Sink) Commit(ctx context.Context, extra []*cdc.Record) error {
	if !s.txnal {
		return errors.New("kafka: Commit on a sink that is not transactional")
	}
	if err := s.begin(); err != nil {
		return err
	}
	var mu sync.Mutex
	var failed error
	for _, rec := range extra {
		s.Produce(ctx, rec, func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && failed == nil {
				failed = err
			}
		})
	}
	if err := s.cl.Flush(ctx); err != nil {
		return s.abort(ctx, fmt.Errorf("kafka: flush the transaction: %w", err))
	}
	mu.Lock()
	err := failed
	mu.Unlock()
	if err != nil {
		return s.abort(ctx, fmt.Errorf("kafka: a record of the transaction failed: %w", explainTxn(err)))
	}
	if err := s.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return s.abort(ctx, fmt.Errorf("kafka: commit the transaction: %w", explainTxn(err)))
	}
	s.inTxn = false
	return nil
}

// Abort discards the records produced since the last Commit: no
// read_committed consumer ever sees them.
func (s *Sink) Abort(ctx context.Context) error {
	if !s.txnal || !s.inTxn {
		return nil
	}
	return s.abort(ctx, nil)
}

// abort ends the open transaction with an abort and returns cause (and
// the abort's own failure, if any). It runs to its end even when ctx was
// cancelled (a stop in the middle of a commit), within abortTimeout.
func (s *Sink) abort(ctx context.Context, cause error) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	err := s.cl.AbortBufferedRecords(actx)
	if err != nil {
		err = fmt.Errorf("kafka: abort buffered records: %w", err)
	}
	if e := s.cl.EndTransaction(actx, kgo.TryAbort); e != nil {
		return errors.Join(cause, err, fmt.Errorf("kafka: abort the transaction: %w", explainTxn(e)))
	}
	s.inTxn = false
	return errors.Join(cause, err)
}

// abortTimeout bounds an abort.
const abortTimeout = 30 * time.Second

// explainTxn names what a transactional refusal means.
func explainTxn(err error) error {
	switch {
	case errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.InvalidProducerEpoch), errors.Is(err, kerr.TransactionalIDNotFound):
		return fmt.Errorf("%w: %w", ErrFenced, err)
	case errors.Is(err, kerr.InvalidTransactionTimeout):
		return fmt.Errorf("%w: kafka.transaction_timeout is longer than the brokers' transaction.max.timeout.ms (15m by default): lower it, or raise the brokers' setting", err)
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return fmt.Errorf("%w: grant fluxo's principal WRITE and DESCRIBE on its transactional id", err)
	}
	return err
}

// Fence takes the transactional id over: the brokers abort the open
// transaction of any earlier producer with the id and refuse its further
// writes, so that what it committed last is final. A stream calls it
// before it loads its checkpoint.
func (s *Sink) Fence(ctx context.Context) error {
	if !s.txnal {
		return nil
	}
	if err := initProducer(ctx, s.cl); err != nil {
		return fmt.Errorf("kafka: initialize the transactional producer: %w", err)
	}
	return nil
}

// ErrNoTransactions is returned when the brokers do not run transactions.
var ErrNoTransactions = errors.New("the brokers do not support transactions (no InitProducerID: Kafka before 0.11, or a Kafka-compatible service without them): set kafka.transactions: false")

// initProducer initialises cl's transactional producer id. kgo goes on
// without one against brokers that do not know the request: that is an
// error here, or the stream would believe it writes in transactions.
func initProducer(ctx context.Context, cl *kgo.Client) error {
	id, _, err := cl.ProducerID(ctx)
	if err != nil {
		return explainTxn(err)
	}
	if id < 0 {
		return ErrNoTransactions
	}
	return nil
}

// CheckTransactions checks that the cluster of opts runs transactions for
// fluxo's principal, with the transactional id probe (never the stream's
// own, which would fence a running stream): it initialises a producer with
// it and closes it.
func CheckTransactions(ctx context.Context, opts Options, probe string) error {
	opts.TransactionalID = probe
	kopts, err := clientOptions(opts)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	if err := initProducer(ctx, cl); err != nil {
		return fmt.Errorf("kafka: the brokers do not run a transaction for transactional id %s: %w", probe, err)
	}
	return nil
}
