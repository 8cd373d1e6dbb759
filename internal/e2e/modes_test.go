package e2e

import (
	"context"
	"fmt"
	"github.com/fluxo-cdc/fluxo/internal/command"
	"testing"
	"time"
)

// TestSnapshotModes covers snapshot.mode never (no reads, only changes after
// the start) and initial_only (reads, then a clean exit).
func TestSnapshotModes(t *testing.T) {
	t.Run("never", func(t *testing.T) {
		e := newEnv(t)
		e.exec("CREATE TABLE m (id INT PRIMARY KEY)")
		e.exec("INSERT INTO m VALUES (1), (2)")
		s := e.startStreamReady(e.config("snapshot:\n  mode: never\n"))
		e.exec("INSERT INTO m VALUES (3)")
		recs := e.consume("fx."+e.dbName+".m", 1, 30*time.Second)
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Value["op"] != "c" || toInt64(recs[0].Key["id"]) != 3 {
			t.Fatalf("got %v, want only the create of id 3", describeAll(recs))
		}
	})
	t.Run("initial_only", func(t *testing.T) {
		e := newEnv(t)
		e.exec("CREATE TABLE m (id INT PRIMARY KEY)")
		e.exec("INSERT INTO m VALUES (1), (2)")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := command.Stream(ctx, e.config("snapshot:\n  mode: initial_only\n"), command.StreamOptions{}, discardLog()); err != nil {
			t.Fatalf("initial_only: %v", err)
		}
		if ctx.Err() != nil {
			t.Fatal("initial_only did not exit by itself")
		}
		recs := e.consumeUntilQuiet("fx."+e.dbName+".m", 2*time.Second)
		if len(recs) != 2 {
			t.Fatalf("got %v, want two reads", describeAll(recs))
		}
		for _, r := range recs {
			if r.Value["op"] != "r" {
				t.Errorf("op %v, want r", r.Value["op"])
			}
		}
	})
}

// TestServerRestart restarts MariaDB under a running stream: fluxo
// reconnects with backoff, keeps its position and loses nothing.
func TestServerRestart(t *testing.T) {
	forEachBackend(t, testServerRestart)
}

func testServerRestart(t *testing.T, e *env) {
	e.seedKV()
	s := e.startStreamReady(e.config(""))
	e.exec("INSERT INTO kv VALUES (1001, 1, 'before')")
	kill, start := e.server()
	kill()
	time.Sleep(500 * time.Millisecond)
	if err := start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		e.exec(fmt.Sprintf("INSERT INTO kv VALUES (%d, %d, 'after')", 2000+i, i))
	}
	e.exec("UPDATE kv SET s = 'changed' WHERE id <= 10")
	recs := e.drain(e.topic("kv"), 12*time.Second)
	if err := s.stop(); err != nil {
		t.Fatalf("stream after the restart: %v", err)
	}
	compareState(t, replay(recs), e.tableState("kv"))
}
