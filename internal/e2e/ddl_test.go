package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"
)

// subjectVersions lists the registered versions of a subject.
func (e *env) subjectVersions(subject string) []int {
	e.t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/subjects/%s/versions", e.regURL, subject))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v []int
	json.NewDecoder(resp.Body).Decode(&v)
	return v
}

// latestSchema returns the newest schema text of a subject.
func (e *env) latestSchema(subject string) string {
	e.t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/subjects/%s/versions/latest", e.regURL, subject))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct{ Schema string }
	json.NewDecoder(resp.Body).Decode(&doc)
	if doc.Schema == "" {
		e.t.Fatalf("subject %s has no schema", subject)
	}
	return doc.Schema
}

// TestDDLMidStream alters a table while streaming (add, modify, rename,
// drop column): each change registers a new value schema version and rows
// decode with the schema they were written with.
func TestDDLMidStream(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE p (id INT PRIMARY KEY, a VARCHAR(10))")
	e.exec("INSERT INTO p VALUES (1, 'one')")
	s := e.startStreamReady(e.config(""))
	topic := "fx." + e.dbName + ".p"
	steps := []struct{ ddl, insert string }{
		{"ALTER TABLE p ADD COLUMN b INT", "INSERT INTO p VALUES (2, 'two', 22)"},
		{"ALTER TABLE p MODIFY COLUMN b BIGINT", "INSERT INTO p VALUES (3, 'three', 9000000000)"},
		{"ALTER TABLE p RENAME COLUMN a TO name", "INSERT INTO p VALUES (4, 'four', 44)"},
		{"ALTER TABLE p DROP COLUMN b", "INSERT INTO p VALUES (5, 'five')"},
	}
	for _, st := range steps {
		e.exec(st.ddl)
		e.exec(st.insert)
	}
	recs := byID(e.consume(topic, 5, 30*time.Second))
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"map[a:one id:1]",
		"map[a:two b:22 id:2]",
		"map[a:three b:9000000000 id:3]",
		"map[b:44 id:4 name:four]",
		"map[id:5 name:five]",
	}
	for i, r := range recs {
		if got := fmt.Sprint(rowOf(r.Value["after"])); got != want[i] {
			t.Errorf("record %d: after = %s, want %s", i, got, want[i])
		}
	}
	if v := e.subjectVersions(topic + "-value"); len(v) != 5 {
		t.Errorf("value subject has versions %v, want 5", v)
	}
}

// TestDDLWhileStopped changes a table while fluxo is down: rows written
// before the change must still decode with the old schema on restart,
// because the binlog's table map carries the columns in force.
func TestDDLWhileStopped(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE q (id INT PRIMARY KEY, a VARCHAR(10), b INT)")
	e.exec("INSERT INTO q VALUES (1, 'one', 1)")
	cfg := e.config("")
	s := e.startStream(cfg)
	topic := "fx." + e.dbName + ".q"
	e.consume(topic, 1, 30*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	e.exec("INSERT INTO q VALUES (2, 'two', 2)")
	e.exec("ALTER TABLE q DROP COLUMN a")
	e.exec("INSERT INTO q VALUES (3, 3)")
	s = e.startStream(cfg)
	recs := byID(e.consume(topic, 3, 30*time.Second))
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rowOf(recs[1].Value["after"])); got != "map[a:two b:2 id:2]" {
		t.Errorf("row written before the ALTER decoded as %s", got)
	}
	if got := fmt.Sprint(rowOf(recs[2].Value["after"])); got != "map[b:3 id:3]" {
		t.Errorf("row written after the ALTER decoded as %s", got)
	}
}

// TestTruncateAndKeyless covers TRUNCATE (an op t record with a null key on
// every partition) and a table without a primary key (null keys, one
// partition, order kept). key_columns is covered by TestColumnFilters.
func TestTruncateAndKeyless(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE logs (msg VARCHAR(20))")
	e.exec("CREATE TABLE tr (id INT PRIMARY KEY)")
	s := e.startStreamReady(e.config(""))
	defer s.stop()
	for i := range 5 {
		e.exec(fmt.Sprintf("INSERT INTO logs VALUES ('m%d')", i))
	}
	e.exec("INSERT INTO tr VALUES (1), (2)")
	e.exec("TRUNCATE TABLE tr")
	logs := e.consume("fx."+e.dbName+".logs", 5, 30*time.Second)
	for i, r := range logs {
		if r.Key != nil || r.Partition != 0 {
			t.Errorf("keyless record %d: key %v partition %d, want null key on partition 0", i, r.Key, r.Partition)
		}
		if got := rowOf(r.Value["after"])["msg"]; got != fmt.Sprintf("m%d", i) {
			t.Errorf("keyless record %d: msg %v (order lost?)", i, got)
		}
	}
	tr := e.consume("fx."+e.dbName+".tr", 2+3, 30*time.Second)
	parts := map[int32]int64{} // partition -> offset of the truncate
	lastInsert := map[int32]int64{}
	for _, r := range tr {
		if r.Value["op"] != "t" {
			lastInsert[r.Partition] = max(lastInsert[r.Partition], r.Offset+1)
			continue
		}
		if r.Key != nil {
			t.Errorf("truncate record has key %v, want null", r.Key)
		}
		parts[r.Partition] = r.Offset
	}
	for p, off := range lastInsert {
		if parts[p] < off {
			t.Errorf("partition %d: truncate at offset %d precedes the inserts before it", p, parts[p])
		}
	}
	if len(parts) != 3 {
		t.Errorf("truncate reached partitions %v, want all 3", parts)
	}
}

// byID orders records by their integer "id" key.
func byID(recs []record) []record {
	sort.SliceStable(recs, func(i, j int) bool { return toInt64(recs[i].Key["id"]) < toInt64(recs[j].Key["id"]) })
	return recs
}
