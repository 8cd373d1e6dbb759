package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/internal/config"
)

// TestDebeziumTopics: with kafka.transaction_topic and kafka.heartbeat_topic,
// the independent reader (librdkafka and the registry's schemas) finds, for
// every source transaction of a writer touching two tables, a BEGIN and an
// END record whose counts agree with the transaction blocks of the data
// records (total_order 1..n, data_collection_order 1..n per table, a key
// change counting as a delete and a create), and a heartbeat record every
// second with increasing ts_ms.
func TestDebeziumTopics(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	forEachBackend(t, testDebeziumTopics)
}

func testDebeziumTopics(t *testing.T, e *env) {
	e.exec("CREATE TABLE a (id INT PRIMARY KEY, v INT NOT NULL)")
	e.exec("CREATE TABLE b (id INT PRIMARY KEY, v INT NOT NULL)")
	cfg := e.debeziumTopicsConfig()
	s := e.startStreamReady(cfg)
	defer s.stop()
	c, closeConn := e.sqlConn()
	const txs = 12
	for i := range txs {
		stmts := []string{"BEGIN", fmt.Sprintf("INSERT INTO a VALUES (%d, %d)", 10*i, i), fmt.Sprintf("INSERT INTO a VALUES (%d, %d)", 10*i+1, i)}
		if i%2 == 0 {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO b VALUES (%d, %d)", i, i))
		}
		if i%3 == 0 {
			stmts = append(stmts, fmt.Sprintf("UPDATE a SET id = %d WHERE id = %d", 10*i+5, 10*i)) // the key moves
		}
		for _, q := range append(stmts, "COMMIT") {
			if err := c(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	closeConn()
	time.Sleep(3500 * time.Millisecond) // heartbeats, every second
	data := map[string][]pyRecord{}
	for _, tb := range []string{"a", "b"} {
		n := len(e.drain(e.topic(tb), 2*time.Second))
		data[tb] = pythonDecode(t, e, e.topic(tb), n)
	}
	n := len(e.drain("fx.transaction", 2*time.Second))
	meta := pythonDecode(t, e, "fx.transaction", n)
	checkTransactionTopic(t, e, data, meta, txs)
	beats := pythonDecode(t, e, "__debezium-heartbeat.fx", 3)
	last := int64(0)
	for _, b := range beats {
		if b.Key["serverName"] != "fx" {
			t.Fatalf("heartbeat key %v, want serverName fx", b.Key)
		}
		ts := pyInt(t, b.Value["ts_ms"])
		if ts <= last {
			t.Fatalf("heartbeat ts_ms %d after %d", ts, last)
		}
		last = ts
	}
}

// checkTransactionTopic compares the BEGIN and END records with the
// transaction blocks of the data records.
func checkTransactionTopic(t *testing.T, e *env, data map[string][]pyRecord, meta []pyRecord, txs int) {
	t.Helper()
	type txSeen struct {
		total       []int64
		perTable    map[string][]int64
		begin, ends int
		endCounts   map[string]int64
		endTotal    int64
	}
	seen := map[string]*txSeen{}
	get := func(id string) *txSeen {
		if seen[id] == nil {
			seen[id] = &txSeen{perTable: map[string][]int64{}, endCounts: map[string]int64{}}
		}
		return seen[id]
	}
	prefix := e.dbName + "."
	if e.pg != nil {
		prefix = "public."
	}
	for tb, recs := range data {
		for _, r := range recs {
			if r.Value == nil {
				continue // a tombstone
			}
			tx, _ := r.Value["transaction"].(map[string]any)
			if tx == nil {
				t.Fatalf("%s: a record without a transaction block: %v", tb, r.Value)
			}
			s := get(fmt.Sprint(tx["id"]))
			s.total = append(s.total, pyInt(t, tx["total_order"]))
			s.perTable[prefix+tb] = append(s.perTable[prefix+tb], pyInt(t, tx["data_collection_order"]))
		}
	}
	for _, r := range meta {
		if fmt.Sprint(r.Key["id"]) != fmt.Sprint(r.Value["id"]) {
			t.Fatalf("transaction record key %v, value id %v", r.Key, r.Value["id"])
		}
		s := get(fmt.Sprint(r.Value["id"]))
		switch r.Value["status"] {
		case "BEGIN":
			s.begin++
		case "END":
			s.ends++
			s.endTotal = pyInt(t, r.Value["event_count"])
			for _, dc := range r.Value["data_collections"].([]any) {
				d := dc.(map[string]any)
				s.endCounts[fmt.Sprint(d["data_collection"])] = pyInt(t, d["event_count"])
			}
		}
	}
	checked := 0
	for id, s := range seen {
		if len(s.total) == 0 {
			continue // a transaction of other tables (the readiness probe's)
		}
		checked++
		if s.begin != 1 || s.ends != 1 {
			t.Fatalf("transaction %s: %d BEGIN and %d END records", id, s.begin, s.ends)
		}
		if !isSequence(s.total) || s.endTotal != int64(len(s.total)) {
			t.Fatalf("transaction %s: total_order %v, END event_count %d", id, s.total, s.endTotal)
		}
		for tb, orders := range s.perTable {
			if !isSequence(orders) || s.endCounts[tb] != int64(len(orders)) {
				t.Fatalf("transaction %s: %s data_collection_order %v, END counts %v", id, tb, orders, s.endCounts)
			}
		}
	}
	if checked != txs {
		t.Fatalf("%d transactions in the data topics, the writer committed %d", checked, txs)
	}
}

// isSequence reports whether v, sorted, is 1, 2, ..., len(v).
func isSequence(v []int64) bool {
	seen := make([]bool, len(v)+1)
	for _, x := range v {
		if x < 1 || x > int64(len(v)) || seen[x] {
			return false
		}
		seen[x] = true
	}
	return true
}

// debeziumTopicsConfig writes a config with both of Debezium's extra
// topics, heartbeats every second, streaming from the current position.
func (e *env) debeziumTopicsConfig() *config.Config {
	e.t.Helper()
	e.configSource("  heartbeat_interval: 1s\n", "snapshot:\n  mode: never\n")
	path := filepath.Join(e.dir, "fluxo.yaml")
	y, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	y = []byte(strings.Replace(string(y), "kafka:\n", "kafka:\n  transaction_topic: true\n  heartbeat_topic: true\n", 1))
	if err := os.WriteFile(path, y, 0o644); err != nil {
		e.t.Fatal(err)
	}
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg
}
