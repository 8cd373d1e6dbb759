// Package changes is fluxo sink: it consumes the stream's topics (fluxo's
// or Debezium's Confluent-framed Avro envelope) in a Kafka consumer group
// and writes every change as one row into files of the bronze layer, once:
// a file's journal record claims its offsets before the file is committed,
// the group's offsets are committed after it, and a process that starts
// reading a partition resumes from what the lake holds.
package changes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fluxo-cdc/fluxo/internal/boxarena"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
)

// SchemaSource returns the schema a registry holds under an id.
type SchemaSource interface {
	// Schema returns the schema text of id; an unknown id is an error.
	Schema(ctx context.Context, id int) (string, error)
}

// Options configure Run.
type Options struct {
	// Name is the stream's name: the lake's top directory, as for the full load.
	Name string
	// Client connects to the brokers (addresses, TLS, SASL).
	Client []kgo.Opt
	// Group is the consumer group; processes with one group share the partitions.
	Group string
	// SessionTimeout is how long the group waits for a member that stopped
	// answering (a killed process) before it gives its partitions to the
	// others (default 10s, as Kafka Connect's workers).
	SessionTimeout time.Duration
	// InstanceID, when set, makes this process a static member of the
	// group: restarted with the same id, it gets its partitions back at
	// once instead of after a rebalance.
	InstanceID string
	// Topics is the regular expression of the topics to read; Select, when
	// set, says which of them to write (the records of the others are
	// skipped).
	Topics string
	Select func(topic string) bool
	// Schemas resolves the schema ids of the records.
	Schemas SchemaSource
	// Store is the bronze layer.
	Store *bronze.Store
	// Format ("avro" or "parquet") and Compression of the files.
	Format, Compression string
	// MaxFileBytes rolls a file once it holds this much (default 128 MiB).
	MaxFileBytes int64
	// FlushInterval rolls a file this long after it opened (default 60s).
	FlushInterval time.Duration
	// Version is written into each file and record.
	Version string
	Logger  *slog.Logger
	// Metrics receives the sink's figures; nil: not measured.
	Metrics *Metrics
	// Ready is called once the group is joined and reading, Beat after
	// every poll (nil: not told).
	Ready, Beat func()
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// fetchMaxBytes bounds what one fetch brings (kgo's default is 50 MiB):
// with the open files' row groups it is most of the sink's memory.
const fetchMaxBytes = 8 << 20

type topicPartition struct {
	topic     string
	partition int32
}

// sink is one Run.
type sink struct {
	o       Options
	log     *slog.Logger
	journal journal
	metrics *Metrics
	schemas map[int]*envelope
	mu      sync.Mutex // guards parts and fresh against the group's callbacks
	parts   map[topicPartition]*partState
	fresh   []topicPartition // assigned, not yet started at the lake's offset
	values  boxarena.Arena   // boxes the values of the records handled
	scratch []byte           // a buffer for rendering a row's position
}

// Run consumes until ctx ends, then commits the open files and returns nil;
// it returns an error, having committed nothing past it, for input it cannot
// write (a record that is not Confluent-framed Avro, an unknown schema id,
// a value that does not decode) and for a lake it cannot write.
func Run(ctx context.Context, o Options) error {
	s, err := newSink(o)
	if err != nil {
		return err
	}
	o = s.o // with its defaults
	opts := append([]kgo.Opt(nil), o.Client...)
	if o.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(o.InstanceID))
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumerGroup(o.Group), kgo.ConsumeRegex(), kgo.ConsumeTopics(o.Topics),
		kgo.SessionTimeout(o.SessionTimeout), kgo.RebalanceTimeout(3*o.SessionTimeout),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(s.assigned), kgo.OnPartitionsRevoked(s.drop), kgo.OnPartitionsLost(s.drop),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	err = s.loop(ctx, cl)
	// Commit what is open, whatever ended the loop: the lake keeps it.
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ferr := s.rollAll(fctx, cl); err == nil {
		err = ferr
	}
	if err == nil {
		cl.LeaveGroup() // hand the partitions over at once
	}
	return err
}

func newSink(o Options) (*sink, error) {
	if o.Store == nil || o.Schemas == nil || o.Group == "" || o.Topics == "" || o.Name == "" {
		return nil, errors.New("changes: Name, Group, Topics, Schemas and Store are required")
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 128 << 20
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Minute
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &sink{o: o, log: o.Logger, journal: journal{store: o.Store, name: o.Name}, metrics: o.Metrics,
		schemas: map[int]*envelope{}, parts: map[topicPartition]*partState{}}, nil
}

// loop polls, writes and rolls until ctx ends or something fails.
func (s *sink) loop(ctx context.Context, cl *kgo.Client) error {
	ready := s.o.Ready
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, s.untilDue())
		fetches := cl.PollRecords(pctx, 10_000)
		cancel()
		if ready != nil {
			ready()
			ready = nil
		}
		if err := fetchError(ctx, fetches); err != nil {
			return err
		}
		started, err := s.start(ctx, cl)
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if started[topicPartition{p.Topic, p.Partition}] {
				return // fetched from the group's offset: fetching restarts at the lake's
			}
			if err == nil && len(p.Records) > 0 && (s.o.Select == nil || s.o.Select(p.Topic)) {
				err = s.partition(ctx, cl, p.Topic, p.Partition, p.HighWatermark, p.Records)
				s.metrics.lag(p.Topic, p.Partition, p.HighWatermark-p.Records[len(p.Records)-1].Offset-1)
			}
		})
		if err == nil {
			err = s.rollDue(ctx, cl)
		}
		cl.AllowRebalance()
		if err != nil {
			return err
		}
		if s.o.Beat != nil {
			s.o.Beat()
		}
	}
	return nil
}

// fetchError returns the first fetch error that retrying will not help.
func fetchError(ctx context.Context, f kgo.Fetches) error {
	for _, e := range f.Errors() {
		if errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded) || ctx.Err() != nil {
			continue
		}
		if errors.Is(e.Err, kgo.ErrClientClosed) {
			return e.Err
		}
		return fmt.Errorf("kafka: read %s partition %d: %w", e.Topic, e.Partition, e.Err)
	}
	return nil
}

// untilDue is how long the next poll may wait: until the oldest open file
// is due to roll, at most a second.
func (s *sink) untilDue() time.Duration {
	wait := time.Second
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ps := range s.parts {
		if ps.open != nil {
			wait = min(wait, max(ps.open.opened.Add(s.o.FlushInterval).Sub(now), time.Millisecond))
		}
	}
	return wait
}

// partition writes the records of one partition.
func (s *sink) partition(ctx context.Context, cl *kgo.Client, topic string, p int32, hwm int64, recs []*kgo.Record) error {
	ps, err := s.state(ctx, topic, p)
	if err != nil {
		return err
	}
	ps.hwm = hwm
	if ps.seek {
		// Fetching started at the group's offset: restart at the lake's.
		ps.seek = false
		cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{topic: {p: {Epoch: -1, Offset: ps.next}}})
		return nil
	}
	for _, rec := range recs {
		if err := s.record(ctx, cl, ps, rec); err != nil {
			return fmt.Errorf("topic %s partition %d offset %d: %w", topic, p, rec.Offset, err)
		}
		if ps.open == nil && !s.owns(ps) {
			return nil // resynced: the rest is fetched again from the lake's offset
		}
	}
	return nil
}

// state returns what the sink knows of a partition, reading the lake the
// first time.
func (s *sink) state(ctx context.Context, topic string, p int32) (*partState, error) {
	s.mu.Lock()
	ps := s.parts[topicPartition{topic, p}]
	s.mu.Unlock()
	if ps != nil {
		return ps, nil
	}
	next, repair, err := s.journal.resume(ctx, topic, p)
	if err != nil {
		return nil, fmt.Errorf("read the lake's record of %s partition %d: %w", topic, p, err)
	}
	ps = &partState{topic: topic, partition: p, next: next, repair: repair, seek: next >= 0}
	if repair != nil {
		s.log.Warn("the lake lacks the last file its journal records (a crash between the two); writing it again",
			"key", repair.Key, "first_offset", repair.First, "last_offset", repair.Last)
	}
	s.mu.Lock()
	s.parts[topicPartition{topic, p}] = ps
	s.mu.Unlock()
	return ps, nil
}

// record writes one record into its partition's file.
func (s *sink) record(ctx context.Context, cl *kgo.Client, ps *partState, rec *kgo.Record) error {
	if rec.Offset < ps.next || rec.Offset < ps.read {
		return nil // already in the lake, or handled (a fetch from before a restart at the lake's offset)
	}
	ps.read = rec.Offset + 1
	if ps.repair != nil && rec.Offset > ps.repair.Last {
		if ps.open == nil {
			return fmt.Errorf("the journal records the file %s for offsets %d to %d, which Kafka no longer holds: the topic's retention removed them before the file was written again",
				ps.repair.Key, ps.repair.First, ps.repair.Last)
		}
		if err := s.roll(ctx, cl, ps); err != nil {
			return err
		}
	}
	if rec.Value == nil { // a tombstone: no row, but the open file's range covers it
		if ps.open != nil {
			ps.open.last = rec.Offset
		}
		return nil
	}
	id, payload, err := frame(rec.Value)
	if err != nil {
		return err
	}
	env, err := s.envelope(ctx, id)
	if err != nil {
		return err
	}
	c, err := env.decode(payload, &s.values)
	if err != nil {
		return fmt.Errorf("decode the value with schema id %d: %w", id, err)
	}
	if ps.open != nil && ps.open.schemaID != id && ps.repair == nil {
		if err := s.roll(ctx, cl, ps); err != nil { // a new schema version starts a new file
			return err
		}
	}
	if ps.open == nil {
		if err := s.openFor(ctx, ps, rec, env, id, &c); err != nil {
			return err
		}
	}
	row, err := row(&c, len(env.cols), rec, &s.values, &s.scratch)
	if err != nil {
		return err
	}
	if err := ps.open.part.Rows.Write(row); err != nil {
		return fmt.Errorf("write %s: %w", ps.open.key, err)
	}
	ps.open.last = rec.Offset
	ps.countRow(s.metrics, c.op)
	if ps.repair == nil && ps.open.part.Rows.Size() >= s.o.MaxFileBytes {
		return s.roll(ctx, cl, ps)
	}
	return nil
}

// envelope returns the compiled value schema of id.
func (s *sink) envelope(ctx context.Context, id int) (*envelope, error) {
	if e, ok := s.schemas[id]; ok {
		return e, nil
	}
	text, err := s.o.Schemas.Schema(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	e, err := compileEnvelope(text)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	s.schemas[id] = e
	return e, nil
}

// rollDue rolls the files open for FlushInterval, and the files written
// again once they hold their range.
func (s *sink) rollDue(ctx context.Context, cl *kgo.Client) error {
	now := s.o.Now()
	for _, ps := range s.snapshot() {
		due := ps.open != nil && ps.repair == nil && now.Sub(ps.open.opened) >= s.o.FlushInterval
		if due || ps.repaired() {
			if err := s.roll(ctx, cl, ps); err != nil {
				return err
			}
		}
	}
	return nil
}

// rollAll commits every open file (a file being written again that does
// not hold its range yet is dropped: it is written when its partition is
// read next).
func (s *sink) rollAll(ctx context.Context, cl *kgo.Client) error {
	var first error
	for _, ps := range s.snapshot() {
		if ps.open == nil {
			continue
		}
		if ps.repair != nil && !ps.repaired() {
			ps.open.part.Abort()
			ps.open = nil
			continue
		}
		if err := s.roll(ctx, cl, ps); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *sink) snapshot() []*partState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*partState, 0, len(s.parts))
	for _, ps := range s.parts {
		out = append(out, ps)
	}
	return out
}

// assigned notes the partitions the group gave this process; the poll
// loop starts them at the lake's offsets (see start).
func (s *sink) assigned(_ context.Context, _ *kgo.Client, got map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, parts := range got {
		if s.o.Select != nil && !s.o.Select(topic) {
			continue
		}
		for _, p := range parts {
			s.fresh = append(s.fresh, topicPartition{topic, p})
		}
	}
}

// start reads the lake's offsets of the partitions just assigned and
// restarts their fetching there, whether or not they have new records (a
// file to write again may be all there is to do). It returns the
// partitions it restarted: what was fetched for them is dropped.
func (s *sink) start(ctx context.Context, cl *kgo.Client) (map[topicPartition]bool, error) {
	s.mu.Lock()
	fresh := s.fresh
	s.fresh = nil
	s.mu.Unlock()
	started := map[topicPartition]bool{}
	for _, tp := range fresh {
		ps, err := s.state(ctx, tp.topic, tp.partition)
		if err != nil {
			return nil, err
		}
		if ps.seek {
			ps.seek = false
			cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{tp.topic: {tp.partition: {Epoch: -1, Offset: ps.next}}})
			started[tp] = true
		}
	}
	return started, nil
}

// drop abandons the open files of partitions the group took away (they
// are read again by their next owner, from the lake's offset), before the
// rebalance completes.
func (s *sink) drop(_ context.Context, _ *kgo.Client, gone map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, parts := range gone {
		for _, p := range parts {
			tp := topicPartition{topic, p}
			s.fresh = slices.DeleteFunc(s.fresh, func(f topicPartition) bool { return f == tp })
			if ps := s.parts[tp]; ps != nil && ps.open != nil {
				ps.open.part.Abort()
				s.log.Info("partition moved to another sink process; its open file was abandoned",
					"topic", topic, "partition", p, "first_offset", ps.open.first)
			}
			delete(s.parts, tp)
		}
	}
}

// owns reports whether ps is still the partition's state (a resync or a
// revocation replaces it).
func (s *sink) owns(ps *partState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parts[topicPartition{ps.topic, ps.partition}] == ps
}
