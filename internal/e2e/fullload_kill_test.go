package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hamba/avro/v2/ocf"
)

// TestFullloadKillAndResume SIGKILLs a real `fluxo fullload` at random
// instants, reruns it with the same --run-id each time, and proves that the
// completed run holds every row of every table exactly once: a table split
// in key ranges, one without a key (read whole, staged) and, on PostgreSQL,
// one with a text key (CTID pages, staged).
func TestFullloadKillAndResume(t *testing.T) {
	forEachBackend(t, testFullloadKillAndResume)
}

const killRows = 200_000

func testFullloadKillAndResume(t *testing.T, e *env) {
	bin, err := fluxoBinary()
	if err != nil {
		t.Fatal(err)
	}
	tables := []string{"ranged", "nokey"}
	pad := "REPEAT('x', 200)"
	if e.pg != nil {
		e.exec("CREATE TABLE ranged (id int8 PRIMARY KEY, s text NOT NULL)")
		e.exec("CREATE TABLE nokey (id int8 NOT NULL, s text NOT NULL)")
		e.exec("CREATE TABLE texty (id int8 NOT NULL, k text PRIMARY KEY, s text NOT NULL)")
		for _, tb := range []string{"ranged", "nokey"} {
			e.exec("INSERT INTO " + tb + " SELECT g, " + pad + " FROM generate_series(1, " + strconv.Itoa(killRows) + ") g")
		}
		e.exec("INSERT INTO texty SELECT g, 'k' || g, " + pad + " FROM generate_series(1, " + strconv.Itoa(killRows) + ") g")
		e.exec("ANALYZE")
		tables = append(tables, "texty")
	} else {
		e.exec("CREATE TABLE ranged (id BIGINT PRIMARY KEY, s TEXT NOT NULL)")
		e.exec("CREATE TABLE nokey (id BIGINT NOT NULL, s TEXT NOT NULL)")
		for _, tb := range []string{"ranged", "nokey"} {
			e.exec("INSERT INTO " + tb + " SELECT seq, " + pad + " FROM seq_1_to_" + strconv.Itoa(killRows))
		}
		e.exec("ANALYZE TABLE ranged, nokey")
	}
	_, root := e.bronzeConfig("avro", "snappy", 2)
	cfgPath := filepath.Join(e.dir, "fluxo.yaml")
	raw, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, bytes.Replace(raw, []byte("  parallelism: 2\n"), []byte("  parallelism: 2\n  max_part_bytes: 1048576\n"), 1), 0o644)
	rng := newRand(t)
	killed := 0
	for i := 0; i < 4; i++ {
		cmd, out := fullloadProcess(t, bin, cfgPath, "k1")
		waitForFiles(root, countFiles(root)+1+rng.IntN(12), 30*time.Second)
		cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err != nil && strings.Contains(err.Error(), "killed") {
			killed++
		} else {
			t.Logf("run %d ended before the kill: %v\n%s", i, err, out)
		}
	}
	if killed == 0 {
		t.Fatal("every run ended before its kill: make the tables bigger")
	}
	cmd, out := fullloadProcess(t, bin, cfgPath, "k1")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	for _, tb := range tables {
		t.Run(tb, func(t *testing.T) {
			dir := runDir(t, root, map[bool]string{true: "public", false: e.dbName}[e.pg != nil], tb, "k1")
			counts := map[int64]int{}
			for _, f := range partFiles(t, dir, "avro") {
				for _, id := range avroIDs(t, f) {
					counts[id]++
				}
			}
			if len(counts) != killRows {
				t.Errorf("%d distinct ids, want %d", len(counts), killRows)
			}
			for id, n := range counts {
				if n != 1 || id < 1 || id > killRows {
					t.Fatalf("id %d read %d times", id, n)
				}
			}
		})
	}
	// Nothing of the run is left in progress.
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".tmp") && strings.Contains(p, "run=") {
			t.Errorf("temporary file left in a run directory: %s", p)
		}
		return nil
	})
}

// countFiles counts the files under root.
func countFiles(root string) int {
	n := 0
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// waitForFiles waits until root holds n files, or timeout.
func waitForFiles(root string, n int, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline) && countFiles(root) < n; {
		time.Sleep(2 * time.Millisecond)
	}
}

// fullloadProcess starts `fluxo fullload` on the config.
func fullloadProcess(t *testing.T, bin, cfgPath, runID string) (*exec.Cmd, *strings.Builder) {
	cmd := exec.Command(bin, "fullload", "-c", cfgPath, "--run-id", runID, "--log-format", "text")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, out
}

// avroIDs decodes the id column of an Avro part file with hamba's reader.
func avroIDs(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := ocf.NewDecoder(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var ids []int64
	for dec.HasNext() {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ids = append(ids, rec["id"].(int64))
	}
	if err := dec.Error(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ids
}
