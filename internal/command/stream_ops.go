package command

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/postgres"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/ops/health"
	"github.com/fluxo-cdc/fluxo/internal/ops/metrics"
	"github.com/fluxo-cdc/fluxo/internal/ops/sdnotify"
	"github.com/fluxo-cdc/fluxo/internal/pipeline"
)

// slotPollInterval is how often a PostgreSQL stream reads its slot's WAL
// figures for the metrics.
const slotPollInterval = 10 * time.Second

// ops is what an operator sees of a running stream: health, metrics, the
// HTTP endpoint and systemd notifications.
type ops struct {
	reg      *prometheus.Registry
	state    *health.State
	metrics  *metrics.Stream
	http     *health.Server
	notifier *sdnotify.Notifier
	log      *slog.Logger
	stop     context.CancelFunc // stops the background loops
}

// startOps registers the metrics, starts the HTTP endpoint and the
// watchdog. It listens before the source is opened, so that liveness is
// served during a long start (a slot waiting for old transactions).
func startOps(cfg *config.Config, o StreamOptions, log *slog.Logger) (*ops, error) {
	reg := o.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	state, err := health.New(reg, nil, 0)
	if err != nil {
		return nil, err
	}
	// The sources hear from the server (rows, heartbeats, answered
	// keepalive requests) at least every third of read_timeout.
	state.ExpectHeard(cdc.ComponentSource, cfg.Source.ReadTimeout)
	m, err := metrics.New(reg, nil)
	if err != nil {
		return nil, err
	}
	x := &ops{reg: reg, state: state, metrics: m, notifier: o.Notify, log: log, stop: func() {}}
	if x.http, err = health.Listen(cfg.HTTP.Listen, health.Handler(state, reg), log); err != nil {
		return nil, err
	}
	log.Info("http endpoint listening", "addr", x.addr(), "paths", "/metrics /healthz /readyz")
	if o.Listening != nil {
		o.Listening(x.addr())
	}
	ctx, stop := context.WithCancel(context.Background())
	x.stop = stop
	if o.Watchdog > 0 {
		go x.watchdog(ctx, o.Watchdog)
	}
	return x, nil
}

func (x *ops) addr() string {
	if x.http == nil {
		return ""
	}
	return x.http.Addr().String()
}

// notify sends a systemd notification; failing to is logged, not fatal.
func (x *ops) notify(state string) {
	if err := x.notifier.Notify(state); err != nil {
		x.log.Warn("systemd notification failed", cdc.LogError, err)
	}
}

// watchdog sends WATCHDOG=1 every interval while the stream is live; a
// stalled pipeline stops the pings and systemd restarts the service.
func (x *ops) watchdog(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := x.state.Live(); err != nil {
				x.log.Error("not live: withholding the systemd watchdog ping", cdc.LogError, err)
				continue
			}
			x.notify("WATCHDOG=1")
		}
	}
}

// watchSlot registers a PostgreSQL slot's metrics and polls them in the
// background until ctx is done.
func watchSlot(ctx context.Context, cfg *config.Config, x *ops, log *slog.Logger) error {
	if err := x.metrics.RegisterPostgres(x.reg); err != nil {
		return err
	}
	go func() {
		r := postgres.NewSlotReader(cfg.Source.DSN, cfg.Source.Slot, cfg.Source.ReadTimeout)
		defer r.Close()
		t := time.NewTicker(slotPollInterval)
		defer t.Stop()
		for {
			x.pollSlot(ctx, r, log)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

func (x *ops) pollSlot(ctx context.Context, r *postgres.SlotReader, log *slog.Logger) {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	w, err := r.Read(pctx)
	if err != nil {
		log.Debug("read slot WAL figures", cdc.LogError, err)
		return
	}
	x.metrics.Slot(w.Retained, w.Unconfirmed)
}

// close stops the background loops and the HTTP endpoint.
func (x *ops) close() {
	x.stop()
	if x.http != nil {
		if err := x.http.Close(); err != nil {
			x.log.Warn("stop http endpoint", cdc.LogError, err)
		}
	}
}

// observer feeds the pipeline's events to the metrics, and its checkpoint
// rounds to liveness.
type observer struct {
	m *metrics.Stream
	h *health.State
}

func (o observer) Table(id cdc.TableID) pipeline.TableObserver { return o.m.Table(id) }

func (o observer) Round(saved, oldestUnsaved time.Time) {
	o.h.Beat()
	o.m.Round(saved, oldestUnsaved)
}

func (o observer) Saved() { o.m.Saved() }
