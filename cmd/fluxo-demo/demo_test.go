package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// history is what the demo printed for one key of one topic: the ops of its
// records in order ("tombstone" for a tombstone) and the row left after
// replaying them ("" when deleted).
type history struct {
	Ops   []string
	Final string
}

// TestDemo runs the demo and replays the records it printed: each key must
// have the expected records, every before must equal the row the previous
// record left, and the final rows must be what the demo wrote to MariaDB.
func TestDemo(t *testing.T) {
	testserver.Require(t, "mariadb")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	got, err := replay(out.String())
	if err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	const (
		ada     = `{"id":1,"name":"Ada Lovelace","email":"ada@example.com","tier":"gold","created_at":"2024-01-15 09:30:00"}`
		alan    = `{"id":2,"name":"Alan Turing","email":"alan@example.com","tier":"basic","created_at":"2024-02-03 14:05:12.25"}`
		grace   = `{"id":30,"name":"Grace Hopper","email":"grace@example.com","tier":"platinum","created_at":"2024-03-09 08:00:00.000001"}`
		kj      = `{"id":4,"name":"Katherine Johnson","email":"kj@example.com","tier":"basic","created_at":"2025-06-01 12:00:00.5"}`
		order1  = `{"id":101,"customer_id":1,"total":59.90,"status":"shipped","items":[{"sku":"MUG-01","qty":2}],"placed_at":"2024-05-01 10:15:00.123456"}`
		order3  = `{"id":103,"customer_id":4,"total":249.00,"status":"new","items":{"sku":"DESK-02","qty":1,"gift":true},"placed_at":"2025-06-01 12:03:30.75"}`
		deleted = ""
	)
	want := map[string]history{
		`shop.shop.customers {"id":1}`:  {[]string{"r"}, ada},
		`shop.shop.customers {"id":2}`:  {[]string{"r"}, alan},
		`shop.shop.customers {"id":3}`:  {[]string{"r", "d", "tombstone"}, deleted}, // the primary-key change
		`shop.shop.customers {"id":30}`: {[]string{"c"}, grace},
		`shop.shop.customers {"id":4}`:  {[]string{"c"}, kj},
		`shop.shop.orders {"id":101}`:   {[]string{"r", "u"}, order1},
		`shop.shop.orders {"id":102}`:   {[]string{"r", "d", "tombstone"}, deleted},
		`shop.shop.orders {"id":103}`:   {[]string{"c"}, order3},
	}
	for key, w := range want {
		if !reflect.DeepEqual(got[key], w) {
			t.Errorf("%s:\n got %+v\nwant %+v", key, got[key], w)
		}
	}
	for key := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("unexpected records for %s: %+v", key, got[key])
		}
	}
	// The full load ran after the stream stopped and order 104 was inserted:
	// the bronze files hold the table as it was then.
	order4 := `{"id":104,"customer_id":1,"total":9.90,"status":"new","items":null,"placed_at":"2025-06-02 09:00:00"}`
	var bronze []string
	for line := range strings.Lines(out.String()) {
		if row, ok := strings.CutPrefix(strings.TrimSpace(line), "bronze "); ok {
			bronze = append(bronze, row)
		}
	}
	if want := []string{order1, order3, order4}; !reflect.DeepEqual(bronze, want) {
		t.Errorf("shop.orders read back from the bronze files:\n got %q\nwant %q", bronze, want)
	}
	for _, s := range []string{"stopped cleanly", "tables:      2", "shop.orders                              complete              3", "shop.orders                              schema version 1",
		"GET /readyz   200 ready", `fluxo_events_total{op="u",table="shop.orders"} 1`, `fluxo_kafka_records_total{table="shop.customers"} 7`,
		"1 transaction behind", "ok    source.binlog_format        ROW", "0 FAIL, 0 skip: fluxo stream can start"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q", s)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
}

// recordLine matches a record line of printChanges: topic, partition/offset,
// op (blank for a tombstone), key and the rest.
var recordLine = regexp.MustCompile(`^    (shop\.\S+)\s+\d+/\d+\s+([a-z]?)\s+(\{\S*\}|null)\s+(.+)$`)

// replay reads the record lines of the demo's output and replays them per
// topic and key, checking that each before is the row the previous record
// of that key left.
func replay(output string) (map[string]history, error) {
	hist := map[string]history{}
	for line := range strings.Lines(output) {
		m := recordLine.FindStringSubmatch(strings.TrimSuffix(line, "\n"))
		if m == nil {
			continue
		}
		id, op, data := m[1]+" "+m[3], m[2], m[4]
		h := hist[id]
		if op == "" {
			if data != "tombstone" {
				return nil, fmt.Errorf("%s: a record without op is not a tombstone: %s", id, data)
			}
			h.Ops = append(h.Ops, "tombstone")
			hist[id] = h
			continue
		}
		before, after, err := splitBeforeAfter(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", id, err)
		}
		if prev := orNull(h.Final); before != prev {
			return nil, fmt.Errorf("%s: op %s: before is %s, the previous record left %s", id, op, before, prev)
		}
		if after == "null" {
			after = ""
		}
		h.Ops, h.Final = append(h.Ops, op), after
		hist[id] = h
	}
	if len(hist) == 0 {
		return nil, fmt.Errorf("the output has no record lines")
	}
	return hist, nil
}

// splitBeforeAfter splits "BEFORE -> AFTER", two compact JSON values.
func splitBeforeAfter(s string) (before, after string, err error) {
	dec := json.NewDecoder(strings.NewReader(s))
	var b json.RawMessage
	if err := dec.Decode(&b); err != nil {
		return "", "", fmt.Errorf("before of %q: %v", s, err)
	}
	after, ok := strings.CutPrefix(s[dec.InputOffset():], " -> ")
	if !ok || !json.Valid([]byte(after)) {
		return "", "", fmt.Errorf("not BEFORE -> AFTER: %q", s)
	}
	return string(b), after, nil
}

// orNull returns row, or "null" for no row.
func orNull(row string) string {
	if row == "" {
		return "null"
	}
	return row
}
