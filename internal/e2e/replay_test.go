package e2e

import (
	"context"
	"fmt"
	"github.com/jackc/pgx/v5"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// replay applies a topic's records in partition order, as a compacting
// consumer would, and returns the final row per key (by the "id" column).
func replay(recs []record) map[int64]map[string]any {
	byPartitionOffset(recs)
	state := map[int64]map[string]any{}
	for _, r := range recs {
		id := toInt64(r.Key["id"])
		if r.Value == nil || r.Value["op"] == "d" {
			delete(state, id)
			continue
		}
		state[id] = rowOf(r.Value["after"])
	}
	return state
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	}
	panic(fmt.Sprintf("not an integer: %T %v", v, v))
}

// tableState reads the "kv" table (id INT PK, v INT, s VARCHAR) into the
// shape replay produces.
func (e *env) tableState(table string) map[int64]map[string]any {
	e.t.Helper()
	if e.pg != nil {
		return e.pgTableState(table)
	}
	c := e.conn()
	r, err := c.Execute("SELECT id, v, s FROM " + table)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	out := map[int64]map[string]any{}
	for i := range r.Values {
		id, _ := r.GetInt(i, 0)
		v, _ := r.GetInt(i, 1)
		s, _ := r.GetString(i, 2) // the result's buffer, pooled after Close: copied
		out[id] = map[string]any{"id": int(id), "v": int(v), "s": strings.Clone(s)}
	}
	return out
}

// sameState reports whether the replayed topic equals the table.
func sameState(got, want map[int64]map[string]any) bool {
	if len(got) != len(want) {
		return false
	}
	for id, w := range want {
		if g, ok := got[id]; !ok || fmt.Sprint(g) != fmt.Sprint(w) {
			return false
		}
	}
	return true
}

// waitConverged waits until the replay of table's topic equals the table
// (which no longer changes), failing with the differences after d.
func (e *env) waitConverged(t *testing.T, table string, d time.Duration) {
	t.Helper()
	want := e.tableState(table)
	var got map[int64]map[string]any
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		if got = replay(e.drain(e.topic(table), 500*time.Millisecond)); sameState(got, want) {
			return
		}
	}
	compareState(t, got, want)
}

// compareState fails the test when the replayed topic differs from the
// table.
func compareState(t *testing.T, got, want map[int64]map[string]any) {
	t.Helper()
	bad := 0
	for id, w := range want {
		g, ok := got[id]
		if !ok || fmt.Sprint(g) != fmt.Sprint(w) {
			if bad++; bad <= 10 {
				t.Errorf("id %d: topic has %v, table has %v", id, g, w)
			}
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			if bad++; bad <= 10 {
				t.Errorf("id %d: topic has %v, table has no such row", id, g)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d keys differ (table has %d rows, topic replays to %d)", bad, len(want), len(got))
	}
}

// writer commits random inserts, updates (of values and of primary keys)
// and deletes to table "kv" until stopped, in transactions of 1-20
// statements.
type writer struct {
	stop    chan struct{}
	halt    sync.Once // closes stop
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error
	commits int
	ops     int
}

func (e *env) startWriter(table string, seed uint64) *writer {
	return e.startPacedWriter(table, seed, 0)
}

// startPacedWriter is startWriter with a pause after each transaction (0:
// none), so that a fault lasting seconds leaves a backlog of a few thousand
// changes rather than a hundred thousand.
func (e *env) startPacedWriter(table string, seed uint64, pause time.Duration) *writer {
	w := &writer{stop: make(chan struct{})}
	e.t.Cleanup(w.halted) // a test that failed before finish must not leave it writing
	c, closeConn := e.sqlConn()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer closeConn()
		rng := rand.New(rand.NewPCG(seed, 7))
		next := 1_000_000
		for {
			if !w.wait(pause) {
				return
			}
			n, err := writeTx(c, table, rng, &next)
			w.mu.Lock()
			w.commits++
			w.ops += n
			if err != nil && w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return w
}

// wait pauses for d, or not at all when d is 0; false means stop.
func (w *writer) wait(d time.Duration) bool {
	if d == 0 {
		select {
		case <-w.stop:
			return false
		default:
			return true
		}
	}
	select {
	case <-w.stop:
		return false
	case <-time.After(d):
		return true
	}
}

// execer runs one SQL statement.
type execer func(q string) error

// sqlConn opens a connection to the test's database as an execer.
func (e *env) sqlConn() (execer, func()) {
	e.t.Helper()
	if e.pg != nil {
		c, err := pgx.Connect(context.Background(), e.clientDSN())
		if err != nil {
			e.t.Fatal(err)
		}
		return func(q string) error { _, err := c.Exec(context.Background(), q); return err },
			func() { c.Close(context.Background()) }
	}
	c := mariadbConn(e.t, e.db.Addr(), e.dbName)
	return func(q string) error { _, err := c.Execute(q); return err }, func() { c.Close() }
}

func writeTx(c execer, table string, rng *rand.Rand, next *int) (int, error) {
	n := 1 + rng.IntN(20)
	if err := c("BEGIN"); err != nil {
		return 0, err
	}
	for range n {
		var q string
		switch rng.IntN(10) {
		case 0, 1, 2, 3:
			*next++
			q = fmt.Sprintf("INSERT INTO %s VALUES (%d, %d, 'w%d')", table, *next, rng.IntN(1000), *next)
		case 4, 5, 6, 7:
			q = fmt.Sprintf("UPDATE %s SET v = v + 1, s = 'u%d' WHERE id = %d", table, rng.IntN(1000), pick(rng, *next))
		case 8:
			q = fmt.Sprintf("DELETE FROM %s WHERE id = %d", table, pick(rng, *next))
		default:
			if rng.IntN(2) == 0 { // a primary-key change: a delete of the old key and a create of the new one
				*next++
				q = fmt.Sprintf("UPDATE %s SET id = %d, s = 'k%d' WHERE id = %d", table, *next, *next, pick(rng, *next-1))
				break
			}
			// a multi-row update of up to 50 ids (two independent picks could span every row)
			from := pick(rng, *next)
			q = fmt.Sprintf("UPDATE %s SET v = (v * 7 + 3) %% 100000 WHERE id BETWEEN %d AND %d", table, from, from+rng.IntN(50))
		}
		if err := c(q); err != nil {
			return 0, fmt.Errorf("%s: %w", q, err)
		}
	}
	if rng.IntN(10) == 0 {
		return n, c("ROLLBACK")
	}
	return n, c("COMMIT")
}

// pick returns an id that probably exists: seeded rows are 1..200, the
// writer's own from 1,000,001 on.
func pick(rng *rand.Rand, next int) int {
	if rng.IntN(2) == 0 {
		return 1 + rng.IntN(200)
	}
	return 1_000_001 + rng.IntN(max(next-1_000_000, 1))
}

// halted stops the writer and waits for it.
func (w *writer) halted() {
	w.halt.Do(func() { close(w.stop) })
	w.wg.Wait()
}

func (w *writer) finish(t *testing.T) {
	t.Helper()
	w.halted()
	if w.err != nil {
		t.Fatalf("writer: %v", w.err)
	}
	t.Logf("writer: %d transactions, %d statements", w.commits, w.ops)
}

// seedKV creates table kv with 200 rows.
func (e *env) seedKV() {
	e.exec("CREATE TABLE kv (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(32) NOT NULL)")
	if e.pg != nil {
		e.exec("INSERT INTO kv SELECT g, g % 97, 's' || g FROM generate_series(1, 200) g")
		return
	}
	e.exec("INSERT INTO kv SELECT seq, seq % 97, CONCAT('s', seq) FROM seq_1_to_200")
}

// drain consumes a topic until it has been quiet for quiet, returning all
// records.
func (e *env) drain(topic string, quiet time.Duration) []record {
	return e.consumeUntilQuiet(topic, quiet)
}

// newRand returns a random source seeded from the clock and logs the seed,
// so that a failure can be replayed.
func newRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	return rand.New(rand.NewPCG(seed, 11))
}

// pgTableState is tableState on PostgreSQL.
func (e *env) pgTableState(table string) map[int64]map[string]any {
	e.t.Helper()
	rows, err := e.pgConn().Query(context.Background(), "SELECT id, v, s FROM "+table)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]map[string]any{}
	for rows.Next() {
		var id, v int32
		var s string
		if err := rows.Scan(&id, &v, &s); err != nil {
			e.t.Fatal(err)
		}
		out[int64(id)] = map[string]any{"id": int(id), "v": int(v), "s": s}
	}
	return out
}

// byPartitionOffset sorts records into partition, then offset order.
func byPartitionOffset(recs []record) []record {
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].Partition != recs[j].Partition {
			return recs[i].Partition < recs[j].Partition
		}
		return recs[i].Offset < recs[j].Offset
	})
	return recs
}
