package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// TestSinkCurrentState: a stream's changes, written into the lake by two
// `fluxo sink` processes that are killed (SIGKILL) and restarted at random
// points, hold every change exactly once, and the latest full load plus
// the changes after its position (the README's DuckDB query) equal the
// source table after inserts, updates, deletes, key changes and a schema
// change.
func TestSinkCurrentState(t *testing.T) {
	testserver.DuckDBT(t)
	forEachBackend(t, func(t *testing.T, e *env) { testSinkCurrentState(t, e, "parquet", "") })
}

// TestSinkCurrentStateS3 is TestSinkCurrentState (MariaDB, Parquet) with
// the lake on S3 (gofakes3): the full load and both sink processes write
// to it, and the checks read a copy of the bucket.
func TestSinkCurrentStateS3(t *testing.T) {
	testserver.DuckDBT(t)
	e := newEnv(t)
	endpoint := testserver.FakeS3T(t, "lake")
	testserver.S3Credentials(t, "test")
	testSinkCurrentState(t, e, "parquet", "s3://lake/bronze?region=us-east-1&use_path_style=true&endpoint="+endpoint)
}

// TestSinkCurrentStateAvro is TestSinkCurrentState with Avro files, read
// by Apache Avro's reader (Debian's python3-avro), the state computed as
// the README's query does.
func TestSinkCurrentStateAvro(t *testing.T) {
	requirePythonAvro(t)
	testserver.DuckDBT(t) // the topic's count
	testSinkCurrentState(t, newEnv(t), "avro", "")
}

// testSinkCurrentState runs the test with the lake at s3URL, or in a
// directory when it is empty.
func testSinkCurrentState(t *testing.T, e *env, format, s3URL string) {
	bin, err := fluxoBinary()
	if err != nil {
		t.Fatal(err)
	}
	schema := e.dbName
	if e.pg != nil {
		schema = "public"
		e.exec("CREATE TABLE items (id int8 PRIMARY KEY, name varchar(40), amount numeric(10,2), note text)")
		e.exec("INSERT INTO items SELECT g, 'item ' || g, g * 1.25, NULL FROM generate_series(1, 2000) g")
	} else {
		e.exec("CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(10,2), note TEXT)")
		e.exec("INSERT INTO items SELECT seq, CONCAT('item ', seq), seq * 1.25, NULL FROM seq_1_to_2000")
	}
	lake, lakeURL := filepath.Join(e.dir, "lake"), "file://"+filepath.Join(e.dir, "lake")
	if s3URL != "" {
		lakeURL = s3URL
	}
	// local returns a directory holding the lake: the lake itself, or a
	// fresh copy of the bucket.
	local := func() string {
		if s3URL == "" {
			return lake
		}
		return mirrorStore(t, s3URL, lake)
	}
	t.Setenv("FLUXO_SINK_ID", "unused") // each sink process has its own
	cfg := e.config("snapshot:\n  mode: never\nbronze:\n  url: " + lakeURL + "\n  format: " + format + "\n" +
		"sink:\n  flush_interval: 300ms\n  max_file_bytes: 65536\n  session_timeout: 6s\n  instance_id: ${FLUXO_SINK_ID}\n")
	cfgPath := filepath.Join(e.dir, "fluxo.yaml")
	stream := e.startStreamReady(cfg)
	defer stream.stop()
	if err := e.runFullload(cfg, "r1", schema+".items"); err != nil {
		t.Fatal(err)
	}
	position := manifestPosition(t, runDir(t, local(), schema, "items", "r1"))

	sinks := []*exec.Cmd{sinkProcess(t, bin, cfgPath, "sink-0"), sinkProcess(t, bin, cfgPath, "sink-1")}
	rng := newRand(t)
	step := func(i int) {
		switch i % 6 {
		case 0:
			e.exec(fmt.Sprintf("UPDATE items SET name = 'renamed %d', amount = amount + 1 WHERE id %% 7 = %d", i, i%7))
		case 1:
			e.exec(fmt.Sprintf("DELETE FROM items WHERE id %% 13 = %d", i%13))
		case 2:
			e.exec(fmt.Sprintf("INSERT INTO items (id, name, amount) VALUES (%d, 'new %d', %d.5)", 10000+i, i, i))
		case 3: // a key change: a delete of the old key and a create of the new one
			e.exec(fmt.Sprintf("UPDATE items SET id = id + 100000 WHERE id %% 17 = %d AND id < 100000", i%17))
		case 4:
			e.exec(fmt.Sprintf("UPDATE items SET note = 'note %d' WHERE id %% 5 = %d", i, i%5))
		case 5:
			e.exec(fmt.Sprintf("INSERT INTO items (id, name) VALUES (%d, NULL)", 20000+i))
		}
	}
	for i := range 24 {
		step(i)
		if i == 4 { // the full load's rows go, and rows with their keys come back
			e.exec("TRUNCATE TABLE items")
			if e.pg != nil {
				e.exec("INSERT INTO items SELECT g, 'again ' || g, g * 2.5, NULL FROM generate_series(1, 1500) g")
			} else {
				e.exec("INSERT INTO items SELECT seq, CONCAT('again ', seq), seq * 2.5, NULL FROM seq_1_to_1500")
			}
		}
		if i == 12 { // a schema change half way
			e.exec("ALTER TABLE items ADD COLUMN extra int")
			e.exec("UPDATE items SET extra = id % 3 WHERE id % 2 = 0")
		}
		if rng.IntN(4) == 0 { // kill one sink at a random point and start another
			k := rng.IntN(2)
			sinks[k].Process.Signal(syscall.SIGKILL)
			sinks[k].Wait()
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
			sinks[k] = sinkProcess(t, bin, cfgPath, fmt.Sprintf("sink-%d", k)) // as a pod's container restarts
		}
		time.Sleep(time.Duration(50+rng.IntN(200)) * time.Millisecond)
	}
	want := e.itemsState()
	state := func() ([][5]string, error) {
		lake := local()
		if format == "avro" {
			return avroState(t, lake, schema, "items", "r1", position), nil
		}
		query := currentStateQuery(lake, schema, "items", "r1", position)
		rows, err := testserver.DuckDBQuery(context.Background(), query)
		if err != nil {
			return nil, fmt.Errorf("duckdb: %w\n%s", err, query)
		}
		return normalize(rows), nil
	}
	var got [][5]string
	for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if got, err = state(); err == nil && reflect.DeepEqual(got, want) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the lake's current state differs from the table:\n lake  %d rows %v\n table %d rows %v", len(got), head(got), len(want), head(want))
	}
	lake = local()
	if format == "avro" {
		avroOnce(t, lake, schema, e.countValues(e.topic("items")))
		stopSinks(t, sinks)
		return
	}
	// Every change is in the lake once: no partition offset twice, and as
	// many rows as the topic holds records with a value.
	dups, err := testserver.DuckDBQuery(context.Background(), fmt.Sprintf(
		`SELECT _partition, _offset, count(*) AS n FROM read_parquet(%s, union_by_name = true) GROUP BY ALL HAVING n > 1`,
		testserver.DuckDBString(changesGlob(lake, schema, "items"))))
	if err != nil || len(dups) > 0 {
		t.Fatalf("changes in the lake more than once: %v %v", dups, err)
	}
	rows, err := testserver.DuckDBQuery(context.Background(), fmt.Sprintf(`SELECT count(*) AS n FROM read_parquet(%s, union_by_name = true)`,
		testserver.DuckDBString(changesGlob(lake, schema, "items"))))
	if err != nil {
		t.Fatal(err)
	}
	if n, values := fmt.Sprint(rows[0]["n"]), e.countValues(e.topic("items")); n != fmt.Sprint(values) {
		t.Fatalf("the lake holds %s change rows, the topic %d changes", n, values)
	}
	stopSinks(t, sinks)
}

// mirrorStore copies every object of the store at url into dir, replacing
// what dir held, and returns dir.
func mirrorStore(t *testing.T, url, dir string) string {
	t.Helper()
	ctx := context.Background()
	store, err := bronze.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	keys, err := store.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		raw, err := store.Read(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("mirrored %d objects of %s", len(keys), url)
	return dir
}

// stopSinks stops the sink processes as systemd or Kubernetes do (SIGTERM)
// and wants a clean exit.
func stopSinks(t *testing.T, sinks []*exec.Cmd) {
	for _, s := range sinks {
		s.Process.Signal(syscall.SIGTERM)
		if err := s.Wait(); err != nil {
			t.Errorf("sink stopped with %v", err)
		}
	}
}

// countValues counts the records of topic that have a value (not tombstones).
func (e *env) countValues(topic string) int {
	n := 0
	for _, r := range e.consumeUntilQuiet(topic, 2*time.Second) {
		if r.Value != nil {
			n++
		}
	}
	return n
}

// avroChanges reads the Avro change files of a table with python3-avro.
func avroChanges(t *testing.T, lake, schema, table string) []pyRow {
	var files []string
	filepath.Walk(filepath.Join(lake, "t", schema, table, "changes"), func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".avro") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		return nil
	}
	return readBronzeAvro(t, files)
}

// avroOnce wants every change in the Avro files once: no partition offset
// twice, and values rows in all.
func avroOnce(t *testing.T, lake, schema string, values int) {
	seen := map[string]bool{}
	rows := avroChanges(t, lake, schema, "items")
	for _, r := range rows {
		k := pyText(r.Value["_partition"]) + "/" + pyText(r.Value["_offset"])
		if seen[k] {
			t.Fatalf("partition/offset %s in the lake twice", k)
		}
		seen[k] = true
	}
	if len(rows) != values {
		t.Fatalf("the lake holds %d change rows, the topic %d changes", len(rows), values)
	}
}

// avroState is the README's query done in Go over what python3-avro reads:
// the latest change per id after changesFrom unless a delete, and the full
// load's rows of the other ids.
func avroState(t *testing.T, lake, schema, table, runID, changesFrom string) [][5]string {
	latest := map[string]pyRow{}
	order := func(r pyRow) string {
		return pyText(r.Value["_position"]) + fmt.Sprintf("/%020s", pyText(r.Value["_offset"]))
	}
	changes, truncated := avroChanges(t, lake, schema, table), ""
	for _, r := range changes {
		if p := pyText(r.Value["_position"]); pyText(r.Value["_op"]) == "t" && p >= changesFrom && p > truncated {
			truncated = p
		}
	}
	for _, r := range changes {
		if p := pyText(r.Value["_position"]); p < changesFrom || pyText(r.Value["_op"]) == "t" || truncated != "" && p <= truncated {
			continue
		}
		id := pyText(r.Value["id"])
		if l, ok := latest[id]; !ok || order(r) > order(l) {
			latest[id] = r
		}
	}
	full, _ := filepath.Glob(filepath.Join(lake, "t", schema, table, "date=*", "run="+runID, "*.avro"))
	byID := map[int64][5]string{}
	add := func(v map[string]any) {
		id, _ := strconv.ParseInt(pyText(v["id"]), 10, 64)
		byID[id] = [5]string{pyText(v["id"]), pyText(v["name"]), pyDecimal(v["amount"], 2), pyText(v["note"]), pyText(v["extra"])}
	}
	var fullRows []pyRow
	if truncated == "" { // else emptied after the full load
		fullRows = readBronzeAvro(t, full)
	}
	for _, r := range fullRows {
		if _, changed := latest[pyText(r.Value["id"])]; !changed {
			add(r.Value)
		}
	}
	for _, r := range latest {
		if pyText(r.Value["_op"]) != "d" {
			add(r.Value)
		}
	}
	ids := slices.Sorted(maps.Keys(byID))
	out := make([][5]string, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out
}

// pyText renders a value read_bronze.py printed (tagged ints) as text,
// NULL for none.
func pyText(v any) string {
	if m, ok := v.(map[string]any); ok && m["i"] != nil {
		return fmt.Sprint(m["i"])
	}
	return str(v)
}

// pyDecimal renders a tagged decimal of scale scale.
func pyDecimal(v any, scale int) string {
	m, ok := v.(map[string]any)
	if !ok || m["b"] == nil {
		return "NULL"
	}
	return hambaLike(v, fmt.Sprintf("bytes.decimal(38,%d)", scale)).(*big.Rat).FloatString(scale)
}

// sinkProcess starts `fluxo sink` on the config, as the group's static
// member id.
func sinkProcess(t *testing.T, bin, cfgPath, id string) *exec.Cmd {
	t.Helper()
	level := cmp.Or(os.Getenv("FLUXO_TEST_SINK_LOG"), "warn") // debug to see the group at work
	cmd := exec.Command(bin, "sink", "-c", cfgPath, "--log-format", "text", "--log-level", level)
	cmd.Env = append(os.Environ(), "FLUXO_SINK_ID="+id)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		if s := out.String(); s != "" {
			t.Logf("sink %d output:\n%s", cmd.Process.Pid, s)
		}
	})
	return cmd
}

// manifestPosition returns where the changes after the first view of a
// full load run start (the view's changes_from).
func manifestPosition(t *testing.T, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Attempts []struct {
			View struct {
				ChangesFrom string `json:"changes_from"`
			} `json:"view"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Attempts) == 0 || m.Attempts[0].View.ChangesFrom == "" {
		t.Fatalf("manifest without a position: %v\n%s", err, raw)
	}
	return m.Attempts[0].View.ChangesFrom
}

func changesGlob(lake, schema, table string) string {
	return filepath.Join(lake, "t", schema, table, "changes", "**", "*.parquet")
}

// currentStateQuery is the README's query, its columns rendered for the
// comparison: the full load's rows whose key no later change touched, and
// the latest change of every other key unless it is a delete; after a
// truncate, only what the changes after the last one made.
func currentStateQuery(lake, schema, table, runID, changesFrom string) string {
	full := filepath.Join(lake, "t", schema, table, "date=*", "run="+runID, "*.parquet")
	readme := fmt.Sprintf(`WITH
  changes AS (SELECT * FROM read_parquet(%s, union_by_name = true)
              WHERE _position >= %s),
  truncated AS (SELECT max(_position) AS truncated_at FROM changes WHERE _op = 't'),
  latest AS (SELECT * FROM changes
             WHERE _op <> 't' AND _position > coalesce((SELECT truncated_at FROM truncated), '')
             QUALIFY row_number() OVER (PARTITION BY id ORDER BY _position DESC, _offset DESC) = 1),
  full_load AS (SELECT * FROM read_parquet(%s, union_by_name = true)
                WHERE (SELECT truncated_at FROM truncated) IS NULL)
SELECT * EXCLUDE (_op, _source_ts_ms, _position, _partition, _offset) FROM latest WHERE _op <> 'd'
UNION ALL BY NAME
SELECT * FROM full_load WHERE id NOT IN (SELECT id FROM latest)`,
		testserver.DuckDBString(changesGlob(lake, schema, table)), testserver.DuckDBString(changesFrom), testserver.DuckDBString(full))
	return "SELECT id, name, CAST(amount AS VARCHAR) AS amount, note, extra FROM (" + readme + ") ORDER BY id"
}

// itemsState reads the items table as the query renders it.
func (e *env) itemsState() [][5]string {
	e.t.Helper()
	var out [][5]string
	add := func(id, name, amount, note, extra any) {
		out = append(out, [5]string{str(id), str(name), str(amount), str(note), str(extra)})
	}
	if e.pg != nil {
		rows, err := e.pgConn().Query(context.Background(), "SELECT id, name, amount::text, note, extra FROM items ORDER BY id")
		if err != nil {
			e.t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				e.t.Fatal(err)
			}
			add(v[0], v[1], v[2], v[3], v[4])
		}
		return out
	}
	r, err := e.conn().Execute("SELECT id, name, CAST(amount AS CHAR), note, extra FROM items ORDER BY id")
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range r.RowNumber() {
		v := r.Values[i]
		add(v[0].Value(), v[1].Value(), v[2].Value(), v[3].Value(), v[4].Value())
	}
	return out
}

// normalize renders DuckDB's rows like itemsState.
func normalize(rows []map[string]any) [][5]string {
	out := make([][5]string, len(rows))
	for i, r := range rows {
		out[i] = [5]string{str(r["id"]), str(r["name"]), str(r["amount"]), str(r["note"]), str(r["extra"])}
	}
	return out
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	case float64:
		return fmt.Sprint(int64(x))
	}
	return fmt.Sprint(v)
}

func head(rows [][5]string) [][5]string { return rows[:min(len(rows), 8)] }
