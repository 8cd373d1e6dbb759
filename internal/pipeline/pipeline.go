// Package pipeline joins a source, the Avro encoder, the Kafka sink and the
// checkpoint store: it turns row changes into Debezium-style records and
// saves the source position only once Kafka acknowledged everything before
// it, at a transaction boundary.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/checkpoint"
)

// Options configure a Pipeline. Source, Sink, Registry and Store are
// required.
type Options struct {
	// Name is the config's name (source.name in envelopes, checkpoint key).
	Name string
	// TopicPrefix starts every topic: <prefix>.<schema>.<table>.
	TopicPrefix string
	Connector   cdc.Connector
	// Version is fluxo's version, written as source.version.
	Version string
	// Tombstones adds a null-valued record after each delete.
	Tombstones bool
	// MaxRecordBytes is the largest record Kafka accepts (0: no limit); a
	// larger one stops the pipeline with an error that says what to raise.
	MaxRecordBytes int

	Source   cdc.Source
	Sink     cdc.Sink
	Registry cdc.Registry
	Store    checkpoint.Store

	// CheckpointInterval is how often the checkpoint is saved when it
	// advanced (default 1s).
	CheckpointInterval time.Duration
	// FlushTimeout bounds the final flush on shutdown (default 30s).
	FlushTimeout time.Duration
	Logger       *slog.Logger
	// Observer receives events, records and checkpoint rounds for metrics
	// (nil: none).
	Observer Observer
	// Now is the clock for envelope ts_ms (default time.Now).
	Now func() time.Time
	// Transactions writes the records and the checkpoint in Kafka
	// transactions (exactly once): Sink must be a TxSink and Store a
	// TxStore. See the commit cadence in txn.go.
	Transactions bool
	// TransactionTopic writes Debezium's BEGIN and END records of each
	// source transaction to <TopicPrefix>.transaction.
	TransactionTopic bool
	// HeartbeatTopic writes Debezium's heartbeat record to
	// __debezium-heartbeat.<TopicPrefix> every HeartbeatInterval.
	HeartbeatTopic    bool
	HeartbeatInterval time.Duration
	// CommitInterval is how often a transactional pipeline commits
	// (default 100ms).
	CommitInterval time.Duration
	// TransactionTimeout is the sink's transaction timeout (default 1m): a
	// source transaction still being sent after nine tenths of it stops
	// the pipeline, before the brokers abort the transaction.
	TransactionTimeout time.Duration
}

// Pipeline runs one stream.
type Pipeline struct {
	opts    Options
	log     *slog.Logger
	codecs  map[*cdc.Table]*tableCodec
	tracker *tracker
	scratch []byte
	slab    []byte     // see keep
	rec     cdc.Record // the record being produced, see produce
	cpMu    sync.Mutex // serialises checkpoint saves
	saved   time.Time  // last checkpoint save; under cpMu
	stats   Stats
	txn     txnState   // transactional pipelines only; under txnMu
	txnMu   sync.Mutex // held while a message is handled
	txmon   txMonitor  // the source transaction being sent; under txnMu
}

// Stats counts what a pipeline did.
type Stats struct {
	Events, Records, Commits, Checkpoints int64
}

// New validates opts and returns a Pipeline.
func New(opts Options) (*Pipeline, error) {
	if opts.Source == nil || opts.Sink == nil || opts.Registry == nil || opts.Store == nil {
		return nil, errors.New("pipeline: source, sink, registry and store are required")
	}
	if opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = time.Second
	}
	if opts.FlushTimeout == 0 {
		opts.FlushTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CommitInterval == 0 {
		opts.CommitInterval = 100 * time.Millisecond
	}
	if opts.TransactionTimeout == 0 {
		opts.TransactionTimeout = time.Minute
	}
	if opts.Observer == nil {
		opts.Observer = noObserver{}
	}
	if err := checkTransactional(opts); err != nil {
		return nil, err
	}
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = 10 * time.Second
	}
	return &Pipeline{opts: opts, log: opts.Logger, codecs: map[*cdc.Table]*tableCodec{},
		txmon: txMonitor{index: map[cdc.TableID]int{}, topic: opts.TopicPrefix + ".transaction"}}, nil
}

// Stats returns the counters; call it after Run returned.
func (p *Pipeline) Stats() Stats { return p.stats }

// Run streams until ctx is done (a clean stop: it flushes Kafka, saves the
// checkpoint and returns nil), the source ends (initial_only: same), or a
// failure, which it returns after checkpointing what Kafka acknowledged.
func (p *Pipeline) Run(ctx context.Context) error {
	loopCtx, stopLoop := context.WithCancelCause(ctx)
	defer stopLoop(nil)
	p.tracker = newTracker(func(err error) { stopLoop(err) }) // a failed delivery interrupts a blocked Next
	if p.opts.HeartbeatTopic {
		go func() {
			if err := p.heartbeats(loopCtx); err != nil {
				stopLoop(err)
			}
		}()
	}
	if p.transactional() {
		return p.runTxn(ctx, loopCtx, stopLoop)
	}
	cpCtx, stopCp := context.WithCancel(context.Background())
	cpDone := make(chan error, 1)
	go func() { cpDone <- p.checkpointLoop(cpCtx) }()
	runErr := p.loop(loopCtx)
	stopped := ctx.Err() != nil
	switch f := p.tracker.failure(); {
	case f != nil && !(stopped && errors.Is(f, context.Canceled)):
		runErr = fmt.Errorf("kafka delivery failed: %w", f)
	case f != nil: // a record abandoned by the stop itself: unsent, so never checkpointed, but a clean stop
		runErr = nil
	case errors.Is(runErr, cdc.ErrEndOfStream), stopped && errors.Is(runErr, ctx.Err()):
		runErr = nil
	}
	stopCp()
	cpErr := <-cpDone
	fctx, cancel := context.WithTimeout(context.Background(), p.opts.FlushTimeout)
	defer cancel()
	flushErr := p.opts.Sink.Flush(fctx)
	if flushErr != nil {
		flushErr = fmt.Errorf("%w: stopping while Kafka does not acknowledge; what it did not acknowledge is not in the checkpoint and is read again at the next start (nothing is lost)", flushErr)
	}
	saveErr := p.saveCheckpoint(fctx)
	return errors.Join(runErr, cpErr, flushErr, saveErr)
}

func (p *Pipeline) loop(ctx context.Context) error {
	for {
		msg, err := p.opts.Source.Next(ctx)
		if err != nil {
			return err
		}
		p.txnMu.Lock() // a transactional pipeline's committer waits meanwhile
		err = p.message(ctx, msg)
		p.txnMu.Unlock()
		if err != nil {
			return err
		}
	}
}

// message handles one message of the source.
func (p *Pipeline) message(ctx context.Context, msg cdc.Message) error {
	if msg.Commit == nil {
		return p.handle(ctx, msg.Event)
	}
	if err := p.txEnd(ctx); err != nil {
		return err
	}
	p.tracker.seal(msg.Commit, p.opts.Now(), msg.SaveSoon)
	p.stats.Commits++
	switch {
	case p.transactional():
		return p.boundary(ctx, msg.Commit, msg.SaveNow)
	case msg.SaveNow:
		return p.saveNow(ctx)
	}
	return nil
}

// handle produces the records of one event.
func (p *Pipeline) handle(ctx context.Context, ev *cdc.Event) error {
	p.stats.Events++
	c, err := p.codec(ctx, ev.Table)
	if err != nil {
		return err
	}
	c.obs.Event(ev)
	if ev.Op == cdc.OpUpdate && c.keyed && keyChanged(ev) {
		return p.keyChange(ctx, c, ev) // two events, numbered each
	}
	if ev.Tx != nil {
		if ev, err = p.txEvent(ctx, ev); err != nil {
			return err
		}
	}
	if ev.Op == cdc.OpTruncate {
		return p.truncate(ctx, c, ev)
	}
	row := ev.After
	if ev.Op == cdc.OpDelete {
		row = ev.Before
	}
	key, err := p.key(c, row)
	if err != nil {
		return fmt.Errorf("encode key of %s: %w", ev.Table.ID, err)
	}
	if err := p.produce(ctx, c, ev, key, -1); err != nil {
		return err
	}
	if ev.Op == cdc.OpDelete && p.opts.Tombstones && key != nil {
		p.send(ctx, c, &cdc.Record{Topic: c.topic, Key: key, Partition: -1})
	}
	return nil
}

// keyChange sends an update that moved the primary key as a delete of the
// old key (plus its tombstone) and a create of the new one, as Debezium does.
func (p *Pipeline) keyChange(ctx context.Context, c *tableCodec, ev *cdc.Event) error {
	del, ins := *ev, *ev
	del.Op, del.After = cdc.OpDelete, nil
	ins.Op, ins.Before = cdc.OpCreate, nil
	if err := p.handle(ctx, &del); err != nil {
		return err
	}
	return p.handle(ctx, &ins)
}

// keyChanged reports whether an update moved the key. Without a before
// image (PostgreSQL's default replica identity sends one only when the key
// changed) it did not.
func keyChanged(ev *cdc.Event) bool {
	if ev.Before == nil {
		return false
	}
	for _, i := range ev.Table.Key {
		if !reflect.DeepEqual(ev.Before[i], ev.After[i]) {
			return true
		}
	}
	return false
}

// truncate writes the truncate record with a null key to every partition.
func (p *Pipeline) truncate(ctx context.Context, c *tableCodec, ev *cdc.Event) error {
	if c.parts == 0 {
		n, err := p.opts.Sink.Partitions(ctx, c.topic)
		if err != nil {
			return err
		}
		c.parts = n
	}
	for part := int32(0); part < c.parts; part++ {
		if err := p.produce(ctx, c, ev, nil, part); err != nil {
			return err
		}
	}
	return nil
}

func (p *Pipeline) produce(ctx context.Context, c *tableCodec, ev *cdc.Event, key []byte, part int32) error {
	now := p.opts.Now() // the envelope's ts_ms and the record's timestamp: one clock read per row
	val, err := p.value(c, ev, now)
	if err != nil {
		return fmt.Errorf("encode %c event of %s: %w", ev.Op, ev.Table.ID, err)
	}
	rec := &p.rec // the sink keeps no Record past Produce: one for every row
	*rec = cdc.Record{Topic: c.topic, Key: key, Value: val, Partition: part, Time: now}
	if err := p.checkSize(ev, rec); err != nil {
		return err
	}
	p.send(ctx, c, rec)
	return nil
}

// recordOverhead is what Kafka's batch and record framing add to a record.
const recordOverhead = 128

// checkSize refuses a record that Kafka would reject, before it is sent.
func (p *Pipeline) checkSize(ev *cdc.Event, rec *cdc.Record) error {
	n := len(rec.Key) + len(rec.Value) + recordOverhead
	if p.opts.MaxRecordBytes == 0 || n <= p.opts.MaxRecordBytes {
		return nil
	}
	return fmt.Errorf("a %c record of %s is %d bytes, more than kafka.max_record_bytes (%d): raise kafka.max_record_bytes together with the topic's max.message.bytes (and the brokers' message.max.bytes), or leave the large column out with source.exclude_columns; nothing after the last checkpoint was lost",
		ev.Op, ev.Table.ID, n, p.opts.MaxRecordBytes)
}

func (p *Pipeline) send(ctx context.Context, c *tableCodec, rec *cdc.Record) {
	if p.stats.Records == p.txn.committed {
		p.txn.opened = time.Now() // the first record of a Kafka transaction (transactional only)
	}
	p.stats.Records++
	c.obs.Record(len(rec.Key) + len(rec.Value))
	p.opts.Sink.Produce(ctx, rec, p.tracker.add())
}
