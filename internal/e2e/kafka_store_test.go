package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/checkpoint"
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// TestKafkaCheckpointStore: with checkpoint.store kafka, a stream killed
// with SIGKILL at random points under a writer resumes from the checkpoint
// it keeps in the compacted topic, never a file: the topic, as the
// independent reader decodes it, replays to the table; fluxo status reads
// the checkpoint from the topic.
func TestKafkaCheckpointStore(t *testing.T) {
	forEachBackend(t, testKafkaCheckpointStore)
}

func testKafkaCheckpointStore(t *testing.T, e *env) {
	bin, err := fluxoBinary()
	if err != nil {
		t.Fatal(err)
	}
	e.seedKV()
	cfg, cfgPath := e.kafkaStoreConfig()
	w := e.startWriter("kv", 3)
	rng := newRand(t)
	store := checkpoint.NewKafka([]kgo.Opt{kgo.SeedBrokers(e.brokers...)}, "_fluxo_checkpoints", cfg.Name)
	for i := range 3 {
		cmd := e.fluxoProcess(bin, cfgPath)
		time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		// What the next start resumes from: it must be there.
		if cp, err := store.Load(context.Background()); err != nil || cp == nil {
			t.Fatalf("after kill %d, no checkpoint in the topic: %v", i+1, err)
		}
	}
	w.finish(t)
	cmd := e.fluxoProcess(bin, cfgPath)
	recs := e.drain(e.topic("kv"), 4*time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("fluxo after SIGTERM: %v (want exit 0)", err)
	}
	if _, err := os.Stat(cfg.Checkpoint.Path); err == nil {
		t.Errorf("the kafka store wrote the checkpoint file %s", cfg.Checkpoint.Path)
	}
	cp, err := store.Load(context.Background())
	if err != nil || cp == nil {
		t.Fatalf("no checkpoint in the topic: %v", err)
	}
	out, err := exec.Command(bin, "status", "-c", cfgPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "topic _fluxo_checkpoints") || !strings.Contains(string(out), cp.Describe) {
		t.Errorf("fluxo status: %v\n%s", err, out)
	}
	compareState(t, replay(recs), e.tableState("kv"))
}

// kafkaStoreConfig writes a config whose checkpoint store is kafka.
func (e *env) kafkaStoreConfig() (*config.Config, string) {
	e.t.Helper()
	e.config("")
	path := filepath.Join(e.dir, "fluxo.yaml")
	y, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	y = []byte(strings.Replace(string(y), "checkpoint:\n", "checkpoint:\n  store: kafka\n", 1))
	if err := os.WriteFile(path, y, 0o644); err != nil {
		e.t.Fatal(err)
	}
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg, path
}

// TestCheckKafkaStore: fluxo check with the kafka store says the topic
// will be created, creates nothing, says it is compacted once it exists,
// and fails, with the command that fixes it, on a topic that is not.
func TestCheckKafkaStore(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t1 (id INT PRIMARY KEY)")
	cfg, _ := e.kafkaStoreConfig()
	r := runCheck(t, cfg)
	r.want("checkpoint.topic", cdc.CheckOK, "does not exist yet; fluxo stream creates it")
	r.want("checkpoint", cdc.CheckOK, "none saved in topic _fluxo_checkpoints, key t")
	store := checkpoint.NewKafka([]kgo.Opt{kgo.SeedBrokers(e.brokers...)}, cfg.Checkpoint.Topic, cfg.Name)
	if exists, err := store.Check(context.Background()); exists || err != nil {
		t.Fatalf("fluxo check created the topic (%v, %v)", exists, err)
	}
	if err := store.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	runCheck(t, cfg).want("checkpoint.topic", cdc.CheckOK, "_fluxo_checkpoints is compacted")

	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, -1, nil, "by_age"); err != nil {
		t.Fatal(err)
	}
	cfg.Checkpoint.Topic = "by_age"
	runCheck(t, cfg).want("checkpoint.topic", cdc.CheckFail, "cleanup.policy=compact")
}

// TestTakeover: two more processes started together with the same config
// while the first streams under a writer take over: all but one stop with
// an error saying so, each after saving its checkpoint, and the last goes
// on from it. In every partition the records of one process all come
// before the next's (their producer ids never interleave), and the topic
// replays to the table. With the file store (its lock) and the kafka store
// without transactions (its lease).
func TestTakeover(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) { testTakeover(t, e, false) })
}

// TestTakeoverKafkaStore is TestTakeover with the kafka store.
func TestTakeoverKafkaStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) { testTakeover(t, e, true) })
}

func testTakeover(t *testing.T, e *env, kafkaStore bool) {
	bin, err := fluxoBinary()
	if err != nil {
		t.Fatal(err)
	}
	e.seedKV()
	cfg := e.config("")
	cfgPath := filepath.Join(e.dir, "fluxo.yaml")
	if kafkaStore {
		cfg, cfgPath = e.kafkaStoreConfig()
	}
	w := e.startWriter("kv", 3)
	first := e.fluxoProcess(bin, cfgPath)
	e.consume(e.topic("kv"), 200, 30*time.Second)
	second, third := e.fluxoProcess(bin, cfgPath), e.fluxoProcess(bin, cfgPath)
	stop := survivor(t, first, second, third)
	w.finish(t)
	recs := e.drain(e.topic("kv"), 4*time.Second)
	if err := stop(); err != nil {
		t.Errorf("the last process after SIGTERM: %v (want exit 0)", err)
	}
	compareState(t, replay(recs), e.tableState("kv"))
	checkProducersInOrder(t, e, e.topic("kv"))
	if _, err := os.Stat(cfg.Checkpoint.Path); err != nil != kafkaStore {
		t.Fatalf("checkpoint file %s: %v", cfg.Checkpoint.Path, err)
	}
}

// checkProducersInOrder fails t when, in a partition of topic, records of
// a producer follow those of a later one.
func checkProducersInOrder(t *testing.T, e *env, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[int32][]int64{} // producer ids per partition, in order of appearance
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			ids := seen[r.Partition]
			if n := len(ids); n == 0 || ids[n-1] != r.ProducerID {
				for _, id := range ids {
					if id == r.ProducerID {
						t.Errorf("partition %d: producer %d writes again at offset %d after producer %d", r.Partition, id, r.Offset, ids[n-1])
					}
				}
				seen[r.Partition] = append(ids, r.ProducerID)
			}
		})
	}
	t.Logf("producers per partition: %v", seen)
}
