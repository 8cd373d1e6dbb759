package checkpoint

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	if a.By() != "pid 200" {
		t.Fatalf("lost to %q, want pid 200", a.By())
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

// TestLeaseTakeover runs testLeaseTakeover on the stores that implement
// Exclusive (the Kafka store will, with transactions' fencing).
func TestLeaseTakeover(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "shop.checkpoint")
		testLeaseTakeover(t, func() Exclusive { return NewFile(path, "shop") })
	})
}
