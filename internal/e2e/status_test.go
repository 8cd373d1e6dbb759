package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/fluxo-cdc/fluxo/cdc/postgres"
	"github.com/fluxo-cdc/fluxo/internal/command"
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// TestStatusLag stops a stream, commits transactions behind its back and
// checks that fluxo status measures the lag the server has: exactly the
// transactions committed (MariaDB GTIDs), bytes behind (both), and none
// once the stream caught up again. On PostgreSQL, WAL is per cluster and
// the shared server writes some for other databases and itself at any
// time, so "caught up" is what fluxo controls: the checkpoint reached the
// last change.
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
	for i := range behind - 1 {
		e.exec(fmt.Sprintf("INSERT INTO kv VALUES (%d, 1, 'while stopped')", 3000+i))
	}
	lastChange := e.insertReturningLSN(fmt.Sprintf("INSERT INTO kv VALUES (%d, 1, 'while stopped')", 3000+behind-1))
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
	if err := command.Status(context.Background(), cfg, &text, false); err != nil {
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
	if e.pg == nil && (after.Bytes != 0 || after.Transactions != 0) {
		t.Errorf("after catching up: %+v, want no lag", after)
	}
	if e.pg != nil {
		pos, err := postgres.ParsePosition(e.checkpointOf(cfg).Position)
		if err != nil {
			t.Fatal(err)
		}
		if pos.LSN < lastChange {
			t.Errorf("after catching up: checkpoint at %s, before the last change at %s", pos.LSN, lastChange)
		}
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

// insertReturningLSN runs an insert in a transaction of its own and, on
// PostgreSQL, returns a WAL position inside it: the transaction's commit
// ends after it.
func (e *env) insertReturningLSN(insert string) pglogrepl.LSN {
	e.t.Helper()
	if e.pg == nil {
		e.exec(insert)
		return 0
	}
	ctx := context.Background()
	conn := e.pgConn()
	tx, err := conn.Begin(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var lsn string
	if _, err := tx.Exec(ctx, insert); err != nil {
		e.t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
		e.t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		e.t.Fatal(err)
	}
	l, err := pglogrepl.ParseLSN(lsn)
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func status(t *testing.T, cfg *config.Config) command.StatusReport {
	t.Helper()
	var out bytes.Buffer
	if err := command.Status(context.Background(), cfg, &out, true); err != nil {
		t.Fatal(err)
	}
	var r command.StatusReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	return r
}
