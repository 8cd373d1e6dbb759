package app

import (
	"context"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc/mysql"
	"github.com/fluxo-cdc/fluxo/checkpoint"
)

// TestLargeTransaction commits 50,000 rows in one transaction: every row
// arrives exactly once, and the checkpoint moves past the transaction only
// when all of them are acknowledged.
func TestLargeTransaction(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE big (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(32) NOT NULL)")
	cfg := e.config("")
	s := e.startStreamReady(cfg)
	const n = 50_000
	c := e.conn()
	for _, q := range []string{"BEGIN", "INSERT INTO big SELECT seq, seq % 1000, CONCAT('row', seq) FROM seq_1_to_50000", "COMMIT"} {
		if _, err := c.Execute(q); err != nil {
			t.Fatal(err)
		}
	}
	recs := e.consume("fx."+e.dbName+".big", n, 120*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	seen := make(map[int64]bool, n)
	for _, r := range recs {
		id := toInt64(r.Key["id"])
		if seen[id] {
			t.Fatalf("id %d delivered twice", id)
		}
		seen[id] = true
		if r.Value["op"] != "c" {
			t.Fatalf("id %d: op %v", id, r.Value["op"])
		}
	}
	compareState(t, replay(recs), e.tableState("big"))
	cp, err := checkpoint.NewFile(cfg.Checkpoint.Path, cfg.Name).Load(context.Background())
	if err != nil || cp == nil {
		t.Fatalf("checkpoint: %v", err)
	}
	pos, err := mysql.ParsePosition(cp.Position)
	if err != nil {
		t.Fatal(err)
	}
	gtid, err := e.db.QueryValue(context.Background(), "SELECT @@gtid_binlog_pos")
	if err != nil {
		t.Fatal(err)
	}
	if pos.GTIDSet != gtid {
		t.Errorf("checkpoint at %s after a clean stop, server at %s", pos.GTIDSet, gtid)
	}
}
