package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestStreamOps covers snapshot reads, then inserts, updates, deletes with
// tombstones, a primary-key change, a multi-statement transaction and a
// rollback, checking op, before/after and keys as a consumer decodes them.
func TestStreamOps(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), qty INT)")
	e.exec("INSERT INTO items VALUES (1, 'one', 10), (2, 'two', 20)")
	s := e.startStream(e.config(""))
	e.consume("fx."+e.dbName+".items", 2, 30*time.Second) // snapshot done
	c := e.conn()
	for _, q := range []string{
		"INSERT INTO items VALUES (3, 'three', 30)",
		"UPDATE items SET qty = 11 WHERE id = 1",
		"DELETE FROM items WHERE id = 2",
		"UPDATE items SET id = 4 WHERE id = 3",
		"BEGIN", "INSERT INTO items VALUES (5, 'five', 50)", "UPDATE items SET name = 'FIVE' WHERE id = 5", "COMMIT",
		"BEGIN", "INSERT INTO items VALUES (6, 'six', 60)", "ROLLBACK",
	} {
		if _, err := c.Execute(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	recs := e.consume("fx."+e.dbName+".items", 11, 30*time.Second)
	if err := s.stop(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	want := []string{
		"r 1 <nil>->one", "r 2 <nil>->two",
		"c 3 <nil>->three", "u 1 one->one", "d 2 two-><nil>", "tombstone 2",
		"d 3 three-><nil>", "tombstone 3", "c 4 <nil>->three",
		"c 5 <nil>->five", "u 5 five->FIVE",
	}
	// Records of different keys may land on different partitions: compare
	// per key, in order.
	got := map[any][]string{}
	exp := map[any][]string{}
	for i, r := range recs {
		id := r.Key["id"]
		got[id] = append(got[id], describe(r))
		var wid int
		fmt.Sscanf(want[i][2:], "%d", &wid)
		if want[i][0] == 't' {
			fmt.Sscanf(want[i], "tombstone %d", &wid)
		}
		exp[wid] = append(exp[wid], want[i])
	}
	for id, w := range exp {
		if fmt.Sprint(got[id]) != fmt.Sprint(w) {
			t.Errorf("key %v: got %v, want %v", id, got[id], w)
		}
	}
	if len(recs) != len(want) {
		t.Errorf("got %d records, want %d", len(recs), len(want))
	}
}

func describe(r record) string {
	if r.Value == nil {
		return fmt.Sprintf("tombstone %v", r.Key["id"])
	}
	name := func(row any) any {
		if m := rowOf(row); m != nil {
			return m["name"]
		}
		return nil
	}
	return fmt.Sprintf("%s %v %v->%v", r.Value["op"], r.Key["id"], name(r.Value["before"]), name(r.Value["after"]))
}
