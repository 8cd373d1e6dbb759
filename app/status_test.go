package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/config"
)

// TestStatusLag stops a stream, commits transactions behind its back and
// checks that fluxo status measures the lag the server has: exactly the
// transactions committed (MariaDB GTIDs), bytes behind (both), and none
// once the stream caught up again.
func TestStatusLag(t *testing.T) {
	forEachBackend(t, testStatusLag)
}

func testStatusLag(t *testing.T, e *env) {
	e.seedKV()
	cfg := e.config("")
	s := e.startStreamReady(cfg)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	const behind = 7
	for i := range behind {
		e.exec(fmt.Sprintf("INSERT INTO kv VALUES (%d, 1, 'while stopped')", 3000+i))
	}
	r := status(t, cfg)
	if r.Lag == nil || r.Lag.Error != "" {
		t.Fatalf("no lag: %+v", r.Lag)
	}
	if r.Lag.Bytes <= 0 {
		t.Errorf("lag bytes %d after %d commits", r.Lag.Bytes, behind)
	}
	if e.pg == nil && r.Lag.Transactions != behind {
		t.Errorf("lag transactions %d, want the %d committed while stopped", r.Lag.Transactions, behind)
	}
	if v, ok := r.Tables[strings.TrimPrefix(e.topic("kv"), "fx.")]; !ok || v < 1 {
		t.Errorf("tables %v: want kv with a schema version", r.Tables)
	}
	var text bytes.Buffer
	if err := Status(context.Background(), cfg, &text, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "lag:         "+r.Lag.Text) {
		t.Errorf("text status lacks the lag line %q:\n%s", r.Lag.Text, text.String())
	}

	s = e.startStreamReady(cfg)
	e.consume(e.topic("kv"), 200+behind, 20*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	after := status(t, cfg).Lag
	switch {
	case e.pg == nil && (after.Bytes != 0 || after.Transactions != 0):
		t.Errorf("after catching up: %+v, want no lag", after)
	case e.pg != nil && after.Bytes >= r.Lag.Bytes:
		t.Errorf("after catching up: %d WAL bytes behind, was %d", after.Bytes, r.Lag.Bytes)
	}

	kill, start := e.server()
	kill()
	down := status(t, cfg)
	if err := start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if down.Lag == nil || down.Lag.Error == "" || !strings.HasPrefix(down.Lag.Text, "unknown: ") || !down.Saved {
		t.Errorf("status with the source down: %+v %+v", down, down.Lag)
	}
}

func status(t *testing.T, cfg *config.Config) statusReport {
	t.Helper()
	var out bytes.Buffer
	if err := Status(context.Background(), cfg, &out, true); err != nil {
		t.Fatal(err)
	}
	var r statusReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	return r
}
