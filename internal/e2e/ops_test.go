package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestOpsEndpoints runs a stream and checks its HTTP endpoint against what
// a Kafka reader sees: events by op, records and bytes per table, produce
// latencies, checkpoint figures; then restarts the database and checks
// that /readyz reports the outage and the recovery.
func TestOpsEndpoints(t *testing.T) {
	forEachBackend(t, testOpsEndpoints)
}

func testOpsEndpoints(t *testing.T, e *env) {
	start := time.Now()
	e.seedKV()
	s := e.startStreamReady(e.config(""))
	ep := endpoint{t: t, base: "http://" + <-s.addr}
	ep.waitStatus("/readyz", 200, "ready")
	if code, body := ep.get("/healthz"); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	for i := range 30 {
		e.exec(fmt.Sprintf("INSERT INTO kv VALUES (%d, %d, 'new')", 1000+i, i))
	}
	e.exec("UPDATE kv SET s = 'upd' WHERE id <= 10")
	e.exec("DELETE FROM kv WHERE id > 195 AND id <= 200")
	raw := e.consumeRaw(e.topic("kv"), 200+30+10+5*2, 30*time.Second)
	ops := map[string]float64{}
	var bytes float64
	for _, r := range raw {
		bytes += float64(len(r.Key) + len(r.Value))
		if v := e.decode(r.Value); v != nil {
			ops[v["op"].(string)]++
		}
	}
	table := strings.TrimPrefix(e.topic("kv"), "fx.")
	m := ep.metrics()
	for _, op := range []string{"r", "c", "u", "d"} {
		if got := m.value("fluxo_events_total", "table", table, "op", op); got != ops[op] {
			t.Errorf("fluxo_events_total{op=%q} = %v, the topic has %v", op, got, ops[op])
		}
	}
	if got := m.value("fluxo_snapshot_rows_total", "table", table); got != 200 {
		t.Errorf("fluxo_snapshot_rows_total = %v, want the 200 seeded rows", got)
	}
	if got := m.value("fluxo_kafka_records_total", "table", table); got != float64(len(raw)) {
		t.Errorf("fluxo_kafka_records_total = %v, the topic has %d", got, len(raw))
	}
	if got := m.value("fluxo_kafka_bytes_total", "table", table); got != bytes {
		t.Errorf("fluxo_kafka_bytes_total = %v, the topic's keys and values hold %v", got, bytes)
	}
	if got := m.histogramCount("fluxo_kafka_produce_latency_seconds"); got < uint64(len(raw)) {
		t.Errorf("produce latency observations = %d, want at least the %d records", got, len(raw))
	}
	if got := m.value("fluxo_snapshot_running"); got != 0 {
		t.Errorf("fluxo_snapshot_running = %v after the snapshot", got)
	}
	ep.eventually("checkpoint current", func(m metricSet) error {
		saved := m.value("fluxo_checkpoint_saved_timestamp_seconds")
		if age := m.value("fluxo_checkpoint_age_seconds"); age != 0 || saved < float64(start.Unix()) {
			return fmt.Errorf("age %v, saved at %v", age, saved)
		}
		return nil
	})
	if e.pg != nil {
		ep.eventually("slot metrics", func(m metricSet) error {
			if v := m.value("fluxo_postgres_slot_retained_wal_bytes"); v <= 0 {
				return fmt.Errorf("retained %v", v)
			}
			return nil
		})
	}
	restartSource(t, e, ep)
	e.exec("INSERT INTO kv VALUES (5000, 1, 'after restart')")
	e.consumeRaw(e.topic("kv"), len(raw)+1, 30*time.Second)
	if got := ep.metrics().value("fluxo_reconnects_total", "component", "source"); got < 1 {
		t.Errorf("fluxo_reconnects_total{component=source} = %v after a restart", got)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}

// restartSource kills the database and checks that /readyz turns 503
// naming the source, then 200 again once the server is back.
func restartSource(t *testing.T, e *env, ep endpoint) {
	t.Helper()
	kill, start := e.server()
	kill()
	ep.waitStatus("/readyz", 503, "source unreachable")
	if code, body := ep.get("/healthz"); code != 200 {
		t.Errorf("/healthz during a source outage: %d %s (an outage is not a reason to restart fluxo)", code, body)
	}
	if err := start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ep.waitStatus("/readyz", 200, "ready")
}

// endpoint is a client of a stream's HTTP endpoint.
type endpoint struct {
	t    *testing.T
	base string
}

func (ep endpoint) get(path string) (int, string) {
	ep.t.Helper()
	resp, err := http.Get(ep.base + path)
	if err != nil {
		ep.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ep.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitStatus polls path until it answers code with a body containing want.
func (ep endpoint) waitStatus(path string, code int, want string) {
	ep.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		got, body := ep.get(path)
		if got == code && strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			ep.t.Fatalf("GET %s: %d %q, want %d with %q", path, got, body, code, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventually polls /metrics until check passes.
func (ep endpoint) eventually(what string, check func(metricSet) error) {
	ep.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check(ep.metrics())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			ep.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metricSet is a parsed /metrics scrape.
type metricSet struct {
	t        *testing.T
	families map[string]*dto.MetricFamily
}

func (ep endpoint) metrics() metricSet {
	ep.t.Helper()
	code, body := ep.get("/metrics")
	if code != 200 {
		ep.t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		ep.t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return metricSet{t: ep.t, families: fams}
}

// find returns the sample of name whose labels include labels (name,
// value pairs), or nil.
func (m metricSet) find(name string, labels ...string) *dto.Metric {
	f := m.families[name]
	if f == nil {
		return nil
	}
next:
	for _, s := range f.Metric {
		have := map[string]string{}
		for _, l := range s.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return s
	}
	return nil
}

// value is the counter's or gauge's value (0 when absent, as Prometheus
// counters start).
func (m metricSet) value(name string, labels ...string) float64 {
	s := m.find(name, labels...)
	switch {
	case s == nil:
		return 0
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	}
	m.t.Fatalf("%s is neither a counter nor a gauge", name)
	return 0
}

func (m metricSet) histogramCount(name string) uint64 {
	s := m.find(name)
	if s == nil || s.Histogram == nil {
		return 0
	}
	return s.Histogram.GetSampleCount()
}
