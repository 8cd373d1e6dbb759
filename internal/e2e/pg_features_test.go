package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPGPartitionedTable: a partitioned table is captured under its root's
// name, in the snapshot and the stream.
func TestPGPartitionedTable(t *testing.T) {
	e := newPGEnv(t)
	e.exec("CREATE TABLE m (id INT, region TEXT, v INT, PRIMARY KEY (id, region)) PARTITION BY LIST (region)")
	e.exec("CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu')")
	e.exec("CREATE TABLE m_us PARTITION OF m FOR VALUES IN ('us')")
	e.exec("INSERT INTO m VALUES (1, 'eu', 1), (2, 'us', 2)")
	s := e.startStreamReady(e.config(""))
	e.exec("INSERT INTO m VALUES (3, 'eu', 3), (4, 'us', 4)")
	e.exec("UPDATE m SET v = 20 WHERE id = 2")
	recs := e.consume(e.topic("m"), 5, 30*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, r := range recs {
		ops[fmt.Sprint(r.Value["op"])]++
	}
	if fmt.Sprint(ops) != "map[c:2 r:2 u:1]" {
		t.Errorf("ops %v, want 2 reads, 2 creates and an update, all on the root's topic", ops)
	}
	for _, part := range []string{"m_eu", "m_us"} {
		if got := e.consumeUntilQuiet(e.topic(part), 500*time.Millisecond); len(got) != 0 {
			t.Errorf("partition %s got its own topic with %d records", part, len(got))
		}
	}
}

// TestPGTruncateAndDDL: TRUNCATE is an op t record on every partition of
// the topic; ALTER TABLE while streaming registers a new value schema
// version and rows decode with the columns in force.
func TestPGTruncateAndDDL(t *testing.T) {
	e := newPGEnv(t)
	e.exec("CREATE TABLE p (id INT PRIMARY KEY, a TEXT)")
	s := e.startStreamReady(e.config(""))
	e.exec("INSERT INTO p VALUES (1, 'one')")
	e.exec("ALTER TABLE p ADD COLUMN b BIGINT")
	e.exec("INSERT INTO p VALUES (2, 'two', 9000000000)")
	e.exec("ALTER TABLE p DROP COLUMN a")
	e.exec("INSERT INTO p VALUES (3, 3)")
	e.exec("TRUNCATE p")
	recs := e.consume(e.topic("p"), 3+3, 30*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{1: "map[a:one id:1]", 2: "map[a:two b:9000000000 id:2]", 3: "map[b:3 id:3]"}
	truncates := map[int32]bool{}
	for _, r := range recs {
		if r.Value["op"] == "t" {
			truncates[r.Partition] = true
			continue
		}
		id := toInt64(r.Key["id"])
		if got := fmt.Sprint(rowOf(r.Value["after"])); got != want[id] {
			t.Errorf("id %d: after %s, want %s", id, got, want[id])
		}
	}
	if len(truncates) != 3 {
		t.Errorf("truncate on partitions %v, want all 3", truncates)
	}
	if v := e.subjectVersions(e.topic("p") + "-value"); len(v) != 3 {
		t.Errorf("value subject versions %v, want 3", v)
	}
}

// TestPGIdleSlotAdvances: a busy table outside the publication must not
// make the slot retain WAL without bound: heartbeats and keepalives move
// the confirmed position while nothing fluxo captures changes.
func TestPGIdleSlotAdvances(t *testing.T) {
	e := newPGEnv(t)
	e.exec("CREATE TABLE captured (id INT PRIMARY KEY)")
	e.exec("CREATE TABLE busy (id INT PRIMARY KEY, pad TEXT)")
	cfg := e.configSource("  exclude_tables: [public.busy]\n  heartbeat_interval: 1s\n", "")
	s := e.startStreamReady(cfg)
	defer s.stop()
	for i := range 40 {
		e.exec(fmt.Sprintf("INSERT INTO busy SELECT g + %d, repeat(md5(g::text), 20) FROM generate_series(1, 2000) g", i*2000))
	}
	generated := e.pgValue("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
	deadline := time.Now().Add(30 * time.Second)
	var retained string
	for time.Now().Before(deadline) {
		retained = e.pgValue("SELECT pg_current_wal_lsn() - confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '" + cfg.Source.Slot + "'")
		if bytesLess(retained, 4<<20) {
			t.Logf("slot retains %s bytes after %s bytes of WAL", retained, generated)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("slot still retains %s bytes of WAL 30s after the last change (%s bytes written)", retained, generated)
}

func bytesLess(s string, n int64) bool {
	var v float64
	fmt.Sscan(s, &v)
	return v < float64(n)
}

func (e *env) pgValue(q string) string {
	e.t.Helper()
	var s string
	if err := e.pgConn().QueryRow(context.Background(), q+"::text").Scan(&s); err != nil {
		if err := e.pgConn().QueryRow(context.Background(), "SELECT ("+strings.TrimPrefix(q, "SELECT ")+")::text").Scan(&s); err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
	}
	return s
}
