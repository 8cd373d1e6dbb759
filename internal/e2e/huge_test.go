package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc/mysql"
	"github.com/fluxo-cdc/fluxo/checkpoint"
)

// TestHugeRow: a row larger than kafka.max_record_bytes stops fluxo with an
// error saying what to raise, without checkpointing past it; raising the
// limit delivers it, with every byte intact.
func TestHugeRow(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE docs (id INT PRIMARY KEY, body LONGTEXT, data LONGBLOB) CHARACTER SET utf8mb4")
	cfg := e.config("")
	s := e.startStreamReady(cfg)
	e.exec("INSERT INTO docs VALUES (1, REPEAT('a', 500000), REPEAT(x'00ff', 100000))")
	e.consume("fx."+e.dbName+".docs", 1, 30*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	e.exec("INSERT INTO docs VALUES (2, REPEAT('é🦊', 400000), REPEAT(x'01', 1000000))") // ~3.4 MB
	err := e.streamError(cfg)
	if err == nil || !strings.Contains(err.Error(), "kafka.max_record_bytes") || !strings.Contains(err.Error(), "docs") {
		t.Fatalf("error %v: want one naming the table and kafka.max_record_bytes", err)
	}
	before := checkpointGTID(t, cfg.Checkpoint.Path, cfg.Name)
	cfg = e.config("") // same file, larger limit
	cfg.Kafka.MaxRecordBytes = 8 << 20
	s = e.startStream(cfg)
	recs := e.consume("fx."+e.dbName+".docs", 2, 60*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	row := rowOf(recs[1].Value["after"])
	body, _ := row["body"].(string)
	data, _ := row["data"].([]byte)
	if body != strings.Repeat("é🦊", 400000) || len(data) != 1000000 || data[999999] != 1 {
		t.Errorf("huge row arrived damaged: body %d chars, data %d bytes", len(body), len(data))
	}
	if after := checkpointGTID(t, cfg.Checkpoint.Path, cfg.Name); after == before {
		t.Errorf("checkpoint did not move after the huge row was delivered (%s)", after)
	}
}

func checkpointGTID(t *testing.T, path, name string) string {
	t.Helper()
	cp, err := checkpoint.NewFile(path, name).Load(context.Background())
	if err != nil || cp == nil {
		t.Fatalf("checkpoint: %v", err)
	}
	p, err := mysql.ParsePosition(cp.Position)
	if err != nil {
		t.Fatal(err)
	}
	return p.GTIDSet
}
