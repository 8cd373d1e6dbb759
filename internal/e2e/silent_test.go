package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// silentReadTimeout is source.read_timeout in the silent-peer tests: short,
// so that they run quickly (the default is 30s).
const silentReadTimeout = 3 * time.Second

// TestSilentPeer black-holes every connection between fluxo and its
// database (a NAT gateway or firewall that drops the flows: no FIN, no
// RST, no bytes) while a writer commits all along, new connections
// passing: mid-stream, and during the initial snapshot. fluxo must notice
// within source.read_timeout, say so (/readyz 503, the silence metric),
// reconnect and resume, and the replayed topics must equal the tables.
func TestSilentPeer(t *testing.T) {
	for _, b := range []struct {
		name string
		env  func(*testing.T) *env
	}{{"mariadb", newEnv}, {"postgres", newPGEnv}} {
		t.Run(b.name+"/streaming", func(t *testing.T) { testSilentStreaming(t, b.env(t)) })
		t.Run(b.name+"/idle", func(t *testing.T) { testSilentIdle(t, b.env(t)) })
		t.Run(b.name+"/snapshot", func(t *testing.T) { testSilentSnapshot(t, b.env(t)) })
	}
}

func testSilentStreaming(t *testing.T, e *env) {
	e.seedKV()
	// The marker goes to a table the stream has not seen a change of: its
	// first change makes fluxo read the table's metadata, over a
	// connection that went through the hole too (main hung there).
	p, s, ep := e.streamViaProxy(t)
	w := e.startPacedWriter("kv", 11, 2*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	holedAt := time.Now()
	holed := p.BlackHole()
	t.Logf("black-holed %d connections", holed)
	if holed < 2 {
		t.Fatalf("black-holed %d connections, want the stream's and its metadata connection", holed)
	}
	mark := 5_000_000
	e.insertRows("mk", mark, mark) // written after the hole: only a new connection can deliver it
	waitStalled(t, ep)
	waitDelivered(t, e, "mk", mark, holedAt, 8*silentReadTimeout)
	ep.waitStatus("/readyz", 200, "ready")
	w.finish(t)
	e.waitConverged(t, "kv", 30*time.Second)
	if err := s.stop(); err != nil {
		t.Fatalf("stream after the silent peer: %v", err)
	}
}

// streamViaProxy creates table mk, for marker rows, and starts a stream
// (reading changes) that reaches the database through a proxy, with the
// tests' read timeout.
func (e *env) streamViaProxy(t *testing.T) (*testserver.Proxy, *streamer, endpoint) {
	e.exec("CREATE TABLE mk (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(32) NOT NULL)")
	p := testserver.ProxyT(t, e.sourceAddr())
	cfg := e.configVia(p.Addr(), e.superuser(), "")
	cfg.Source.ReadTimeout = silentReadTimeout
	s := e.startStreamReady(cfg)
	return p, s, endpoint{t: t, base: "http://" + <-s.addr}
}

// testSilentIdle black-holes an idle stream: only heartbeats and
// keepalives can tell. fluxo must notice and reconnect once, then stay on
// the new connections while idle, and deliver the next change.
func testSilentIdle(t *testing.T, e *env) {
	p, s, ep := e.streamViaProxy(t)
	time.Sleep(silentReadTimeout) // idle for a while before the hole
	holedAt := time.Now()
	p.BlackHole()
	waitStalled(t, ep)
	ep.waitStatus("/readyz", 200, "ready")
	reconnects := func() float64 { return ep.metrics().value("fluxo_reconnects_total", "component", "source") }
	before := reconnects()
	time.Sleep(2 * silentReadTimeout) // idle on the new connections
	if after := reconnects(); after != before || before < 1 {
		t.Errorf("reconnects: %v after the hole, %v after idling on the new connections; want 1 or more, then none", before, after)
	}
	ep.waitStatus("/readyz", 200, "ready")
	e.insertRows("mk", 1, 1)
	waitDelivered(t, e, "mk", 1, holedAt, 4*silentReadTimeout)
	if err := s.stop(); err != nil {
		t.Fatalf("stream after the silent peer: %v", err)
	}
}

func testSilentSnapshot(t *testing.T, e *env) {
	e.seedKV()
	e.exec("CREATE TABLE big (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(32) NOT NULL)")
	if e.pg != nil {
		e.exec("INSERT INTO big SELECT g, g % 97, 's' || g FROM generate_series(1, 200000) g")
	} else {
		e.exec("INSERT INTO big SELECT seq, seq % 97, CONCAT('s', seq) FROM seq_1_to_200000")
	}
	p := testserver.ProxyT(t, e.sourceAddr())
	cfg := e.configVia(p.Addr(), e.superuser(), "")
	cfg.Source.ReadTimeout = silentReadTimeout
	cfg.Bronze.Parallelism = 1 // one snapshot connection reads both tables, so one hole stops it
	w := e.startPacedWriter("kv", 12, 5*time.Millisecond)
	s := e.startStream(cfg)
	ep := endpoint{t: t, base: "http://" + <-s.addr}
	// Hole the connections once the snapshot is under way.
	cl := e.reader(e.topic("big"))
	for n := 0; n < 1000; {
		fs := cl.PollFetches(t.Context())
		n += fs.NumRecords()
	}
	cl.Close()
	holedAt := time.Now()
	holed := p.BlackHole()
	t.Logf("black-holed %d connections during the snapshot", holed)
	mark := 5_000_000
	e.insertRows("kv", mark, mark) // read by the second snapshot or from the binlog
	waitDelivered(t, e, "kv", mark, holedAt, 20*silentReadTimeout)
	w.finish(t)
	e.waitConverged(t, "kv", 30*time.Second)
	e.waitConverged(t, "big", 30*time.Second)
	m := ep.metrics()
	read := m.value("fluxo_snapshot_rows_total", "table", strings.TrimPrefix(e.topic("big"), "fx.")) +
		m.value("fluxo_snapshot_rows_total", "table", strings.TrimPrefix(e.topic("kv"), "fx."))
	if reconnects := m.value("fluxo_reconnects_total", "component", "source"); reconnects < 1 || read <= 200_000+200 {
		t.Errorf("%v reconnects, %v snapshot rows read: the hole did not interrupt the snapshot", reconnects, read)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("stream after the silent peer: %v", err)
	}
}

// waitStalled waits until the stream admits it is stalled: /readyz 503
// naming the source, and the silence metric past half the read timeout.
func waitStalled(t *testing.T, ep endpoint) {
	t.Helper()
	var body string
	var silence, worst float64
	for deadline := time.Now().Add(4 * silentReadTimeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var code int
		code, body = ep.get("/readyz")
		silence = ep.metrics().value("fluxo_source_silence_seconds")
		worst = max(worst, silence)
		if code == 503 && strings.Contains(body, "source") && worst >= silentReadTimeout.Seconds()/2 {
			t.Logf("stalled: /readyz %q, silence %.1fs", strings.TrimSpace(body), worst)
			return
		}
	}
	t.Fatalf("a black-holed stream still looks healthy: /readyz %q, fluxo_source_silence_seconds peaked at %.1f", body, worst)
}

// waitDelivered waits until table's row id reaches its topic, reading the
// topic as it grows; it logs how long after since it did.
func waitDelivered(t *testing.T, e *env, table string, id int, since time.Time, d time.Duration) {
	t.Helper()
	cl := e.reader(e.topic(table))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for ctx.Err() == nil {
		found := false
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if r.Key != nil && toInt64(e.decode(r.Key)["id"]) == int64(id) {
				found = true
			}
		})
		if found {
			t.Logf("%s row %d delivered %s after the hole", table, id, time.Since(since).Round(100*time.Millisecond))
			return
		}
	}
	t.Fatalf("%s row %d, written after the hole, did not arrive within %s", table, id, d)
}

// TestSlowSlotCreation: creating the PostgreSQL slot waits for the
// transactions running at that moment to end, which may take longer than
// source.read_timeout without the server being silent: fluxo must wait,
// not take the connection as lost.
func TestSlowSlotCreation(t *testing.T) {
	e := newPGEnv(t)
	e.seedKV()
	ctx := context.Background()
	conn := e.pgConn()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO kv VALUES (9000, 1, 'long transaction')"); err != nil {
		t.Fatal(err)
	}
	const rt = time.Second
	committed := make(chan error, 1)
	go func() {
		time.Sleep(3 * rt)
		committed <- tx.Commit(ctx)
	}()
	cfg := e.config("")
	cfg.Source.ReadTimeout = rt
	start := time.Now()
	s := e.startStreamReady(cfg)
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	t.Logf("streaming %s after the start, the slot waited for a transaction open for %s", time.Since(start).Round(100*time.Millisecond), 3*rt)
	recs := e.drain(e.topic("kv"), time.Second)
	if err := s.stop(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	compareState(t, replay(recs), e.tableState("kv"))
}
