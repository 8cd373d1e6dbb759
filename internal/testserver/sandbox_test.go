package testserver_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestFreePort(t *testing.T) {
	p, err := testserver.FreePort()
	if err != nil || p <= 0 || p > 65535 {
		t.Fatalf("FreePort() = %d, %v", p, err)
	}
	if err := testserver.Available("nope"); err == nil {
		t.Fatal("Available(unknown kind) = nil")
	}
}

func TestMariaDB(t *testing.T) {
	t.Parallel()
	start := time.Now()
	m := testserver.MariaDBT(t, testserver.MariaDBOptions{ServerID: 7})
	t.Logf("mariadb ready on %s in %v", m.Addr(), time.Since(start))
	ctx := ctxT(t)

	mustExec(t, m.Exec(ctx, "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, s TEXT, n TEXT)"))
	mustExec(t, m.Exec(ctx, "INSERT INTO app.t VALUES (?, ?, ?), (?, ?, ?)",
		1, "it's a \"test\"\n?", nil, 2, "", "x"))
	checkMariaRows(ctx, t, m)
	for name, want := range map[string]string{
		"SELECT @@log_bin": "1", "SELECT @@binlog_format": "ROW",
		"SELECT @@server_id": "7", "SELECT @@binlog_row_metadata": "FULL",
		"SELECT COUNT(*) FROM mysql.user WHERE user = 'root' AND host = '%'": "1",
		// production defaults, not friendly ones
		"SELECT @@character_set_server":                      "latin1",
		"SELECT @@time_zone":                                 "SYSTEM",
		"SELECT TIMESTAMPDIFF(HOUR, UTC_TIMESTAMP(), NOW())": "-3",
	} {
		if got, err := m.QueryValue(ctx, name); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}

	if got, err := m.QueryValue(ctx, "SET @a = ?; SELECT @a", "z"); err != nil || got != "z" {
		t.Errorf("@a = %q, %v", got, err)
	}

	restart := time.Now()
	m.Kill()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("mariadb Kill+Start took %v", time.Since(restart))
	checkMariaRows(ctx, t, m)

	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("Exec after Stop succeeded")
	}
}

func checkMariaRows(ctx context.Context, t *testing.T, m *testserver.MariaDB) {
	t.Helper()
	r, err := m.Query(ctx, "SELECT id, s, n FROM app.t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Columns, ",") != "id,s,n" || len(r.Rows) != 2 {
		t.Fatalf("result = %+v", r)
	}
	row := r.Rows[0]
	if row[0].String != "1" || row[1].String != "it's a \"test\"\n?" || row[2].Valid {
		t.Errorf("row 1 = %+v", row)
	}
	row = r.Rows[1]
	if !row[1].Valid || row[1].String != "" || row[2].String != "x" {
		t.Errorf("row 2 = %+v", row)
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	start := time.Now()
	p := testserver.PostgresT(t, testserver.PostgresOptions{})
	t.Logf("postgres ready on %s in %v", p.Addr(), time.Since(start))
	ctx := ctxT(t)

	mustExec(t, p.Exec(ctx, "CREATE DATABASE app"))
	mustExec(t, p.ExecDB(ctx, "app", `CREATE TABLE t (id int PRIMARY KEY, s text, n text);
		INSERT INTO t VALUES (1, 'a,"b"', NULL), (2, '', 'x');`))
	checkPgRows(ctx, t, p)
	for q, want := range map[string]string{
		"SHOW wal_level": "logical",
		// production defaults, not friendly ones
		"SHOW TimeZone": testserver.DefaultTimeZone, "SHOW DateStyle": "SQL, DMY", "SHOW IntervalStyle": "postgres_verbose",
	} {
		if got, err := p.QueryValue(ctx, q); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", q, got, err, want)
		}
	}

	restart := time.Now()
	p.Kill()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("postgres Kill+Start took %v", time.Since(restart))
	checkPgRows(ctx, t, p)
	if err := p.Exec(ctx, "SELEC 1"); err == nil {
		t.Error("Exec of bad SQL succeeded")
	}
}

func checkPgRows(ctx context.Context, t *testing.T, p *testserver.Postgres) {
	t.Helper()
	r, err := p.QueryDB(ctx, "app", "SELECT id, s, n FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Columns, ",") != "id,s,n" || len(r.Rows) != 2 {
		t.Fatalf("result = %+v", r)
	}
	if row := r.Rows[0]; row[1].String != `a,"b"` || row[2].Valid {
		t.Errorf("row 1 = %+v", row)
	}
	if row := r.Rows[1]; !row[1].Valid || row[1].String != "" || row[2].String != "x" {
		t.Errorf("row 2 = %+v", row)
	}
}

func TestKafka(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, seeds := testserver.KafkaT(t, kfake.DataDir(dir))
	produceOne(t, seeds, "events", "k", "v")

	addrs := testserver.StopKafka(c)
	c2, err := testserver.RestartKafka(addrs, kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c2.Close)
	rec := consumeOne(t, seeds, "events")
	if string(rec.Key) != "k" || string(rec.Value) != "v" {
		t.Fatalf("consumed %q=%q", rec.Key, rec.Value)
	}
}

func produceOne(t *testing.T, seeds []string, topic, k, v string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte(v)}
	if err := cl.ProduceSync(ctxT(t), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func consumeOne(t *testing.T, seeds []string, topic string) *kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		if recs := fs.Records(); len(recs) > 0 {
			return recs[0]
		}
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	_, url := testserver.RegistryT(t)
	const schema = `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`
	body, _ := json.Marshal(map[string]string{"schema": schema})
	resp, err := http.Post(url+"/subjects/x/versions", "application/vnd.schemaregistry.v1+json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	var reg struct{ ID int }
	decodeJSON(t, resp, &reg)
	if reg.ID <= 0 {
		t.Fatalf("registered id %d", reg.ID)
	}
	resp, err = http.Get(url + "/subjects/x/versions/1")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID      int
		Version int
		Schema  string
	}
	decodeJSON(t, resp, &got)
	if got.ID != reg.ID || got.Version != 1 || !strings.Contains(got.Schema, `"name":"R"`) {
		t.Fatalf("fetched %+v", got)
	}
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func mustExec(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
