package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/checkpoint"
)

type pos string

func (p pos) MarshalBinary() ([]byte, error) { return []byte(p), nil }
func (p pos) String() string                 { return string(p) }

// script is a source that yields fixed messages, then blocks until ctx
// is done.
type script struct {
	msgs  []cdc.Message
	acked []string
	mu    sync.Mutex
}

func (s *script) Next(ctx context.Context) (cdc.Message, error) {
	if len(s.msgs) == 0 {
		<-ctx.Done()
		return cdc.Message{}, ctx.Err()
	}
	m := s.msgs[0]
	s.msgs = s.msgs[1:]
	return m, nil
}

func (s *script) Ack(_ context.Context, p cdc.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = append(s.acked, p.String())
	return nil
}

func (s *script) Close() error { return nil }

// heldSink keeps every delivery callback until the test releases it.
type heldSink struct {
	mu   sync.Mutex
	recs []*cdc.Record
	done []func(error)
}

func (k *heldSink) Produce(_ context.Context, r *cdc.Record, done func(error)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cp := *r // Produce may not keep r (cdc.Sink)
	k.recs = append(k.recs, &cp)
	k.done = append(k.done, done)
}
func (k *heldSink) Partitions(context.Context, string) (int32, error) { return 3, nil }
func (k *heldSink) Flush(context.Context) error                       { return nil }
func (k *heldSink) Close()                                            {}

func (k *heldSink) ack(i int, err error) {
	k.mu.Lock()
	f := k.done[i]
	k.mu.Unlock()
	f(err)
}

func (k *heldSink) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.recs)
}

type ids struct{}

func (ids) Register(context.Context, string, string) (int32, error) { return 1, nil }

type memStore struct {
	mu    sync.Mutex
	saved []string
}

func (m *memStore) Load(context.Context) (*checkpoint.Checkpoint, error) { return nil, nil }
func (m *memStore) Save(_ context.Context, cp *checkpoint.Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saved = append(m.saved, string(cp.Position))
	return nil
}

func (m *memStore) last() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.saved) == 0 {
		return ""
	}
	return m.saved[len(m.saved)-1]
}

var table = &cdc.Table{ID: cdc.TableID{Schema: "db", Name: "t"},
	Columns: []cdc.Column{{Name: "id", Kind: cdc.KindInt64, Type: "bigint"}, {Name: "v", Kind: cdc.KindString, Type: "text", Optional: true}},
	Key:     []int{0}}

func insert(id int64) cdc.Message {
	return cdc.Message{Event: &cdc.Event{Op: cdc.OpCreate, Table: table, After: []any{id, "x"}}}
}

func commit(p string) cdc.Message { return cdc.Message{Commit: pos(p)} }

func start(t *testing.T, src *script, sink *heldSink, store *memStore) (cancel func() error) {
	t.Helper()
	p, err := New(Options{Name: "t", TopicPrefix: "fx", Connector: cdc.ConnectorMySQL, Tombstones: true,
		Source: src, Sink: sink, Registry: ids{}, Store: store, CheckpointInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() error { stop(); return <-done }
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCheckpointWaitsForAcks: acknowledgements arrive out of order across
// transactions; the checkpoint only ever names a transaction whose records,
// and all earlier ones, are acknowledged.
func TestCheckpointWaitsForAcks(t *testing.T) {
	src := &script{msgs: []cdc.Message{insert(1), insert(2), commit("tx1"), insert(3), commit("tx2"), insert(4), commit("tx3")}}
	sink, store := &heldSink{}, &memStore{}
	stop := start(t, src, sink, store)
	waitFor(t, "4 records", func() bool { return sink.count() == 4 })
	steps := []struct {
		ack  int
		want string
	}{
		{3, ""},    // tx3 acked, tx1 and tx2 not
		{2, ""},    // tx2 acked, tx1 half
		{0, ""},    // tx1 still half
		{1, "tx3"}, // tx1 complete: everything is acknowledged
	}
	for _, st := range steps {
		sink.ack(st.ack, nil)
		time.Sleep(40 * time.Millisecond)
		if got := store.last(); got != st.want {
			t.Fatalf("after acking record %d: checkpoint %q, want %q", st.ack, got, st.want)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(src.acked) != "[tx3]" {
		t.Errorf("source acked %v, want [tx3]", src.acked)
	}
}

// TestDeliveryFailure: a failed record stops the pipeline and the
// checkpoint never moves past the transaction that holds it.
func TestDeliveryFailure(t *testing.T) {
	src := &script{msgs: []cdc.Message{insert(1), commit("tx1"), insert(2), commit("tx2"), insert(3), commit("tx3")}}
	sink, store := &heldSink{}, &memStore{}
	stop := start(t, src, sink, store)
	waitFor(t, "3 records", func() bool { return sink.count() == 3 })
	sink.ack(0, nil)
	sink.ack(1, errors.New("broker says no"))
	sink.ack(2, nil)
	time.Sleep(50 * time.Millisecond)
	err := stop()
	if err == nil || !strings.Contains(err.Error(), "broker says no") {
		t.Fatalf("Run = %v, want the delivery error", err)
	}
	if got := store.last(); got != "tx1" {
		t.Fatalf("checkpoint %q, want tx1", got)
	}
}

// TestKeyChange: an update that moves the key becomes delete + tombstone +
// create, keyed old, old, new.
func TestKeyChange(t *testing.T) {
	upd := &cdc.Event{Op: cdc.OpUpdate, Table: table, Before: []any{int64(1), "a"}, After: []any{int64(2), "a"}}
	src := &script{msgs: []cdc.Message{{Event: upd}, commit("tx1")}}
	sink, store := &heldSink{}, &memStore{}
	stop := start(t, src, sink, store)
	waitFor(t, "3 records", func() bool { return sink.count() == 3 })
	stop()
	r := sink.recs
	if r[1].Value != nil || r[0].Value == nil || r[2].Value == nil {
		t.Fatalf("want delete, tombstone, create; got values %v %v %v", r[0].Value != nil, r[1].Value != nil, r[2].Value != nil)
	}
	if string(r[0].Key) != string(r[1].Key) || string(r[0].Key) == string(r[2].Key) {
		t.Errorf("keys: delete %x tombstone %x create %x", r[0].Key, r[1].Key, r[2].Key)
	}
}

// fullSink acknowledges the first record and blocks on the second until
// its context ends, then fails it with the context's error, as franz-go
// does when its buffer is full.
type fullSink struct{ heldSink }

func (k *fullSink) Produce(ctx context.Context, r *cdc.Record, done func(error)) {
	if k.count() == 0 {
		k.heldSink.Produce(ctx, r, done)
		done(nil)
		return
	}
	k.heldSink.Produce(ctx, r, done)
	<-ctx.Done()
	done(ctx.Err())
}

// TestStopWhileProducing: a record that the stop itself abandoned (the sink
// reports context.Canceled) is a clean stop, but the checkpoint stays
// before its transaction.
func TestStopWhileProducing(t *testing.T) {
	src := &script{msgs: []cdc.Message{insert(1), commit("tx1"), insert(2), commit("tx2")}}
	sink, store := &fullSink{}, &memStore{}
	p, err := New(Options{Name: "t", TopicPrefix: "fx", Connector: cdc.ConnectorMySQL, Source: src, Sink: sink,
		Registry: ids{}, Store: store, CheckpointInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "2 records", func() bool { return sink.count() == 2 })
	waitFor(t, "checkpoint tx1", func() bool { return store.last() == "tx1" })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want a clean stop", err)
	}
	if got := store.last(); got != "tx1" {
		t.Fatalf("checkpoint %q, want tx1", got)
	}
}

// TestSaveSoon: with a long checkpoint interval, a commit asking to be
// saved soon (an incremental snapshot's chunk) is checkpointed within a few
// soonIntervals of its acknowledgement, while an ordinary commit waits for
// the interval.
func TestSaveSoon(t *testing.T) {
	tests := []struct {
		name string
		soon bool
		want string
	}{
		{"ordinary commit", false, ""},
		{"chunk commit", true, "chunk"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &script{msgs: []cdc.Message{insert(1), {Commit: pos("chunk"), SaveSoon: tc.soon}}}
			sink, store := &heldSink{}, &memStore{}
			p, err := New(Options{Name: "t", TopicPrefix: "fx", Connector: cdc.ConnectorMySQL,
				Source: src, Sink: sink, Registry: ids{}, Store: store, CheckpointInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			waitFor(t, "the record", func() bool { return sink.count() == 1 })
			sink.ack(0, nil)
			time.Sleep(5 * soonInterval)
			got := store.last()
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("checkpoint %q %v after the acknowledgement, want %q", got, 5*soonInterval, tc.want)
			}
		})
	}
}
