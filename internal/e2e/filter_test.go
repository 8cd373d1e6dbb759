package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestColumnFilters: an excluded column appears in no record and no schema,
// in the snapshot and the stream; key_columns keys a table that has no
// primary key; an excluded table gets no topic.
func TestColumnFilters(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE cust (id INT PRIMARY KEY, name VARCHAR(20), tax_id VARCHAR(20))")
	e.exec("CREATE TABLE events (event_id INT NOT NULL, body VARCHAR(20))")
	e.exec("CREATE TABLE secret (id INT PRIMARY KEY)")
	e.exec("INSERT INTO cust VALUES (1, 'ann', 'T-111')")
	db := e.dbName
	cfg := e.config("")
	cfg.Source.ExcludeTables = []string{db + ".secret"}
	cfg.Source.ExcludeColumns = []string{db + ".cust.tax_id"}
	cfg.Source.KeyColumns = map[string][]string{db + ".events": {"event_id"}}
	cfg = e.reload(cfg)
	s := e.startStreamReady(cfg)
	e.exec("INSERT INTO cust VALUES (2, 'bob', 'T-222')")
	e.exec("INSERT INTO events VALUES (7, 'hello')")
	e.exec("INSERT INTO secret VALUES (1)")
	cust := e.consume("fx."+db+".cust", 2, 30*time.Second)
	ev := e.consume("fx."+db+".events", 1, 30*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	for _, r := range cust {
		row := rowOf(r.Value["after"])
		if _, ok := row["tax_id"]; ok || len(row) != 2 {
			t.Errorf("cust row %v still has the excluded column", row)
		}
	}
	if fmt.Sprint(ev[0].Key) != "map[event_id:7]" {
		t.Errorf("events key %v, want event_id 7", ev[0].Key)
	}
	if got := e.consumeUntilQuiet("fx."+db+".secret", time.Second); len(got) != 0 {
		t.Errorf("excluded table produced %d records", len(got))
	}
	if schema := e.latestSchema("fx." + db + ".cust-value"); strings.Contains(schema, "tax_id") {
		t.Errorf("value schema mentions the excluded column: %s", schema)
	}
}
