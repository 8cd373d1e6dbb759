package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// DefaultTopic is the default checkpoint.topic.
const DefaultTopic = "_fluxo_checkpoints"

// Kafka is a Store that keeps checkpoints in a compacted Kafka topic, so
// that a stream needs no volume: the checkpoint of stream name is the
// record of key name (the same document as the file store's, with the
// position's head), and each part of its position (see split) the record
// of key name/part/<digest>, written once before the head that references
// it and deleted (a tombstone) once unreferenced. Compaction keeps the
// latest record of each key; Load reads the topic to its end with
// read_committed isolation.
type Kafka struct {
	// LeaseTimeout is how long Acquire waits for a silent holder (0:
	// DefaultLeaseTimeout); see askSuffix.
	LeaseTimeout time.Duration

	opts  []kgo.Opt // how to reach the cluster (seeds, TLS, SASL)
	topic string
	name  string

	mu    sync.Mutex
	cl    *kgo.Client     // the producer, once Save ran
	known map[string]bool // the parts in the topic, once read or written
}

// NewKafka returns a Store keeping stream name's checkpoint in topic of
// the cluster opts reach.
func NewKafka(opts []kgo.Opt, topic, name string) *Kafka {
	return &Kafka{opts: opts, topic: topic, name: name}
}

// Topic returns the topic's name.
func (k *Kafka) Topic() string { return k.topic }

func (k *Kafka) partKey(digest string) string { return k.name + "/part/" + digest }

// Load implements Store.
func (k *Kafka) Load(ctx context.Context) (*Checkpoint, error) {
	records, err := k.read(ctx)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.learnParts(records)
	k.mu.Unlock()
	head, ok := records[k.name]
	if !ok {
		return nil, nil
	}
	var doc fileDoc
	if err := json.Unmarshal(head, &doc); err != nil {
		return nil, fmt.Errorf("checkpoint %s in topic %q is corrupt (%v): delete it (a tombstone for key %q) to re-snapshot", k.name, k.topic, err, k.name)
	}
	if doc.Format != fileFormat {
		return nil, fmt.Errorf("checkpoint %s in topic %q has format %d, this fluxo reads %d: use a matching fluxo version", k.name, k.topic, doc.Format, fileFormat)
	}
	if doc.Name != k.name {
		return nil, fmt.Errorf("checkpoint of key %q in topic %q belongs to stream %q", k.name, k.topic, doc.Name)
	}
	cp := doc.Checkpoint
	if len(doc.Head) > 0 {
		get := func(d string) ([]byte, error) {
			if b, ok := records[k.partKey(d)]; ok {
				return b, nil
			}
			return nil, fmt.Errorf("missing from topic %q", k.topic)
		}
		if cp.Position, err = join(doc.Head, get); err != nil {
			return nil, fmt.Errorf("checkpoint %s in topic %q: %w", k.name, k.topic, err)
		}
	}
	return &cp, nil
}

// learnParts records which parts of the stream records hold (k.mu held).
func (k *Kafka) learnParts(records map[string][]byte) {
	k.known = map[string]bool{}
	for key := range records {
		if d, ok := strings.CutPrefix(key, k.name+"/part/"); ok {
			k.known[d] = true
		}
	}
}

// read returns the latest value of each of the stream's keys in the topic,
// read to its last stable offsets (nothing when the topic is missing).
func (k *Kafka) read(ctx context.Context) (map[string][]byte, error) {
	adm, err := kgo.NewClient(k.opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer adm.Close()
	// The last stable offsets: where read_committed reading ends. Control
	// records (transaction markers) are kept, so that a read sees the
	// offset before each even when a marker is the last record.
	ends, err := kadm.NewClient(adm).ListCommittedOffsets(ctx, k.topic)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint topic %q: %w", k.topic, err)
	}
	if err := ends.Error(); errors.Is(err, kerr.UnknownTopicOrPartition) {
		return map[string][]byte{}, nil
	} else if err != nil {
		return nil, explainTopicError(k.topic, "read", err)
	}
	want := map[int32]kgo.Offset{}
	until := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition], until[o.Partition] = kgo.NewOffset().AtStart(), o.Offset
		}
	})
	records := map[string][]byte{}
	if len(want) == 0 {
		return records, nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, k.opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{k.topic: want}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	for len(until) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read checkpoint topic %q: %w", k.topic, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, explainTopicError(k.topic, "read", ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := until[r.Partition]; ok && r.Offset+1 >= end {
				delete(until, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			key := string(r.Key)
			if key != k.name && !strings.HasPrefix(key, k.name+"/part/") {
				return
			}
			if r.Value == nil {
				delete(records, key)
			} else {
				records[key] = r.Value
			}
		})
	}
	return records, nil
}

// Save implements Store: the position's new parts first, acknowledged by
// the brokers, then the head, then tombstones for the parts it no longer
// references.
func (k *Kafka) Save(ctx context.Context, cp *Checkpoint) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.open(ctx); err != nil {
		return err
	}
	w, err := k.records(cp)
	if err != nil {
		return err
	}
	for _, group := range [][]*kgo.Record{w.parts, {w.head}, w.unused} {
		if err := k.produce(ctx, group...); err != nil {
			return err
		}
	}
	w.done()
	return nil
}

// Records returns the records that save cp, for a transactional sink to
// commit with the data they checkpoint (all or none become visible, so
// their order does not matter), and done, to call once they are committed.
// The topic must exist (Ensure).
func (k *Kafka) Records(cp *Checkpoint) (recs []*cdc.Record, done func(), err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.known == nil {
		return nil, nil, errors.New("checkpoint: Records before Load")
	}
	w, err := k.records(cp)
	if err != nil {
		return nil, nil, err
	}
	for _, group := range [][]*kgo.Record{w.parts, {w.head}, w.unused} {
		for _, r := range group {
			recs = append(recs, &cdc.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Partition: -1})
		}
	}
	return recs, func() { k.mu.Lock(); defer k.mu.Unlock(); w.done() }, nil
}

// write is what saving one checkpoint writes.
type write struct {
	parts, unused []*kgo.Record
	head          *kgo.Record
	done          func() // records the parts as written (k.mu held)
}

// records builds the write of cp (k.mu held).
func (k *Kafka) records(cp *Checkpoint) (write, error) {
	doc := fileDoc{Format: fileFormat, Checkpoint: *cp}
	var parts map[string][]byte
	if head, p, ok := splitJSON(cp.Position); ok {
		doc.Head, doc.Position, parts = head, nil, p
	}
	var w write
	for d, b := range parts {
		if !k.known[d] {
			w.parts = append(w.parts, &kgo.Record{Topic: k.topic, Key: []byte(k.partKey(d)), Value: b})
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return write{}, fmt.Errorf("encode checkpoint: %w", err)
	}
	w.head = &kgo.Record{Topic: k.topic, Key: []byte(k.name), Value: data}
	var gone []string
	for d := range k.known {
		if _, ok := parts[d]; !ok {
			w.unused = append(w.unused, &kgo.Record{Topic: k.topic, Key: []byte(k.partKey(d))}) // a tombstone
			gone = append(gone, d)
		}
	}
	w.done = func() {
		for d := range parts {
			k.known[d] = true
		}
		for _, d := range gone {
			delete(k.known, d)
		}
	}
	return w, nil
}

// open creates the producer and the topic, and learns the parts already in
// it, on the first Save.
func (k *Kafka) open(ctx context.Context) error {
	if k.cl != nil {
		return nil
	}
	if err := k.Ensure(ctx); err != nil {
		return err
	}
	if k.known == nil {
		records, err := k.read(ctx)
		if err != nil {
			return err
		}
		k.learnParts(records)
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, k.opts...), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	k.cl = cl
	return nil
}

func (k *Kafka) produce(ctx context.Context, recs ...*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := k.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return explainTopicError(k.topic, "write", err)
	}
	return nil
}

// Ensure creates the topic when it is missing (one partition,
// cleanup.policy=compact) and fails, saying how to fix it, when it cannot
// be created or is not compacted.
func (k *Kafka) Ensure(ctx context.Context) error {
	cl, err := kgo.NewClient(k.opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	compact := "compact"
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, k.topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return k.checkCompacted(ctx, adm)
	}
	return explainTopicError(k.topic, "create", err)
}

// Check reports whether the topic exists and fails when it is not
// compacted or cannot be described; it creates nothing (fluxo check).
func (k *Kafka) Check(ctx context.Context) (exists bool, err error) {
	cl, err := kgo.NewClient(k.opts...)
	if err != nil {
		return false, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics, err := adm.ListTopics(ctx, k.topic)
	if err != nil {
		return false, explainTopicError(k.topic, "describe", err)
	}
	if !topics.Has(k.topic) {
		return false, nil
	}
	return true, k.checkCompacted(ctx, adm)
}

// checkCompacted fails when the existing topic is not compacted: Kafka
// would delete checkpoints by age.
func (k *Kafka) checkCompacted(ctx context.Context, adm *kadm.Client) error {
	cfgs, err := adm.DescribeTopicConfigs(ctx, k.topic)
	if err != nil {
		return explainTopicError(k.topic, "describe", err)
	}
	rc, err := cfgs.On(k.topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return explainTopicError(k.topic, "describe", err)
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil && !strings.Contains(*c.Value, "compact") {
			return fmt.Errorf("checkpoint topic %q has cleanup.policy=%s, so Kafka would delete checkpoints by age: make it compacted (kafka-configs.sh --bootstrap-server <broker> --alter --entity-type topics --entity-name %s --add-config cleanup.policy=compact) or set checkpoint.topic to another topic",
				k.topic, *c.Value, k.topic)
		}
	}
	return nil
}

// explainTopicError names what a refusal on the checkpoint topic needs.
func explainTopicError(topic, what string, err error) error {
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		return fmt.Errorf("%s checkpoint topic %q: %w: grant fluxo's principal READ, WRITE, DESCRIBE and DESCRIBE_CONFIGS on topic %s, and CREATE on the cluster unless you create the topic yourself (kafka-topics.sh --create --topic %s --partitions 1 --config cleanup.policy=compact)",
			what, topic, err, topic, topic)
	case errors.Is(err, kerr.PolicyViolation), errors.Is(err, kerr.InvalidConfig):
		return fmt.Errorf("%s checkpoint topic %q: %w: create it yourself (kafka-topics.sh --create --topic %s --partitions 1 --config cleanup.policy=compact)", what, topic, err, topic)
	}
	return fmt.Errorf("%s checkpoint topic %q: %w", what, topic, err)
}

// Close releases the producer.
func (k *Kafka) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cl != nil {
		k.cl.Close()
		k.cl = nil
	}
}
