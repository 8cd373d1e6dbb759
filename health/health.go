// Package health tracks whether a stream is alive and ready, and serves
// that with the Prometheus metrics over HTTP: /healthz (liveness), /readyz
// (readiness) and /metrics.
//
// A stream is ready once its pipeline runs and while every server it
// depends on is reachable; it is live unless its pipeline stopped beating
// (a stuck checkpoint loop) for longer than the stall limit. An unreachable
// broker makes a stream unready, not dead: restarting would not help.
package health

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
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
	lastBeat time.Time
	stopped  error // set when the stream ended with an error

	up         *prometheus.GaugeVec
	reconnects *prometheus.CounterVec
	ready      prometheus.Gauge
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
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fluxo_up",
			Help: "1 while the component (source, kafka, schema_registry) answers, 0 while it is unreachable."}, []string{"component"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fluxo_reconnects_total",
			Help: "Times a component became reachable again after being unreachable."}, []string{"component"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fluxo_ready", Help: "1 while /readyz answers 200."}),
	}
	for _, c := range []prometheus.Collector{s.up, s.reconnects, s.ready} {
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
	if wasDown || first {
		s.up.WithLabelValues(component).Set(1)
		s.updateReady()
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
	s.updateReady()
}

// Running records that the pipeline started (true) or ended (false); err
// is why it ended, if it failed.
func (s *State) Running(running bool, err error) {
	s.mu.Lock()
	s.running = running
	s.lastBeat = s.now()
	if !running {
		s.stopped = err
	}
	s.mu.Unlock()
	s.updateReady()
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
		return nil
	}
	return errors.New(strings.Join(why, "; "))
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

func (s *State) updateReady() {
	v := 0.0
	if s.Ready() == nil {
		v = 1
	}
	s.ready.Set(v)
}

var _ cdc.Health = (*State)(nil)
