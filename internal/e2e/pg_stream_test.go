package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestPGStreamOps is TestStreamOps on PostgreSQL with the default replica
// identity: updates carry no before image unless the key changed, deletes
// carry only the key.
func TestPGStreamOps(t *testing.T) {
	e := newPGEnv(t)
	e.exec("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), qty INT)")
	e.exec("INSERT INTO items VALUES (1, 'one', 10), (2, 'two', 20)")
	s := e.startStreamReady(e.config(""))
	for _, q := range []string{
		"INSERT INTO items VALUES (3, 'three', 30)",
		"UPDATE items SET qty = 11 WHERE id = 1",
		"DELETE FROM items WHERE id = 2",
		"UPDATE items SET id = 4 WHERE id = 3",
		"BEGIN; INSERT INTO items VALUES (5, 'five', 50); UPDATE items SET name = 'FIVE' WHERE id = 5; COMMIT",
		"BEGIN; INSERT INTO items VALUES (6, 'six', 60); ROLLBACK",
	} {
		e.exec(q)
	}
	recs := e.consume(e.topic("items"), 11, 30*time.Second)
	if err := s.stop(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	want := map[int64][]string{
		1: {"r 1 <nil>->one", "u 1 <nil>->one"},
		2: {"r 2 <nil>->two", "d 2 <nil>-><nil>", "tombstone 2"},
		3: {"c 3 <nil>->three", "d 3 <nil>-><nil>", "tombstone 3"}, // the old key only
		4: {"c 4 <nil>->three"},
		5: {"c 5 <nil>->five", "u 5 <nil>->FIVE"},
	}
	got := map[int64][]string{}
	for _, r := range byPartitionOffset(recs) {
		id := toInt64(r.Key["id"])
		got[id] = append(got[id], describe(r))
	}
	for id, w := range want {
		if fmt.Sprint(got[id]) != fmt.Sprint(w) {
			t.Errorf("key %d: got %v, want %v", id, got[id], w)
		}
	}
	if len(recs) != 11 {
		t.Errorf("got %d records, want 11", len(recs))
	}
}
