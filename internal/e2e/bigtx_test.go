package e2e

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
	forEachBackend(t, testLargeTransaction)
}

func testLargeTransaction(t *testing.T, e *env) {
	e.exec("CREATE TABLE big (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(32) NOT NULL)")
	cfg := e.config("")
	s := e.startStreamReady(cfg)
	const n = 50_000
	insert := "INSERT INTO big SELECT seq, seq % 1000, CONCAT('row', seq) FROM seq_1_to_50000"
	if e.pg != nil {
		insert = "INSERT INTO big SELECT g, g % 1000, 'row' || g FROM generate_series(1, 50000) g"
	}
	c, done := e.sqlConn()
	defer done()
	for _, q := range []string{"BEGIN", insert, "COMMIT"} {
		if err := c(q); err != nil {
			t.Fatal(err)
		}
	}
	recs := e.consume(e.topic("big"), n, 120*time.Second)
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
	if e.pg != nil {
		return // the MySQL checkpoint check follows
	}
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
