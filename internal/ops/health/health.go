// Package health tracks whether a stream is alive and ready, and serves
// that with the Prometheus metrics over HTTP: /healthz (liveness), /readyz
// (readiness) and /metrics.
//
// A stream is ready once its pipeline runs and while every server it
// depends on is reachable and, for those with an ExpectHeard limit, heard
// from within it; it is live unless its pipeline stopped beating (a stuck
// checkpoint loop) for longer than the stall limit. An unreachable broker
// or a silent source makes a stream unready, not dead: restarting would
// not help.
package health

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// DefaultStall is how long a running pipeline may go without a beat before
// it is reported not live.
const DefaultStall = 60 * time.Second

// State is a stream's health. It implements cdc.Health. The zero value is
// not usable; use New.
type State struct {
	now   func() time.Time
	stall time.Duration

	mu       sync.Mutex
	down     map[string]error // components currently unreachable
	known    map[string]bool  // components that reported at least once
	running  bool
	since    time.Time // when the pipeline started running
	lastBeat time.Time
	stopped  error                    // set when the stream ended with an error
	expect   map[string]time.Duration // ExpectHeard limits

	heard map[string]*atomic.Int64 // last Heard per component, Unix ns; fixed at New

	up         *prometheus.GaugeVec
	reconnects *prometheus.CounterVec
	ready      prometheus.GaugeFunc
	silence    prometheus.GaugeFunc
}

// New returns a State registering its metrics (fluxo_up, fluxo_ready,
// fluxo_reconnects_total) in reg. now is the clock (nil: time.Now); stall
// is the liveness limit (0: DefaultStall).
func New(reg prometheus.Registerer, now func() time.Time, stall time.Duration) (*State, error) {
	if now == nil {
		now = time.Now
	}
	if stall == 0 {
		stall = DefaultStall
	}
	s := &State{now: now, stall: stall, down: map[string]error{}, known: map[string]bool{},
		expect: map[string]time.Duration{}, heard: map[string]*atomic.Int64{},
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fluxo_up",
			Help: "1 while the component (source, kafka, schema_registry) answers, 0 while it is unreachable."}, []string{"component"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fluxo_reconnects_total",
			Help: "Times a component became reachable again after being unreachable."}, []string{"component"}),
	}
	for _, c := range []string{cdc.ComponentSource, cdc.ComponentKafka, cdc.ComponentRegistry} {
		s.heard[c] = new(atomic.Int64)
	}
	s.ready = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fluxo_ready", Help: "1 while /readyz answers 200."},
		func() float64 {
			if s.Ready() == nil {
				return 1
			}
			return 0
		})
	s.silence = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fluxo_source_silence_seconds",
		Help: "Seconds since the source last sent anything fluxo read (rows, heartbeats, keepalives) while streaming; " +
			"0 before the stream runs. Past source.read_timeout fluxo takes the connection as lost and /readyz answers 503."},
		func() float64 { return s.Silence(cdc.ComponentSource).Seconds() })
	for _, c := range []prometheus.Collector{s.up, s.reconnects, s.ready, s.silence} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register health metrics: %w", err)
		}
	}
	return s, nil
}

// Up implements cdc.Health.
func (s *State) Up(component string) {
	s.mu.Lock()
	_, wasDown := s.down[component]
	first := !s.known[component]
	if wasDown || first {
		delete(s.down, component)
		s.known[component] = true
	}
	s.mu.Unlock()
	s.Heard(component)
	if wasDown || first {
		s.up.WithLabelValues(component).Set(1)
	}
	if wasDown {
		s.reconnects.WithLabelValues(component).Inc()
	}
}

// Down implements cdc.Health.
func (s *State) Down(component string, err error) {
	if err == nil {
		err = errors.New("unreachable")
	}
	s.mu.Lock()
	s.down[component] = err
	s.known[component] = true
	s.mu.Unlock()
	s.up.WithLabelValues(component).Set(0)
}

// Heard implements cdc.Health: one clock read and one atomic store.
func (s *State) Heard(component string) {
	if h := s.heard[component]; h != nil {
		h.Store(s.now().UnixNano())
	}
}

// ExpectHeard makes the stream unready while component (one of cdc's
// Component names) has not been heard from for longer than within, once
// the pipeline runs and unless a component is down (which already says
// why). A source that heartbeats sends something well within its
// read_timeout, so a longer silence is a stall.
func (s *State) ExpectHeard(component string, within time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expect[component] = within
}

// Silence returns how long component has not been heard from while the
// pipeline runs (0 when it is not running).
func (s *State) Silence(component string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.silenceLocked(component)
}

func (s *State) silenceLocked(component string) time.Duration {
	h := s.heard[component]
	if !s.running || h == nil {
		return 0
	}
	last := s.since
	if t := time.Unix(0, h.Load()); t.After(last) {
		last = t
	}
	return max(s.now().Sub(last), 0)
}

// Running records that the pipeline started (true) or ended (false); err
// is why it ended, if it failed.
func (s *State) Running(running bool, err error) {
	s.mu.Lock()
	s.running = running
	s.lastBeat = s.now()
	if running {
		s.since = s.lastBeat
	} else {
		s.stopped = err
	}
	s.mu.Unlock()
}

// Beat records that the running pipeline is making its rounds (its
// checkpoint loop ticked).
func (s *State) Beat() {
	s.mu.Lock()
	s.lastBeat = s.now()
	s.mu.Unlock()
}

// Ready returns nil when the stream is ready, or why it is not.
func (s *State) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readyLocked()
}

func (s *State) readyLocked() error {
	var why []string
	if !s.running {
		why = append(why, "not streaming yet (starting: connecting, creating the slot, or waiting for the source)")
		if s.stopped != nil {
			why[0] = "stream stopped: " + s.stopped.Error()
		}
	}
	names := make([]string, 0, len(s.down))
	for c := range s.down {
		names = append(names, c)
	}
	slices.Sort(names)
	for _, c := range names {
		why = append(why, fmt.Sprintf("%s unreachable: %v", c, s.down[c]))
	}
	if len(why) == 0 {
		why = s.silentLocked()
	}
	if len(why) == 0 {
		return nil
	}
	return errors.New(strings.Join(why, "; "))
}

// silentLocked says which expected components have been silent too long.
func (s *State) silentLocked() []string {
	var why []string
	for c, within := range s.expect {
		if d := s.silenceLocked(c); d > within {
			why = append(why, fmt.Sprintf("%s silent: nothing received for %s (limit %s): "+
				"heartbeats or keepalives should have arrived; fluxo takes the connection as lost and reconnects",
				c, d.Round(time.Second), within))
		}
	}
	slices.Sort(why)
	return why
}

// Live returns nil while the process is healthy: before the pipeline runs,
// and while it runs and beats. It returns an error once the pipeline has
// not beaten for the stall limit, or after the stream failed.
func (s *State) Live() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped != nil {
		return fmt.Errorf("stream stopped: %w", s.stopped)
	}
	if s.running {
		if d := s.now().Sub(s.lastBeat); d > s.stall {
			return fmt.Errorf("pipeline stalled: no checkpoint round for %s (limit %s)", d.Round(time.Second), s.stall)
		}
	}
	return nil
}

var _ cdc.Health = (*State)(nil)
