package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/ops/admin"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// TestOnDemandSnapshot: `fluxo snapshot --tables <kv> --wait` makes a
// running stream snapshot again a table it already streams, while a writer
// inserts, updates, deletes and changes keys in it. The command exits 0
// once the snapshot is done; every row the writer left untouched was read
// again (op r, incremental) after the request; the topic replays to the
// table. A request without the admin token is refused, counted, and
// queues nothing.
func TestOnDemandSnapshot(t *testing.T) {
	forEachBackend(t, testOnDemandSnapshot)
}

func testOnDemandSnapshot(t *testing.T, e *env) {
	e.seedKV()
	cfg, cfgPath := e.adminConfig("snapshot:\n  chunk_rows: 16\n")
	s := e.startStreamReady(cfg)
	ep := endpoint{t: t, base: cfg.HTTP.AdminURL()}
	e.waitSnapshotQueue(ep, 0) // the initial snapshot, incremental
	if code, body := ep.post("/snapshot", "", `{"tables": ["`+e.tableSchema()+`.kv"]}`); code != http.StatusUnauthorized {
		t.Fatalf("a request without the token: %d %s, want 401", code, body)
	}
	if got := ep.metrics().value("fluxo_admin_requests_total", "result", "unauthorized"); got != 1 {
		t.Errorf("fluxo_admin_requests_total{result=unauthorized} = %v, want 1", got)
	}
	if q := e.snapshotQueue(ep); len(q.Tables) != 0 {
		t.Fatalf("a refused request queued %+v", q.Tables)
	}

	before := e.drain(e.topic("kv"), time.Second)
	w := e.startPacedWriter("kv", 11, 3*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	bin, err := fluxoBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "snapshot", "-c", cfgPath, "--tables", e.tableSchema()+".kv", "--wait").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "snapshot complete") {
		t.Fatalf("fluxo snapshot --wait: %v\n%s", err, out)
	}
	t.Logf("fluxo snapshot:\n%s", out)
	w.finish(t)
	recs := e.drain(e.topic("kv"), 3*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	want := e.tableState("kv")
	compareState(t, replay(recs), want)
	checkRereadUntouched(t, recs[len(before):], want)
}

// TestSignalSnapshot: a row inserted into source.signal_table (not
// captured) while a writer changes the table asks the stream for an
// incremental snapshot of it: the topic, as the independent reader
// decodes it, then holds every row of the table read again unless a change
// touched it, and replays to the table; a malformed signal row is counted
// as ignored, and the signal table has no topic.
func TestSignalSnapshot(t *testing.T) {
	forEachBackend(t, testSignalSnapshot)
}

func testSignalSnapshot(t *testing.T, e *env) {
	e.seedKV()
	e.exec("CREATE TABLE fluxo_signal (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data TEXT)")
	signal := e.tableSchema() + ".fluxo_signal"
	cfg, _ := e.adminConfigSource(fmt.Sprintf("  exclude_tables: [%s]\n  signal_table: %s\n", signal, signal), "snapshot:\n  chunk_rows: 16\n")
	s := e.startStreamReady(cfg)
	ep := endpoint{t: t, base: cfg.HTTP.AdminURL()}
	e.waitSnapshotQueue(ep, 0) // the initial snapshot, incremental
	before := e.drain(e.topic("kv"), time.Second)
	w := e.startPacedWriter("kv", 11, 3*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	e.exec("INSERT INTO fluxo_signal VALUES ('bad', 'execute-snapshot', '{\"data-collections\": \"not a list\"}')")
	e.exec(fmt.Sprintf(`INSERT INTO fluxo_signal VALUES ('ad-hoc-1', 'execute-snapshot', '{"data-collections": ["%s.kv"], "type": "incremental"}')`, e.tableSchema()))
	for deadline := time.Now().Add(30 * time.Second); ep.metrics().value("fluxo_signals_total", "result", "accepted") < 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the signal row was not accepted within 30s")
		}
	}
	e.waitSnapshotQueue(ep, 0)
	w.finish(t)
	recs := e.drain(e.topic("kv"), 3*time.Second)
	if got := ep.metrics().value("fluxo_signals_total", "result", "ignored"); got != 1 {
		t.Errorf("fluxo_signals_total{result=ignored} = %v, want 1 (the malformed row)", got)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	want := e.tableState("kv")
	compareState(t, replay(recs), want)
	checkRereadUntouched(t, recs[len(before):], want)
	if sig := e.drain(e.topic("fluxo_signal"), time.Second); len(sig) > 0 {
		t.Errorf("the signal table, not captured, has %d records in Kafka", len(sig))
	}
}

// checkRereadUntouched fails t unless every row of want that no change
// record after the request touched was read again (op r, incremental).
func checkRereadUntouched(t *testing.T, after []record, want map[int64]map[string]any) {
	t.Helper()
	read, touched := map[int64]bool{}, map[int64]bool{}
	for _, r := range after {
		id := toInt64(r.Key["id"])
		if r.Value == nil || r.Value["op"] != "r" {
			touched[id] = true
			continue
		}
		if src, _ := r.Value["source"].(map[string]any); src["snapshot"] != "incremental" {
			t.Fatalf("read of id %d has source.snapshot %v, want incremental", id, src["snapshot"])
		}
		read[id] = true
	}
	missed := 0
	for id := range want {
		if !touched[id] && !read[id] {
			if missed++; missed <= 5 {
				t.Errorf("row %d was neither changed nor read again after the request", id)
			}
		}
	}
	t.Logf("after the request: %d rows read again, %d keys changed, %d rows in the table", len(read), len(touched), len(want))
}

// tableSchema is the schema (the database for MySQL) of the test's tables.
func (e *env) tableSchema() string {
	if e.pg != nil {
		return "public"
	}
	return e.dbName
}

// adminConfig writes a config whose HTTP endpoint listens on a fixed free
// port (fluxo snapshot finds it in the config) with an admin token file,
// and returns it with its path.
func (e *env) adminConfig(extra string) (*config.Config, string) {
	e.t.Helper()
	return e.adminConfigSource("", extra)
}

// adminConfigSource is adminConfig with extra lines in the source section.
func (e *env) adminConfigSource(source, extra string) (*config.Config, string) {
	e.t.Helper()
	port, err := testserver.FreePort()
	if err != nil {
		e.t.Fatal(err)
	}
	token := filepath.Join(e.dir, "admin.token")
	if err := os.WriteFile(token, []byte("s3cret-token\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
	cfg := e.configSource(source, extra)
	path := filepath.Join(e.dir, "fluxo.yaml")
	y, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	listen := fmt.Sprintf("  listen: 127.0.0.1:%d\n  admin_token_file: %s\n", port, token)
	y = []byte(strings.Replace(string(y), "  listen: 127.0.0.1:0\n", listen, 1))
	if err := os.WriteFile(path, y, 0o644); err != nil {
		e.t.Fatal(err)
	}
	if cfg, err = config.Load(path, os.LookupEnv); err != nil {
		e.t.Fatal(err)
	}
	return cfg, path
}

// snapshotQueue is the stream's incremental snapshot queue (GET /snapshot).
func (e *env) snapshotQueue(ep endpoint) admin.SnapshotStatus {
	e.t.Helper()
	code, body := ep.get("/snapshot")
	var st admin.SnapshotStatus
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		e.t.Fatalf("GET /snapshot: %d %s (%v)", code, body, err)
	}
	return st
}

// waitSnapshotQueue waits until the snapshot queue holds n tables at most.
func (e *env) waitSnapshotQueue(ep endpoint, n int) {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		q := e.snapshotQueue(ep)
		if len(q.Tables) <= n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the snapshot queue still holds %+v after a minute", q.Tables)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// post sends body to path with the bearer token (none when empty).
func (ep endpoint) post(path, token, body string) (int, string) {
	ep.t.Helper()
	req, err := http.NewRequest(http.MethodPost, ep.base+path, strings.NewReader(body))
	if err != nil {
		ep.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ep.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}
