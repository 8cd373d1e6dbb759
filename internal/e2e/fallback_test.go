package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/checkpoint"
)

// TestMinimalRowMetadata streams from a server that logs no column names
// (binlog_row_metadata=MINIMAL, like MySQL 5.7): fluxo takes the columns from
// information_schema and the data still round-trips.
func TestMinimalRowMetadata(t *testing.T) {
	e := newEnv(t)
	e.exec("SET GLOBAL binlog_row_metadata = 'MINIMAL'")
	t.Cleanup(func() { e.exec("SET GLOBAL binlog_row_metadata = 'FULL'") })
	e.seedKV()
	s := e.startStreamReady(e.config(""))
	e.exec("INSERT INTO kv VALUES (5000, 5, 'minimal')")
	e.exec("UPDATE kv SET s = 'min-upd' WHERE id BETWEEN 1 AND 5")
	e.exec("DELETE FROM kv WHERE id = 6")
	recs := e.drain("fx."+e.dbName+".kv", 2*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	compareState(t, replay(recs), e.tableState("kv"))
}

// TestDifferentServer resumes a checkpoint on a server with another identity
// whose history lacks the checkpoint's GTIDs: fluxo must refuse.
func TestDifferentServer(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t1 (id INT PRIMARY KEY)")
	cfg := e.config("")
	s := e.startStreamReady(cfg)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	store := checkpoint.NewFile(cfg.Checkpoint.Path, cfg.Name)
	cp, err := store.Load(context.Background())
	if err != nil || cp == nil {
		t.Fatalf("checkpoint: %v", err)
	}
	// The same GTID domain, but from a server that never existed here and
	// with sequence numbers this server never reached.
	body := string(cp.Position)
	body = strings.Replace(body, `"server_id":"server_id=1"`, `"server_id":"server_id=42"`, 1)
	i := strings.Index(body, `"gtid_set":"`)
	j := strings.Index(body[i+12:], `"`)
	body = body[:i+12] + "0-42-999999" + body[i+12+j:]
	cp.Position = []byte(body)
	if err := store.Save(context.Background(), cp); err != nil {
		t.Fatal(err)
	}
	err = e.streamError(cfg)
	if err == nil || !strings.Contains(err.Error(), "server_id=42") || !strings.Contains(err.Error(), "delete the checkpoint file") {
		t.Fatalf("error %v: want a refusal naming the other server and how to re-snapshot", err)
	}
}
