package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	hamba "github.com/hamba/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/checkpoint"
	"github.com/fluxo-cdc/fluxo/internal/command"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// sharedDB is one MariaDB for the package's tests; each test uses its own
// database in it.
var sharedDB struct {
	once sync.Once
	db   *testserver.MariaDB
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDB.db != nil {
		sharedDB.db.Close()
	}
	os.Exit(code)
}

// env is one test's world: a database on the shared MariaDB, a fresh
// in-process Kafka and schema registry.
type env struct {
	t       *testing.T
	db      *testserver.MariaDB
	dbName  string
	kafka   *kfake.Cluster
	brokers []string
	regURL  string
	dir     string
	pg      *testserver.Postgres // set for PostgreSQL tests, db for MariaDB ones
	ready   int                  // marker rows written by startStreamReady
	// schemas caches the registry's schemas by URL and id, per test: a
	// later test's registry may get the same port and reuse the ids.
	schemas *sync.Map
	// logCopy, when set, also receives fluxo's logs, at debug level.
	logCopy *lockedBuffer
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logger is the slog logger of fluxo components the test runs.
func (e *env) logger() *slog.Logger {
	var w io.Writer = testWriter{e.t}
	level := slog.LevelInfo
	if e.logCopy != nil {
		w, level = io.MultiWriter(w, e.logCopy), slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func newEnv(t *testing.T) *env {
	t.Helper()
	testserver.Require(t, "mariadb")
	sharedDB.once.Do(func() {
		sharedDB.db, sharedDB.err = testserver.StartMariaDB(context.Background(), testserver.MariaDBOptions{})
	})
	if sharedDB.err != nil {
		t.Fatalf("start mariadb: %v", sharedDB.err)
	}
	e := &env{t: t, db: sharedDB.db, dir: t.TempDir(), schemas: new(sync.Map)}
	e.dbName = strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	if len(e.dbName) > 60 {
		e.dbName = e.dbName[:60]
	}
	e.exec("DROP DATABASE IF EXISTS `" + e.dbName + "`")
	e.exec("CREATE DATABASE `" + e.dbName + "`")
	e.kafka, e.brokers = testserver.KafkaT(t)
	_, e.regURL = testserver.RegistryT(t)
	return e
}

// server returns how to kill the test's (shared) database server and start
// it again; a test that kills it must start it for the tests after it.
func (e *env) server() (kill func(), start func(context.Context) error) {
	if e.pg != nil {
		return e.pg.Kill, e.pg.Start
	}
	return e.db.Kill, e.db.Start
}

// saveCheckpoint stores pos as cfg's checkpoint, as a stream would.
func saveCheckpoint(t *testing.T, cfg *config.Config, connector cdc.Connector, pos interface {
	MarshalBinary() ([]byte, error)
	String() string
}) {
	t.Helper()
	b, err := pos.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	cp := &checkpoint.Checkpoint{Name: cfg.Name, Connector: connector, Position: b, Describe: pos.String(), SavedAt: time.Now()}
	if err := checkpoint.NewFile(cfg.Checkpoint.Path, cfg.Name).Save(context.Background(), cp); err != nil {
		t.Fatal(err)
	}
}

// unicodeTable is the table option that gives a table every Unicode
// character: the test databases have the server's default character set,
// latin1 on MariaDB, as on a factory-default server.
func (e *env) unicodeTable() string {
	if e.pg != nil {
		return ""
	}
	return " CHARACTER SET utf8mb4"
}

// addr is the MariaDB address, or "" in PostgreSQL tests.
func (e *env) addr() string {
	if e.db == nil {
		return ""
	}
	return e.db.Addr()
}

// topic is the topic of a table in the test's database (schema public on
// PostgreSQL).
func (e *env) topic(table string) string {
	if e.pg != nil {
		return "fx.public." + table
	}
	return "fx." + e.dbName + "." + table
}

// conn opens a client connection to the test's database.
func (e *env) conn() *client.Conn {
	e.t.Helper()
	c := mariadbConn(e.t, e.db.Addr(), e.dbName)
	e.t.Cleanup(func() { c.Close() })
	return c
}

// mariadbConn opens a root connection that talks utf8mb4, as a client
// application does (the test server's own default is latin1).
func mariadbConn(t testing.TB, addr, db string) *client.Conn {
	t.Helper()
	c, err := client.Connect(addr, "root", "", db)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if _, err := c.Execute("SET NAMES utf8mb4"); err != nil {
		c.Close()
		t.Fatalf("connect: %v", err)
	}
	return c
}

func (e *env) exec(q string, args ...any) {
	e.t.Helper()
	if e.pg != nil {
		e.pgExec(q, args...)
		return
	}
	c := mariadbConn(e.t, e.db.Addr(), "")
	defer c.Close()
	if e.dbName != "" {
		c.UseDB(e.dbName)
	}
	if _, err := c.Execute(q, args...); err != nil {
		e.t.Fatalf("exec %q: %v", q, err)
	}
}

// reload writes cfg's filters back through the YAML loader, so that a test
// can set them in Go and still get the loader's validation.
func (e *env) reload(cfg *config.Config) *config.Config {
	e.t.Helper()
	var b strings.Builder
	b.WriteString("  exclude_tables: [" + strings.Join(cfg.Source.ExcludeTables, ", ") + "]\n")
	b.WriteString("  exclude_columns: [" + strings.Join(cfg.Source.ExcludeColumns, ", ") + "]\n")
	b.WriteString("  key_columns:\n")
	for k, v := range cfg.Source.KeyColumns {
		b.WriteString("    " + k + ": [" + strings.Join(v, ", ") + "]\n")
	}
	return e.configSource(b.String(), "")
}

// config writes and loads a config for the test's database; extra is YAML
// appended verbatim (top-level keys).
func (e *env) config(extra string) *config.Config {
	e.t.Helper()
	return e.configSource("", extra)
}

// configSource is config with extra lines in the source section.
func (e *env) configSource(source, extra string) *config.Config {
	e.t.Helper()
	src := fmt.Sprintf("  dsn: mysql://root@%s/%s\n  tables: [%s.*]\n  server_id: 9001\n", e.addr(), e.dbName, e.dbName)
	if e.pg != nil {
		src = fmt.Sprintf("  dsn: %s\n  tables: [public.*]\n  slot: fluxo_%s\n", e.pg.DSN("postgres", "", e.dbName), e.dbName)
	}
	y := fmt.Sprintf(`name: t
source:
%s%skafka:
  brokers: [%s]
  topic_prefix: fx
schema_registry:
  url: %s
checkpoint:
  path: %s
http:
  listen: 127.0.0.1:0
%s`, src, source, strings.Join(e.brokers, ","), e.regURL, filepath.Join(e.dir, "t.checkpoint"), extra)
	path := filepath.Join(e.dir, "fluxo.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		e.t.Fatal(err)
	}
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		e.t.Fatalf("config: %v\n%s", err, y)
	}
	return cfg
}

// streamer is a running `fluxo stream` inside the test process.
type streamer struct {
	cancel  context.CancelFunc
	done    chan error
	stopped bool
	err     error
	reg     *prometheus.Registry
	addr    chan string // the HTTP endpoint's address, once it listens
}

func (e *env) startStream(cfg *config.Config) *streamer {
	ctx, cancel := context.WithCancel(context.Background())
	s := &streamer{cancel: cancel, done: make(chan error, 1), reg: prometheus.NewRegistry(), addr: make(chan string, 1)}
	log := e.logger()
	o := command.StreamOptions{Metrics: s.reg, Listening: func(a string) { s.addr <- a }}
	go func() {
		err := command.Stream(ctx, cfg, o, log)
		if err != nil && ctx.Err() == nil {
			e.t.Logf("stream ended early: %v", err)
		}
		s.done <- err
	}()
	e.t.Cleanup(func() { s.stop() })
	return s
}

// startStreamReady starts the stream and returns once it reads live
// changes: it writes marker rows until one arrives, so that writes made
// afterwards are read from the binlog whatever the snapshot mode.
func (e *env) startStreamReady(cfg *config.Config) *streamer {
	e.t.Helper()
	e.exec("CREATE TABLE IF NOT EXISTS zz_ready (id INT PRIMARY KEY)")
	s := e.startStream(cfg)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		e.ready++
		e.exec(fmt.Sprintf("INSERT INTO zz_ready VALUES (%d)", e.ready))
		for _, r := range e.consumeUntilQuiet(e.topic("zz_ready"), 700*time.Millisecond) {
			if toInt64(r.Key["id"]) == int64(e.ready) {
				return s
			}
		}
	}
	e.t.Fatal("the stream did not pick up changes within 30s")
	return nil
}

// stop stops the stream like SIGTERM does and returns its error.
func (s *streamer) stop() error {
	s.cancel()
	if s.stopped {
		return s.err
	}
	select {
	case err := <-s.done:
		s.stopped, s.err = true, err
		return err
	case <-time.After(60 * time.Second):
		return fmt.Errorf("stream did not stop within 60s")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// record is a consumed and decoded Kafka record.
type record struct {
	Partition int32
	Offset    int64
	Key       map[string]any // nil for a null key
	Value     map[string]any // nil for a tombstone
}

// reader is a consumer of topic from its first offset.
func (e *env) reader(topic string) *kgo.Client {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		e.t.Fatal(err)
	}
	return cl
}

// consume reads topic from the beginning until n records arrived (or fails
// after timeout) and decodes them through the registry.
func (e *env) consume(topic string, n int, timeout time.Duration) []record {
	e.t.Helper()
	raw := e.consumeRaw(topic, n, timeout)
	out := make([]record, len(raw))
	for i, r := range raw {
		out[i] = record{Partition: r.Partition, Offset: r.Offset, Key: e.decode(r.Key), Value: e.decode(r.Value)}
	}
	return out
}

// consumeRaw reads topic from the beginning until n records arrived and
// returns them undecoded.
func (e *env) consumeRaw(topic string, n int, timeout time.Duration) []*kgo.Record {
	e.t.Helper()
	cl := e.reader(topic)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("topic %s: got %d records, want %d", topic, len(out), n)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// consumeUntilQuiet reads topic from the beginning until no record arrived
// for quiet.
func (e *env) consumeUntilQuiet(topic string, quiet time.Duration) []record {
	e.t.Helper()
	cl := e.reader(topic)
	defer cl.Close()
	var out []record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			out = append(out, record{Partition: r.Partition, Offset: r.Offset, Key: e.decode(r.Key), Value: e.decode(r.Value)})
		})
		if n == 0 {
			return out
		}
	}
}

// decode decodes a Confluent-framed Avro datum with the schema the registry
// holds for its id.
func (e *env) decode(b []byte) map[string]any {
	e.t.Helper()
	if b == nil {
		return nil
	}
	if len(b) < 5 || b[0] != 0 {
		e.t.Fatalf("not Confluent framed: % x", b[:min(len(b), 8)])
	}
	schema := e.schema(int(binary.BigEndian.Uint32(b[1:5])))
	var m map[string]any
	if err := bigValues.Unmarshal(schema, b[5:], &m); err != nil {
		e.t.Fatalf("decode: %v", err)
	}
	return m
}

// bigValues decodes values up to 64 MiB (hamba's default stops at 1 MiB).
var bigValues = hamba.Config{MaxByteSliceSize: 64 << 20}.Freeze()

func (e *env) schema(id int) hamba.Schema {
	key := fmt.Sprintf("%s/%d", e.regURL, id)
	if s, ok := e.schemas.Load(key); ok {
		return s.(hamba.Schema)
	}
	resp, err := http.Get(fmt.Sprintf("%s/schemas/ids/%d", e.regURL, id))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc struct{ Schema string }
	if err := json.Unmarshal(body, &doc); err != nil {
		e.t.Fatalf("registry answer %s: %v", body, err)
	}
	s, err := hamba.Parse(doc.Schema)
	if err != nil {
		e.t.Fatalf("parse schema %d: %v", id, err)
	}
	e.schemas.Store(key, s)
	return s
}

// rowOf unwraps a decoded ["null", Value] union (hamba decodes a record
// branch as a map keyed by the record's full name) into the row's fields.
func rowOf(v any) map[string]any {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil
	}
	for name, inner := range m {
		if row, ok := inner.(map[string]any); ok && strings.HasSuffix(name, ".Value") {
			return row
		}
	}
	return nil
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func describeAll(recs []record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprintf("%v %v", r.Key, r.Value["op"])
	}
	return out
}
