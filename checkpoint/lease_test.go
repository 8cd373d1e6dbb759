package checkpoint

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFileLease: a second process of the stream takes over: the first's
// lease is lost, naming the second, and the second gets the stream only
// once the first let go; a stale takeover request does not make a new
// holder stop; a holder that does not stop makes the second fail when its
// wait ends, naming the holder.
func TestFileLease(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state", "shop.checkpoint")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".takeover", []byte("pid 1 (gone)"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := NewFile(path, "shop").Acquire(ctx, "pid 100", func(string) { t.Error("the first process waited") })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Lost():
		t.Fatal("a stale takeover request made the new holder stop")
	case <-time.After(5 * takeoverPoll):
	}

	got := make(chan Lease, 1)
	waitedFor := make(chan string, 1)
	go func() {
		b, err := NewFile(path, "shop").Acquire(ctx, "pid 200", func(cur string) { waitedFor <- cur })
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	if cur := <-waitedFor; cur != "pid 100" {
		t.Fatalf("the second process waited for %q, want pid 100", cur)
	}
	select {
	case <-a.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("the first process was not asked to stop")
	}
	if err := a.Err(); !errors.Is(err, ErrTakenOver) || !strings.Contains(err.Error(), "(pid 200)") {
		t.Fatalf("lost with %v, want taken over by pid 200", err)
	}
	select {
	case <-got:
		t.Fatal("the second process got the stream before the first let go")
	case <-time.After(5 * takeoverPoll):
	}
	a.Release()
	b := <-got
	defer b.Release()
	select {
	case <-b.Lost():
		t.Fatal("the new holder lost the stream to its own request")
	case <-time.After(5 * takeoverPoll):
	}

	wctx, cancel := context.WithTimeout(ctx, 3*takeoverPoll)
	defer cancel()
	_, err = NewFile(path, "shop").Acquire(wctx, "pid 300", func(string) {})
	if err == nil || !strings.Contains(err.Error(), "held by pid 200") {
		t.Fatalf("a wait that ended: %v", err)
	}
}

// testLeaseTakeover: a second process of the stream takes over: the
// first's lease is lost and the second gets the stream only once the
// first let go, and then keeps it.
func testLeaseTakeover(t *testing.T, open func() Exclusive) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := open().Acquire(ctx, "pid 100", func(string) { t.Error("the first process waited") })
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Lease, 1)
	go func() {
		b, err := open().Acquire(ctx, "pid 200", func(string) {})
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	select {
	case <-a.Lost():
	case <-time.After(30 * time.Second):
		t.Fatal("the first process was not asked to stop")
	}
	select {
	case <-got:
		t.Fatal("the second process got the stream before the first let go")
	case <-time.After(time.Second):
	}
	a.Release()
	var b Lease
	select {
	case b = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the second process did not get the stream once the first let go")
	}
	if b == nil {
		t.FailNow()
	}
	defer b.Release()
	select {
	case <-b.Lost():
		t.Fatal("the new holder lost the stream")
	case <-time.After(time.Second):
	}
}

// testLeaseTogether: two processes that ask for a held stream at once:
// the holder lets go, and from then on at most one holds the stream at any
// moment, and in the end one does.
func testLeaseTogether(t *testing.T, open func() Exclusive) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	holding, most := 0, 0
	var wg sync.WaitGroup
	hold := func(holder string) {
		defer wg.Done()
		l, err := open().Acquire(ctx, holder, func(string) {})
		if err != nil {
			if !errors.Is(err, ErrTakenOver) {
				t.Errorf("%s: %v", holder, err)
			}
			return
		}
		mu.Lock()
		holding++
		most = max(most, holding)
		mu.Unlock()
		select {
		case <-l.Lost():
		case <-ctx.Done():
		}
		mu.Lock()
		holding--
		mu.Unlock()
		l.Release()
	}
	wg.Add(3)
	go hold("pid 100")
	time.Sleep(time.Second)
	go hold("pid 200")
	go hold("pid 300")
	time.Sleep(5 * time.Second)
	mu.Lock()
	n, m := holding, most
	mu.Unlock()
	if m > 1 || n != 1 {
		t.Fatalf("at most %d processes held the stream at once, and %d holds it in the end; want 1 and 1", m, n)
	}
	cancel()
	wg.Wait()
}

// TestLeaseTakeover runs the lease cases on the stores that implement
// Exclusive.
func TestLeaseTakeover(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "shop.checkpoint")
		testLeaseTakeover(t, func() Exclusive { return NewFile(path, "shop") })
	})
	t.Run("file, two at once", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "shop.checkpoint")
		testLeaseTogether(t, func() Exclusive { return NewFile(path, "shop") })
	})
	open := func(t *testing.T) func() Exclusive {
		opts := startKafka(t)
		return func() Exclusive {
			k := NewKafka(opts, DefaultTopic, "shop")
			k.LeaseTimeout = 2 * time.Second
			return k
		}
	}
	t.Run("kafka", func(t *testing.T) { testLeaseTakeover(t, open(t)) })
	t.Run("kafka, two at once", func(t *testing.T) { testLeaseTogether(t, open(t)) })
}

// TestKafkaLeaseSilentHolder: a holder that stopped renewing is waited for
// LeaseTimeout, unless it ran on this host and its process is gone; a
// holder that cannot reach the brokers loses its lease as expired.
func TestKafkaLeaseSilentHolder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	open := func(timeout time.Duration) *Kafka {
		k := NewKafka(opts, DefaultTopic, "shop")
		k.LeaseTimeout = timeout
		return k
	}
	crash := func(o owner) { // a holder that died without letting go
		k := open(time.Second)
		if err := k.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if _, err := k.put(ctx, cl, holdSuffix, o); err != nil {
			t.Fatal(err)
		}
	}
	host, _ := os.Hostname()

	crash(owner{ID: "a", Holder: "pid 1 on elsewhere", Host: "elsewhere", PID: 1})
	start := time.Now()
	l, err := open(2*time.Second).Acquire(ctx, "pid 200", func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Fatalf("took the stream of a holder on another host after %v, before the lease timeout", d)
	}
	l.Release()

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	crash(owner{ID: "b", Holder: "a process gone", Host: host, PID: dead.Process.Pid})
	start = time.Now()
	l, err = open(time.Minute).Acquire(ctx, "pid 300", func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("waited %v for a holder of this host whose process is gone", d)
	}
	l.Release()

	if l, err = open(2*time.Second).Acquire(ctx, "pid 400", func(string) { t.Error("waited for a holder that let go") }); err != nil {
		t.Fatal(err)
	}
	c.Close() // the brokers become unreachable: the hold cannot be renewed
	select {
	case <-l.Lost():
		if err := l.Err(); !errors.Is(err, ErrLeaseExpired) {
			t.Fatalf("lost with %v, want ErrLeaseExpired", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a holder that could not renew kept its lease")
	}
	l.Release()
}
