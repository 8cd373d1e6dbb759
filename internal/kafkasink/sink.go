// Package kafkasink is Fluxo's Kafka sink: an idempotent, acks=all franz-go
// producer that partitions keyed records with Kafka's murmur2 hash, so that
// other producers agree on partitions.
package kafkasink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// DefaultLinger is how long a batch waits for more records unless
// Options.Linger says otherwise.
const DefaultLinger = 5 * time.Millisecond

// Options configure a Sink.
type Options struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// TLS, when non-nil, enables TLS with this configuration.
	TLS *tls.Config
	// SASL, when non-nil, authenticates with this mechanism.
	SASL SASL
	// Linger is how long a batch waits for more records (default
	// DefaultLinger).
	Linger time.Duration
	// MaxBufferedRecords bounds the records awaiting acknowledgement; Produce
	// blocks beyond it (default 10,000).
	MaxBufferedRecords int
	// MaxBufferedBytes bounds the bytes awaiting acknowledgement (default
	// 32 MiB).
	MaxBufferedBytes int
	// MaxRecordBytes is the largest batch, and so the largest record, sent
	// (default 1 MiB); keep it within the brokers' message.max.bytes.
	MaxRecordBytes int
	// Logger receives the client's warnings; nil discards them.
	Logger *slog.Logger
	// Health receives the brokers' reachability (nil: not reported).
	Health cdc.Health
	// Delivered, when set, is called once per record when its delivery
	// ended, with the time since Produce and the error (nil once the
	// brokers acknowledged it). It runs on the client's goroutines.
	Delivered func(latency time.Duration, err error)
	// TransactionalID, when set, makes the sink transactional (see
	// Commit): records become visible to read_committed consumers only
	// when committed, and a newer producer with the same id fences this
	// one.
	TransactionalID string
	// TransactionTimeout is how long the brokers let a transaction stay
	// open before aborting it (default 5 minutes): the longest a source
	// transaction may take to stream.
	TransactionTimeout time.Duration
}

// Sink implements cdc.Sink with franz-go.
type Sink struct {
	cl        *kgo.Client
	delivered func(time.Duration, error)
	promiseFn func(*kgo.Record, error) // promise, bound once
	// inTxn: a transaction is open (transactional sinks only); touched by
	// the producing goroutine alone.
	inTxn bool
	txnal bool
	close sync.Once
}

// New connects a Sink. It does not wait for the brokers to answer; use Ping
// for that.
func New(opts Options) (*Sink, error) {
	if len(opts.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers configured (set kafka.brokers)")
	}
	kopts, err := clientOptions(opts)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	s := &Sink{cl: cl, delivered: opts.Delivered, txnal: opts.TransactionalID != ""}
	s.promiseFn = s.promise // one func value for every record
	return s, nil
}

func clientOptions(opts Options) ([]kgo.Opt, error) {
	if opts.Linger == 0 {
		opts.Linger = DefaultLinger
	}
	if opts.MaxBufferedRecords == 0 {
		opts.MaxBufferedRecords = 10_000
	}
	if opts.MaxBufferedBytes == 0 {
		opts.MaxBufferedBytes = 32 << 20
	}
	if opts.MaxRecordBytes == 0 {
		opts.MaxRecordBytes = 1 << 20
	}
	kopts, err := ConnectOptions(opts)
	if err != nil {
		return nil, err
	}
	kopts = append(kopts,
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence is on by default and requires it
		kgo.ProducerLinger(opts.Linger),
		kgo.MaxBufferedRecords(opts.MaxBufferedRecords),
		kgo.ProducerBatchMaxBytes(int32(opts.MaxRecordBytes)),
		kgo.MaxBufferedBytes(max(opts.MaxBufferedBytes, 2*opts.MaxRecordBytes)),
		kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(partitionFor)),
		kgo.AllowAutoTopicCreation(),
	)
	if opts.TransactionalID != "" {
		if opts.TransactionTimeout == 0 {
			opts.TransactionTimeout = 5 * time.Minute
		}
		kopts = append(kopts, kgo.TransactionalID(opts.TransactionalID), kgo.TransactionTimeout(opts.TransactionTimeout))
	}
	return kopts, nil
}

// ConnectOptions are the client options that reach the cluster of opts
// (brokers, TLS, SASL, logger, the brokers' reachability into
// opts.Health), for other clients of it (the checkpoint store, fluxo
// sink's consumer).
func ConnectOptions(opts Options) ([]kgo.Opt, error) {
	kopts := []kgo.Opt{kgo.SeedBrokers(opts.Brokers...)}
	if opts.Logger != nil {
		kopts = append(kopts, kgo.WithLogger(slogAdapter{opts.Logger}))
	}
	if opts.Health != nil {
		kopts = append(kopts, kgo.WithHooks(newHealthHook(opts.Health)))
	}
	if opts.TLS != nil {
		kopts = append(kopts, kgo.DialTLSConfig(opts.TLS))
	}
	if opts.SASL.Mechanism != "" {
		m, err := opts.SASL.mechanism()
		if err != nil {
			return nil, err
		}
		kopts = append(kopts, kgo.SASL(m))
	}
	return kopts, nil
}

// partitionFor places keyed records by Kafka's murmur2 of the key, and
// null-keyed records on the partition the record names (0 by default, so a
// keyless table keeps its order).
func partitionFor(topic string) func(r *kgo.Record, n int) int {
	keyed := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	return func(r *kgo.Record, n int) int {
		if r.Key != nil {
			return keyed.Partition(r, n)
		}
		if p := int(r.Partition); p > 0 && p < n {
			return p
		}
		return 0
	}
}

// Ping checks that a broker answers.
func (s *Sink) Ping(ctx context.Context) error {
	if err := s.cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: no broker answers: %w", err)
	}
	return nil
}

// Produce implements cdc.Sink. A transactional sink opens a transaction
// first when none is open.
func (s *Sink) Produce(ctx context.Context, rec *cdc.Record, done func(error)) {
	if err := s.begin(); err != nil {
		done(err)
		return
	}
	p := &produced{Context: ctx, done: done}
	p.rec = kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Timestamp: rec.Time, Context: p}
	if rec.Partition >= 0 {
		p.rec.Partition = rec.Partition
	}
	s.cl.Produce(ctx, &p.rec, s.promiseFn)
}

// produced is a record in flight and its callback, in one allocation per
// row: the kgo.Record's Context is the produced itself, from which the
// sink's one promise (no closure per record) finds the callback. It
// embeds Produce's ctx, so the record is cancelled with it, as kgo does
// with a record that has no Context of its own.
type produced struct {
	context.Context
	rec  kgo.Record
	done func(error)
}

// promise ends the delivery of a record produced by Produce.
func (s *Sink) promise(r *kgo.Record, err error) {
	p := r.Context.(*produced)
	if s.delivered != nil {
		s.delivered(time.Since(r.Timestamp), err)
	}
	p.done(err)
}

// Flush implements cdc.Sink.
func (s *Sink) Flush(ctx context.Context) error {
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("kafka flush: %w", err)
	}
	return nil
}

// Close implements cdc.Sink.
func (s *Sink) Close() { s.close.Do(s.cl.Close) }

// Abandon closes the sink at once, from any goroutine: records not sent
// yet fail and never reach Kafka (a process whose hold on its stream
// expired, which another process may take over). Later calls fail.
func (s *Sink) Abandon() { s.Close() }

// Partitions implements cdc.Sink: it returns the topic's partition count,
// creating the topic with the broker's defaults when it does not exist.
func (s *Sink) Partitions(ctx context.Context, topic string) (int32, error) {
	n, err := s.metadataPartitions(ctx, topic)
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return n, err
	}
	if err := s.createTopic(ctx, topic); err != nil {
		return 0, err
	}
	return s.metadataPartitions(ctx, topic)
}

func (s *Sink) metadataPartitions(ctx context.Context, topic string) (int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return 0, fmt.Errorf("kafka metadata for %q: %w", topic, err)
	}
	if len(resp.Topics) != 1 {
		return 0, fmt.Errorf("kafka metadata for %q: %d topics in answer", topic, len(resp.Topics))
	}
	t := resp.Topics[0]
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
		return 0, fmt.Errorf("kafka metadata for %q: %w", topic, err)
	}
	return int32(len(t.Partitions)), nil
}

func (s *Sink) createTopic(ctx context.Context, topic string) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions = -1
	rt.ReplicationFactor = -1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 30_000
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return fmt.Errorf("create topic %q: %w", topic, err)
	}
	for _, t := range resp.Topics {
		err := kerr.ErrorForCode(t.ErrorCode)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %q: %w (grant CREATE on the cluster, or create the topic yourself)", topic, err)
		}
	}
	return nil
}

var _ cdc.Sink = (*Sink)(nil)
