package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/fluxo-cdc/fluxo/cdc/postgres"
	"github.com/fluxo-cdc/fluxo/checkpoint"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// This file and faults_*_test.go prove fluxo's fault handling (SPEC §5, §8):
// transient outages of the broker, the registry and the source are waited
// out without loss; permanent faults stop the stream with the cause and the
// fix, without moving the checkpoint past what Kafka holds.

// TestBrokerOutage takes the broker down (listener closed, connections
// dropped, data kept on disk) under a running stream while a writer keeps
// committing, then brings it back on the same address: the stream must
// survive, its checkpoint must stand still while Kafka cannot acknowledge,
// and the topic must replay to the table.
func TestBrokerOutage(t *testing.T) {
	forEachBackend(t, testBrokerOutage)
}

func testBrokerOutage(t *testing.T, e *env) {
	k := e.restartableKafka()
	e.seedKV()
	cfg := e.config("")
	if e.pg != nil { // confirm the slot every second, so that slotNotPast has something to check
		cfg = e.configSource("  heartbeat_interval: 1s\n", "")
	}
	s := e.startStreamReady(cfg)
	ep := endpoint{t: t, base: "http://" + <-s.addr}
	ep.waitStatus("/readyz", 200, "ready")
	w := e.startPacedWriter("kv", 5, 2*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	k.stop()
	time.Sleep(1500 * time.Millisecond) // acks that beat the stop may still be checkpointed
	ep.waitStatus("/readyz", 503, "kafka unreachable")
	if code, body := ep.get("/healthz"); code != 200 {
		t.Errorf("/healthz during a broker outage: %d %s (restarting fluxo would not help)", code, body)
	}
	frozen := e.checkpointOf(cfg)
	before := w.progress()
	for range 7 { // 2 s of writes Kafka cannot acknowledge
		time.Sleep(300 * time.Millisecond)
		if cp := e.checkpointOf(cfg); !sameCheckpoint(cp, frozen) {
			t.Fatalf("checkpoint moved while the broker was down: %s -> %s", describeCP(frozen), describeCP(cp))
		}
		e.slotNotPast(cfg, frozen)
	}
	if w.progress() == before {
		t.Fatal("the writer committed nothing during the outage")
	}
	if exited, err := s.exited(); exited {
		t.Fatalf("stream exited during the broker outage: %v", err)
	}
	if age := ep.metrics().value("fluxo_checkpoint_age_seconds"); age < 1 {
		t.Errorf("fluxo_checkpoint_age_seconds = %v after 2 s of unacknowledged writes", age)
	}
	k.start()
	back := time.Now()
	e.waitCheckpointPast(cfg, frozen, 20*time.Second)
	ep.waitStatus("/readyz", 200, "ready")
	if n := ep.metrics().value("fluxo_reconnects_total", "component", "kafka"); n < 1 {
		t.Errorf("fluxo_reconnects_total{component=kafka} = %v after the outage", n)
	}
	t.Logf("checkpoint moved again %s after the broker came back", time.Since(back).Round(time.Millisecond))
	w.finish(t)
	recs := e.drain(e.topic("kv"), 2*time.Second)
	if err := s.stop(); err != nil {
		t.Fatalf("stream after the broker outage: %v", err)
	}
	compareState(t, replay(recs), e.tableState("kv"))
}

// findKey returns the last record of recs whose key id is id.
func findKey(recs []record, id int64) *record {
	var found *record
	for i := range recs {
		if recs[i].Key != nil && toInt64(recs[i].Key["id"]) == id {
			found = &recs[i]
		}
	}
	return found
}

// wantMention fails unless err mentions every part.
func wantMention(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

// insertRows inserts rows from..to (id, v, s) into table.
func (e *env) insertRows(table string, from, to int) {
	e.t.Helper()
	var vals []string
	for i := from; i <= to; i++ {
		vals = append(vals, fmt.Sprintf("(%d, %d, 'r%d')", i, i%7, i))
	}
	e.exec("INSERT INTO " + table + " VALUES " + strings.Join(vals, ", "))
}

// exited reports whether the stream ended by itself, and with what error,
// without waiting.
func (s *streamer) exited() (bool, error) {
	if s.stopped {
		return true, s.err
	}
	select {
	case err := <-s.done:
		s.stopped, s.err = true, err
		return true, err
	default:
		return false, nil
	}
}

// waitExit waits for the stream to end by itself and returns its error;
// it fails the test when the stream still runs after d.
func (s *streamer) waitExit(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.stopped, s.err = true, err
		return err
	case <-time.After(d):
		t.Fatalf("the stream did not stop by itself within %s", d)
		return nil
	}
}

// progress returns how many transactions the writer ended so far.
func (w *writer) progress() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.commits
}

// checkpointOf loads cfg's checkpoint (nil when none was saved).
func (e *env) checkpointOf(cfg *config.Config) *checkpoint.Checkpoint {
	e.t.Helper()
	cp, err := checkpoint.NewFile(cfg.Checkpoint.Path, cfg.Name).Load(context.Background())
	if err != nil {
		e.t.Fatalf("load checkpoint: %v", err)
	}
	return cp
}

// waitCheckpointPast waits until the checkpoint differs from old.
func (e *env) waitCheckpointPast(cfg *config.Config, old *checkpoint.Checkpoint, d time.Duration) {
	e.t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if !sameCheckpoint(e.checkpointOf(cfg), old) {
			return
		}
	}
	e.t.Fatalf("the checkpoint stayed at %s for %s after the fault ended", describeCP(old), d)
}

// slotNotPast fails when PostgreSQL's slot was confirmed beyond the
// checkpoint cp: a crash would then lose the changes in between.
func (e *env) slotNotPast(cfg *config.Config, cp *checkpoint.Checkpoint) {
	e.t.Helper()
	if e.pg == nil {
		return
	}
	pos, err := postgres.ParsePosition(cp.Position)
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := e.pg.QueryValue(context.Background(), "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '"+cfg.Source.Slot+"'")
	if err != nil {
		e.t.Fatal(err)
	}
	confirmed, err := pglogrepl.ParseLSN(v)
	if err != nil {
		e.t.Fatalf("slot position %q: %v", v, err)
	}
	if confirmed > pos.LSN {
		e.t.Fatalf("slot %s confirmed up to %s, past the checkpoint %s", cfg.Source.Slot, confirmed, pos.LSN)
	}
}

func sameCheckpoint(a, b *checkpoint.Checkpoint) bool {
	if a == nil || b == nil {
		return a == b
	}
	return bytes.Equal(a.Position, b.Position)
}

func describeCP(cp *checkpoint.Checkpoint) string {
	if cp == nil {
		return "none"
	}
	return cp.Describe
}

// kafkaHandle is a kfake cluster that keeps its data on disk across stop
// and start, on the same address: to a client it is a broker going down
// (connections closed, then refused) and coming back with its log intact.
type kafkaHandle struct {
	t     *testing.T
	e     *env
	dir   string
	addrs []string
}

// restartableKafka replaces the env's broker with a restartable one; call
// it before e.config.
func (e *env) restartableKafka() *kafkaHandle {
	e.t.Helper()
	k := &kafkaHandle{t: e.t, e: e, dir: e.t.TempDir()}
	e.kafka, e.brokers = testserver.KafkaT(e.t, kfake.DataDir(k.dir))
	return k
}

func (k *kafkaHandle) stop() { k.addrs = testserver.StopKafka(k.e.kafka) }

func (k *kafkaHandle) start() {
	k.t.Helper()
	var c *kfake.Cluster
	var err error
	for range 50 { // the port may take a moment to be free again
		if c, err = testserver.RestartKafka(k.addrs, kfake.DataDir(k.dir)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		k.t.Fatalf("restart kafka: %v", err)
	}
	k.t.Cleanup(c.Close)
	k.e.kafka = c
}
