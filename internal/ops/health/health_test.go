package health

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newState(t *testing.T) (*State, *clock, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s, err := New(reg, c.now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, reg
}

func TestReadiness(t *testing.T) {
	s, _, _ := newState(t)
	steps := []struct {
		name  string
		do    func()
		ready bool
		why   string
	}{
		{"starting", func() {}, false, "not streaming yet"},
		{"source up, not running", func() { s.Up("source") }, false, "not streaming yet"},
		{"running", func() { s.Running(true, nil) }, true, ""},
		{"kafka down", func() { s.Down("kafka", errors.New("dial tcp: refused")) }, false, "kafka unreachable: dial tcp: refused"},
		{"source down too", func() { s.Down("source", errors.New("EOF")) }, false, "kafka unreachable: dial tcp: refused; source unreachable: EOF"},
		{"kafka back", func() { s.Up("kafka") }, false, "source unreachable: EOF"},
		{"source back", func() { s.Up("source") }, true, ""},
		{"stopped with an error", func() { s.Running(false, errors.New("slot dropped")) }, false, "stream stopped: slot dropped"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			err := s.Ready()
			if (err == nil) != st.ready {
				t.Fatalf("Ready() = %v, want ready=%v", err, st.ready)
			}
			if err != nil && !strings.Contains(err.Error(), st.why) {
				t.Fatalf("Ready() = %q, want it to contain %q", err, st.why)
			}
			want := 0.0
			if st.ready {
				want = 1
			}
			if got := testutil.ToFloat64(s.ready); got != want {
				t.Fatalf("fluxo_ready = %v, want %v", got, want)
			}
		})
	}
}

func TestReconnectsAndUp(t *testing.T) {
	s, _, _ := newState(t)
	s.Up("kafka")
	s.Up("kafka") // repeated successes are not reconnects
	if got := testutil.ToFloat64(s.reconnects.WithLabelValues("kafka")); got != 0 {
		t.Fatalf("reconnects = %v before any outage", got)
	}
	for range 3 {
		s.Down("kafka", nil)
		s.Down("kafka", errors.New("again")) // a second failure in the same outage
		if got := testutil.ToFloat64(s.up.WithLabelValues("kafka")); got != 0 {
			t.Fatalf("fluxo_up = %v while down", got)
		}
		s.Up("kafka")
	}
	if got := testutil.ToFloat64(s.reconnects.WithLabelValues("kafka")); got != 3 {
		t.Fatalf("reconnects = %v, want 3", got)
	}
	if got := testutil.ToFloat64(s.up.WithLabelValues("kafka")); got != 1 {
		t.Fatalf("fluxo_up = %v after recovery", got)
	}
}

func TestLiveness(t *testing.T) {
	s, c, _ := newState(t)
	c.add(time.Hour)
	if err := s.Live(); err != nil {
		t.Fatalf("not live while starting: %v", err)
	}
	s.Running(true, nil)
	c.add(50 * time.Second)
	if err := s.Live(); err != nil {
		t.Fatalf("not live within the stall limit: %v", err)
	}
	s.Beat()
	c.add(59 * time.Second)
	if err := s.Live(); err != nil {
		t.Fatalf("a beat did not reset the stall timer: %v", err)
	}
	c.add(2 * time.Second)
	if err := s.Live(); err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("Live() = %v after 61s without a beat", err)
	}
	s.Beat()
	s.Running(false, errors.New("boom"))
	if err := s.Live(); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Live() = %v after a failure", err)
	}
}

func TestHandler(t *testing.T) {
	s, _, reg := newState(t)
	srv, err := Listen("127.0.0.1:0", Handler(s, reg), discard())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	base := "http://" + srv.Addr().String()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "not streaming yet") {
		t.Fatalf("/readyz while starting: %d %q", code, body)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	s.Running(true, nil)
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz while running: %d %q", code, body)
	}
	s.Down("schema_registry", errors.New("503 Service Unavailable"))
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "schema_registry unreachable") {
		t.Fatalf("/readyz with the registry down: %d %q", code, body)
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, `fluxo_up{component="schema_registry"} 0`) || !strings.Contains(body, "fluxo_ready 0") {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	if code, _ := get("/nope"); code != 404 {
		t.Fatalf("/nope: %d", code)
	}
}

func TestListenBusy(t *testing.T) {
	s, _, reg := newState(t)
	a, err := Listen("127.0.0.1:0", Handler(s, reg), discard())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = Listen(a.Addr().String(), Handler(s, reg), discard())
	if err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Fatalf("second Listen on the same port: %v", err)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestSilence: a running stream whose source sends nothing (not even a
// heartbeat) for longer than its limit is not ready, and says so; the
// silence metric counts from the last thing heard, or from the start.
func TestSilence(t *testing.T) {
	s, c, reg := newState(t)
	s.ExpectHeard("source", 30*time.Second)
	silence := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "fluxo_source_silence_seconds" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no fluxo_source_silence_seconds")
		return 0
	}
	c.add(time.Hour) // before the pipeline runs, nothing is judged
	if silence() != 0 {
		t.Errorf("silence before running = %v, want 0", silence())
	}
	s.Running(true, nil)
	steps := []struct {
		name    string
		do      func()
		silence float64
		why     string // "" for ready
	}{
		{"just started", func() { c.add(20 * time.Second) }, 20, ""},
		{"quiet past the limit", func() { c.add(11 * time.Second) }, 31, "source silent: nothing received for 31s (limit 30s)"},
		{"a heartbeat", func() { s.Heard("source") }, 0, ""},
		{"other components do not count", func() { c.add(40 * time.Second); s.Heard("kafka") }, 40, "source silent"},
		{"kafka down says why instead", func() { s.Down("kafka", errors.New("refused")) }, 40, "kafka unreachable: refused"},
		{"reconnected", func() { s.Up("kafka"); s.Up("source") }, 0, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			if got := silence(); got != st.silence {
				t.Errorf("fluxo_source_silence_seconds = %v, want %v", got, st.silence)
			}
			err := s.Ready()
			switch {
			case st.why == "" && err != nil:
				t.Errorf("Ready() = %v, want ready", err)
			case st.why != "" && (err == nil || !strings.Contains(err.Error(), st.why)):
				t.Errorf("Ready() = %v, want %q", err, st.why)
			case st.why == "kafka unreachable: refused" && strings.Contains(err.Error(), "silent"):
				t.Errorf("Ready() = %v: a down component explains the stall", err)
			}
			want := 1.0
			if st.why != "" {
				want = 0
			}
			if got := testutil.ToFloat64(s.ready); got != want {
				t.Errorf("fluxo_ready = %v, want %v", got, want)
			}
		})
	}
}
