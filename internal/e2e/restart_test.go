package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/checkpoint"
)

// creates counts the create/read records per id: more than one means the
// snapshot and the stream overlapped.
func creates(recs []record) map[int64]int {
	n := map[int64]int{}
	for _, r := range recs {
		if r.Value != nil && (r.Value["op"] == "c" || r.Value["op"] == "r") {
			n[toInt64(r.Key["id"])]++
		}
	}
	return n
}

// TestSnapshotWithConcurrentWrites starts the stream while a writer commits,
// with each snapshot mode: the snapshot and the binlog must join with no gap
// (the replayed topic equals the table). The consistent snapshot also has no
// overlap (no row is created twice); the incremental one, whose chunks
// interleave with the stream, reads rows the stream already created (as
// Debezium's does) but its reads never win over a newer change, and are all
// marked incremental.
func TestSnapshotWithConcurrentWrites(t *testing.T) {
	for _, mode := range []string{"initial", "initial_consistent"} {
		t.Run(mode, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) { testSnapshotWithConcurrentWrites(t, e, mode) })
		})
	}
}

func testSnapshotWithConcurrentWrites(t *testing.T, e *env, mode string) {
	e.seedKV()
	w := e.startWriter("kv", 1)
	time.Sleep(300 * time.Millisecond)
	s := e.startStream(e.config("snapshot:\n  mode: " + mode + "\n  chunk_rows: 64\n"))
	time.Sleep(2 * time.Second)
	w.finish(t)
	recs := e.drain(e.topic("kv"), 3*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	compareState(t, replay(recs), e.tableState("kv"))
	if mode == "initial" {
		checkIncrementalReads(t, recs, nil)
		return
	}
	for id, n := range creates(recs) {
		if n > 1 {
			t.Errorf("id %d created %d times", id, n)
		}
	}
}

// TestRestartFromCheckpoint stops the stream cleanly while a writer keeps
// committing, restarts it, and proves nothing was lost.
func TestRestartFromCheckpoint(t *testing.T) {
	forEachBackend(t, testRestartFromCheckpoint)
}

func testRestartFromCheckpoint(t *testing.T, e *env) {
	e.seedKV()
	cfg := e.config("")
	s := e.startStream(cfg)
	e.consume(e.topic("kv"), 200, 30*time.Second)
	w := e.startWriter("kv", 2)
	time.Sleep(time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.NewFile(cfg.Checkpoint.Path, cfg.Name).Load(context.Background())
	if err != nil || cp == nil {
		t.Fatalf("no checkpoint after a clean stop: %v", err)
	}
	time.Sleep(time.Second) // changes while fluxo is down
	s = e.startStream(cfg)
	time.Sleep(time.Second)
	w.finish(t)
	recs := e.drain(e.topic("kv"), 3*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	compareState(t, replay(recs), e.tableState("kv"))
}

// fluxoBinary builds cmd/fluxo once per test binary.
var fluxoBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "fluxo-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "fluxo")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/fluxo-cdc/fluxo/cmd/fluxo").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (b *buildError) Error() string { return b.err.Error() + ": " + b.out }

// TestKillAtRandomPoints SIGKILLs a real fluxo process at random instants
// while a writer commits, restarts it each time, and proves that replaying
// the topic equals the table: no change is lost.
func TestKillAtRandomPoints(t *testing.T) {
	forEachBackend(t, testKillAtRandomPoints)
}

func testKillAtRandomPoints(t *testing.T, e *env) {
	bin, err := fluxoBinary()
	if err != nil {
		t.Fatal(err)
	}
	e.seedKV()
	cfg := e.config("")
	cfgPath := filepath.Join(e.dir, "fluxo.yaml")
	w := e.startWriter("kv", 3)
	rng := newRand(t)
	kills := 6
	if testing.Short() {
		kills = 2
	}
	for i := 0; i < kills; i++ {
		cmd := e.fluxoProcess(bin, cfgPath)
		time.Sleep(time.Duration(150+rng.IntN(2000)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	w.finish(t)
	cmd := e.fluxoProcess(bin, cfgPath)
	recs := e.drain(e.topic("kv"), 4*time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("fluxo after SIGTERM: %v (want exit 0)", err)
	}
	if _, err := os.Stat(cfg.Checkpoint.Path); err != nil {
		t.Fatalf("no checkpoint: %v", err)
	}
	if v := e.subjectVersions(e.topic("kv") + "-key"); len(v) != 1 {
		t.Errorf("key subject has versions %v: a new key schema id moves keys to other partitions", v)
	}
	compareState(t, replay(recs), e.tableState("kv"))
}

// forEachBackend runs test against MariaDB and PostgreSQL, each in a
// fresh environment.
func forEachBackend(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("mariadb", func(t *testing.T) { test(t, newEnv(t)) })
	t.Run("postgres", func(t *testing.T) { test(t, newPGEnv(t)) })
}

func (e *env) fluxoProcess(bin, cfgPath string) *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command(bin, "stream", "-c", cfgPath, "--log-format", "text", "--log-level", "warn")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		cmd.Process.Kill()
		if s := strings.TrimSpace(out.String()); s != "" {
			e.t.Logf("fluxo output:\n%s", s)
		}
	})
	return cmd
}
