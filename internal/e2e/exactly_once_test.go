package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// TestExactlyOnce: with kafka.transactions, a stream SIGKILLed three times
// at random points while a writer increments counters, one or two per
// source transaction, delivers to a read_committed reader (librdkafka, the
// independent reader) every change exactly once: for every key, the
// values its records carry are 0, 1, 2, ... up to the table's, with no
// repeat and no gap.
func TestExactlyOnce(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	forEachBackend(t, func(t *testing.T, e *env) { testExactlyOnce(t, e, killThrice) })
}

// TestExactlyOnceTakeover: two more processes started together while the
// first streams in transactions fence it and each other: all but one stop
// saying that another took over, and the read_committed reader still sees
// every change once.
func TestExactlyOnceTakeover(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	forEachBackend(t, func(t *testing.T, e *env) { testExactlyOnce(t, e, takeOver) })
}

// TestExactlyOnceBrokerRestart: the broker stops for 3 s and restarts
// (from its data directory) while a transactional stream runs under the
// writer: the stream rides it out, and the read_committed reader still
// sees every change once.
func TestExactlyOnceBrokerRestart(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		k := e.restartableKafka()
		testExactlyOnce(t, e, func(t *testing.T, e *env, _, _ string, cmd *exec.Cmd) func() error {
			time.Sleep(time.Second)
			k.stop()
			time.Sleep(3 * time.Second)
			k.start()
			time.Sleep(3 * time.Second)
			return func() error { cmd.Process.Signal(syscall.SIGTERM); return cmd.Wait() }
		})
	})
}

// TestExactlyOnceRegistryOutage: the schema registry goes away for 3 s
// while a transactional stream runs under the writer, and a column is
// added meanwhile, so that the stream waits on the registry in the middle
// of a Kafka transaction: it rides the outage out, and the read_committed
// reader still sees every change once.
func TestExactlyOnceRegistryOutage(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		reg := e.restartableRegistry()
		testExactlyOnce(t, e, func(t *testing.T, e *env, _, _ string, cmd *exec.Cmd) func() error {
			time.Sleep(time.Second)
			reg.stop()
			e.exec("ALTER TABLE ctr ADD COLUMN note VARCHAR(10)")
			time.Sleep(3 * time.Second)
			reg.start()
			time.Sleep(2 * time.Second)
			return func() error { cmd.Process.Signal(syscall.SIGTERM); return cmd.Wait() }
		})
	})
}

// killThrice SIGKILLs the stream three times at random points, starting
// it again each time, and returns the running one's stop.
func killThrice(t *testing.T, e *env, bin, cfgPath string, cmd *exec.Cmd) (stop func() error) {
	rng := newRand(t)
	for range 3 {
		time.Sleep(time.Duration(300+rng.IntN(1500)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		cmd = e.fluxoProcess(bin, cfgPath)
	}
	return func() error { cmd.Process.Signal(syscall.SIGTERM); return cmd.Wait() }
}

// takeOver starts two more streams of the same config at once and checks
// that all but one of the three stop with an error; it returns the
// survivor's stop.
func takeOver(t *testing.T, e *env, bin, cfgPath string, first *exec.Cmd) (stop func() error) {
	time.Sleep(time.Second)
	second, third := e.fluxoProcess(bin, cfgPath), e.fluxoProcess(bin, cfgPath)
	return survivor(t, first, second, third)
}

// survivor waits until all but one of cmds exited with an error (another
// process of their stream took over), fails t unless that happens within
// 90 s and the last one then keeps running, and returns the last one's
// stop: SIGTERM, then its exit. (With transactions on PostgreSQL, a
// process fenced before it produced anything may wait for the slot that
// the winner holds until its wait ends, a minute, and then exits.)
func survivor(t *testing.T, cmds ...*exec.Cmd) (stop func() error) {
	t.Helper()
	type exit struct {
		i   int
		err error
	}
	exits := make(chan exit, len(cmds))
	for i, c := range cmds {
		go func() { exits <- exit{i, c.Wait()} }()
	}
	gone := map[int]bool{}
	deadline := time.After(90 * time.Second)
	for len(gone) < len(cmds)-1 {
		select {
		case x := <-exits:
			if x.err == nil {
				t.Fatalf("process %d of %d exited 0, want an error saying another took over", x.i+1, len(cmds))
			}
			gone[x.i] = true
		case <-deadline:
			t.Fatalf("%d of %d processes of one stream still run after 90 s", len(cmds)-len(gone), len(cmds))
		}
	}
	select {
	case x := <-exits:
		t.Fatalf("the last of %d processes exited too: %v", len(cmds), x.err)
	case <-time.After(3 * time.Second):
	}
	for i, c := range cmds {
		if !gone[i] {
			return func() error {
				c.Process.Signal(syscall.SIGTERM)
				x := <-exits
				return x.err
			}
		}
	}
	return nil
}

func testExactlyOnce(t *testing.T, e *env, disrupt func(t *testing.T, e *env, bin, cfgPath string, cmd *exec.Cmd) (stop func() error)) {
	bin, err := fluxoBinary()
	if err != nil {
		t.Fatal(err)
	}
	const keys = 8
	e.exec("CREATE TABLE ctr (id INT PRIMARY KEY, v INT NOT NULL)")
	cfgPath := e.transactionalConfig()
	cmd := e.fluxoProcess(bin, cfgPath)
	time.Sleep(2 * time.Second) // streaming from the current position
	changes, stop := e.countWriter(keys)
	stopFluxo := disrupt(t, e, bin, cfgPath, cmd)
	time.Sleep(time.Second)
	n := stop()
	recs := pythonDecodeDrain(t, e, e.topic("ctr"), n, 2*time.Second) // and any duplicate beyond n
	if err := stopFluxo(); err != nil {
		t.Errorf("fluxo after SIGTERM: %v (want exit 0)", err)
	}
	got := map[int64][]int64{}
	for _, r := range recs {
		after, _ := r.Value["after"].(map[string]any)
		if after == nil {
			t.Fatalf("a record without after: %+v", r)
		}
		id := pyInt(t, r.Key["id"])
		got[id] = append(got[id], pyInt(t, after["v"]))
	}
	for id, seq := range got {
		for i, v := range seq {
			if v != int64(i) {
				t.Fatalf("key %d: values %v: at %d, %d instead of %d (a duplicate or a gap)", id, seq, i, v, i)
			}
		}
	}
	for id, last := range changes() {
		if seq := got[id]; int64(len(seq)) != last+1 {
			t.Fatalf("key %d: %d values, the table ends at %d", id, len(seq), last)
		}
	}
	t.Logf("%d changes of %d keys, each read once by a read_committed reader", n, keys)
}

// countWriter inserts keys counters at 0 and increments them, one or two
// per transaction, until stop, which returns the number of changes made;
// changes then returns each key's last value.
func (e *env) countWriter(keys int) (changes func() map[int64]int64, stop func() int) {
	c, closeConn := e.sqlConn()
	last := map[int64]int64{}
	var mu sync.Mutex
	n := 0
	for k := range keys {
		if err := c(fmt.Sprintf("INSERT INTO ctr VALUES (%d, 0)", k)); err != nil {
			e.t.Fatal(err)
		}
		last[int64(k)], n = 0, n+1
	}
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(3, 4))
		for {
			select {
			case <-quit:
				return
			default:
			}
			ids := []int64{rng.Int64N(int64(keys))}
			if rng.IntN(2) == 0 {
				if b := rng.Int64N(int64(keys)); b != ids[0] {
					ids = append(ids, b)
				}
			}
			err := c("BEGIN")
			for _, id := range ids {
				if err == nil {
					err = c(fmt.Sprintf("UPDATE ctr SET v = v + 1 WHERE id = %d", id))
				}
			}
			if err == nil {
				err = c("COMMIT")
			}
			if err != nil {
				e.t.Errorf("writer: %v", err)
				return
			}
			mu.Lock()
			for _, id := range ids {
				last[id]++
				n++
			}
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var once sync.Once
	stop = func() int {
		once.Do(func() {
			close(quit)
			<-done
			closeConn()
		})
		mu.Lock()
		defer mu.Unlock()
		return n
	}
	e.t.Cleanup(func() { stop() }) // a test that failed early stops its writer too
	return func() map[int64]int64 { mu.Lock(); defer mu.Unlock(); return last }, stop
}

// pyInt is an integer the python reader printed (JSON: a float64).
func pyInt(t *testing.T, v any) int64 {
	t.Helper()
	f, ok := v.(float64)
	if !ok || f != float64(int64(f)) {
		t.Fatalf("not an integer: %T %v", v, v)
	}
	return int64(f)
}

// TestCheckTransactions: fluxo check with kafka.transactions has a
// kafka.transactions line that passes on brokers that run transactions,
// without fencing a running stream's producer.
func TestCheckTransactions(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t1 (id INT PRIMARY KEY)")
	cfg, _ := e.kafkaStoreConfig()
	cfg.Kafka.Transactions = true
	runCheck(t, cfg).want("kafka.transactions", cdc.CheckOK, "the brokers run transactions; the stream's transactional id is fluxo-t")
}

// TestExactlyOnceLargeTransaction: a SIGTERM while the stream sends a
// source transaction of 131,072 rows, in Kafka transactions, commits
// nothing of it; the next start sends it whole: a read_committed reader
// finds every row once.
func TestExactlyOnceLargeTransaction(t *testing.T) {
	forEachBackend(t, testExactlyOnceLargeTransaction)
}

func testExactlyOnceLargeTransaction(t *testing.T, e *env) {
	bin, err := fluxoBinary()
	if err != nil {
		t.Fatal(err)
	}
	e.exec("CREATE TABLE big (id INT PRIMARY KEY, v INT NOT NULL)")
	cfgPath := e.transactionalConfig()
	cmd := e.fluxoProcess(bin, cfgPath)
	time.Sleep(2 * time.Second)
	c, closeConn := e.sqlConn()
	stmts := []string{"BEGIN", "INSERT INTO big VALUES (1, 0)"}
	for n := 1; n < 1<<17; n *= 2 {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO big SELECT id + %d, 0 FROM big", n))
	}
	for _, q := range append(stmts, "COMMIT") {
		if err := c(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	closeConn()
	time.Sleep(300 * time.Millisecond) // inside the stream's sending of it
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("fluxo after SIGTERM: %v (want exit 0)", err)
	}
	cmd = e.fluxoProcess(bin, cfgPath)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	seen := e.committedKeys(e.topic("big"), 1<<17, 20*time.Second)
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("row %d read %d times by read_committed", id, n)
		}
	}
	if len(seen) != 1<<17 {
		t.Fatalf("read_committed found %d rows, want %d", len(seen), 1<<17)
	}
}

// transactionalConfig writes a config with kafka.transactions, the kafka
// checkpoint store and snapshot.mode never, and returns its path.
func (e *env) transactionalConfig() string {
	e.t.Helper()
	e.kafkaStoreConfig()
	cfgPath := filepath.Join(e.dir, "fluxo.yaml")
	y, err := os.ReadFile(cfgPath)
	if err != nil {
		e.t.Fatal(err)
	}
	y = []byte(strings.Replace(string(y), "kafka:\n", "kafka:\n  transactions: true\n", 1) + "snapshot:\n  mode: never\n")
	if err := os.WriteFile(cfgPath, y, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return cfgPath
}

// committedKeys reads topic with read_committed until want records came
// (or timeout) and counts the records of each key id.
func (e *env) committedKeys(topic string, want int, timeout time.Duration) map[int64]int {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	seen := map[int64]int{}
	n := 0
	deadline := time.Now().Add(timeout)
	for n < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			n++
			seen[toInt64(e.decode(r.Key)["id"])]++
		})
		cancel()
	}
	// Anything more (a duplicate) arrives within a quiet second.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { seen[toInt64(e.decode(r.Key)["id"])]++ })
	cancel()
	return seen
}
