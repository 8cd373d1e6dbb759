package checkpoint

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// startKafka starts an in-process broker for a test.
func startKafka(t *testing.T) []kgo.Opt {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
}

// TestKafkaContract runs the Store contract on the Kafka store.
func TestKafkaContract(t *testing.T) {
	runStoreContract(t, func(t *testing.T) func(string) Store {
		opts := startKafka(t)
		return func(name string) Store {
			k := NewKafka(opts, DefaultTopic, name)
			t.Cleanup(k.Close)
			return k
		}
	})
}

// TestKafka: the store creates its topic compacted with one partition,
// refuses an existing topic that is not compacted (saying how to fix it),
// and tombstones the parts a checkpoint no longer references.
func TestKafka(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := startKafka(t)
	k := NewKafka(opts, DefaultTopic, "shop")
	defer k.Close()
	for i, pos := range [][]byte{positionLike(200, "0-1-1", 1), positionLike(100, "0-1-2", 2)} {
		if err := k.Save(ctx, &Checkpoint{Name: "shop", Position: pos, SavedAt: time.Unix(int64(i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	cfgs, err := adm.DescribeTopicConfigs(ctx, DefaultTopic)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := cfgs.On(DefaultTopic, nil)
	policy := ""
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil {
			policy = *c.Value
		}
	}
	if policy != "compact" {
		t.Fatalf("the topic's cleanup.policy is %q, want compact", policy)
	}
	records, err := k.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, parts, _ := split(positionLike(100, "0-1-2", 2))
	if len(records) != len(parts)+1 {
		t.Fatalf("%d live keys in the topic, want the head and its %d parts", len(records), len(parts))
	}

	if _, err := adm.CreateTopic(ctx, 1, -1, nil, "deleting"); err != nil {
		t.Fatal(err)
	}
	err = NewKafka(opts, "deleting", "shop").Save(ctx, &Checkpoint{Name: "shop", Position: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "cleanup.policy=compact") {
		t.Fatalf("Save to a topic that is not compacted: %v", err)
	}
}

// TestKafkaLoadAfterTransaction: a topic whose last record is a
// transaction's commit marker (other producers, or fluxo with
// transactions) is read to its end, not waited on forever.
func TestKafkaLoadAfterTransaction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := startKafka(t)
	k := NewKafka(opts, DefaultTopic, "shop")
	defer k.Close()
	if err := k.Save(ctx, &Checkpoint{Name: "shop", Position: []byte(`{"pos":1}`)}); err != nil {
		t.Fatal(err)
	}
	tx, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...), kgo.TransactionalID("other"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, &kgo.Record{Topic: DefaultTopic, Key: []byte("other"), Value: []byte("{}")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	cp, err := NewKafka(opts, DefaultTopic, "shop").Load(ctx)
	if err != nil || cp == nil || string(cp.Position) != `{"pos":1}` {
		t.Fatalf("Load after a transaction = %+v, %v", cp, err)
	}
}

// TestKafkaRecordsInTransaction: the records of a checkpoint committed in
// a Kafka transaction load as that checkpoint; those of an aborted one are
// never seen, and the next commit still references only parts that are
// there.
func TestKafkaRecordsInTransaction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := startKafka(t)
	k := NewKafka(opts, DefaultTopic, "shop")
	defer k.Close()
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Load(ctx); err != nil {
		t.Fatal(err)
	}
	tx, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...), kgo.TransactionalID("fluxo-shop"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	commit := func(pos []byte, abort bool) {
		t.Helper()
		recs, done, err := k.Records(&Checkpoint{Name: "shop", Position: pos})
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := tx.ProduceSync(ctx, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		end := kgo.TryCommit
		if abort {
			end = kgo.TryAbort
		}
		if err := tx.EndTransaction(ctx, end); err != nil {
			t.Fatal(err)
		}
		if !abort {
			done()
		}
	}
	first, second, third := positionLike(200, "0-1-1", 1), positionLike(300, "0-1-2", 2), positionLike(200, "0-1-3", 3)
	commit(first, false)
	commit(second, true)
	check := func(want []byte) {
		t.Helper()
		cp, err := NewKafka(opts, DefaultTopic, "shop").Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(cp.Position, want) {
			t.Fatalf("Load returned another position (%d bytes, want %d)", len(cp.Position), len(want))
		}
	}
	check(first) // the aborted second is not seen
	commit(third, false)
	check(third)
}

// TestKafkaRefused: a principal without ACLs on the checkpoint topic gets
// an error that names the ACLs, and a store on a topic that is not
// compacted one that names the topic config.
func TestKafkaRefused(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin"), kfake.User("PLAIN", "fluxo", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	as := func(user, pass string) []kgo.Opt {
		return []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())}
	}
	k := NewKafka(as("fluxo", "pw"), DefaultTopic, "shop")
	if err := k.Save(ctx, &Checkpoint{Position: []byte(`"p"`)}); err == nil || !strings.Contains(err.Error(), "grant fluxo's principal READ, WRITE, DESCRIBE and DESCRIBE_CONFIGS on topic _fluxo_checkpoints") {
		t.Fatalf("Save without ACLs = %v, want the ACLs named", err)
	}
	adm, err := kgo.NewClient(as("admin", "admin")...)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	del := "delete"
	if _, err := kadm.NewClient(adm).CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &del}, "plain"); err != nil {
		t.Fatal(err)
	}
	if err := NewKafka(as("admin", "admin"), "plain", "shop").Ensure(ctx); err == nil || !strings.Contains(err.Error(), "--add-config cleanup.policy=compact") {
		t.Fatalf("Ensure on a topic that is not compacted = %v, want the fix named", err)
	}
}
