package command

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
	"github.com/fluxo-cdc/fluxo/cdc/postgres"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/ops/admin"
	"github.com/fluxo-cdc/fluxo/internal/ops/health"
	"github.com/fluxo-cdc/fluxo/internal/ops/metrics"
	"github.com/fluxo-cdc/fluxo/internal/ops/sdnotify"
	"github.com/fluxo-cdc/fluxo/internal/pipeline"
)

// slotPollInterval is how often a PostgreSQL stream reads its slot's WAL
// figures for the metrics.
const slotPollInterval = 10 * time.Second

// Registry is where a stream registers its metrics and what /metrics
// serves: a *prometheus.Registry.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// ops is what an operator sees of a running stream: health, metrics, the
// HTTP endpoint and systemd notifications.
type ops struct {
	reg     Registry
	state   *health.State
	metrics *metrics.Stream
	http    *health.Server
	notify  func(state string) // a systemd notification (systemdNotify)
	log     *slog.Logger
	stop    context.CancelFunc // stops the background loops
	// snapshots carries on-demand snapshot requests to the source and its
	// progress back.
	snapshots *incremental.Control
}

// adminHandler serves snapshot requests (POST /snapshot) and their
// progress, with the admin token of cfg.
func adminHandler(cfg *config.Config, x *ops, log *slog.Logger) (*admin.Handler, error) {
	token, err := cfg.HTTP.AdminToken()
	if err != nil {
		return nil, err
	}
	filter, err := cfg.Source.TableFilter()
	if err != nil {
		return nil, err
	}
	if token == "" && !cfg.HTTP.Loopback() {
		log.Warn("http.listen is not a loopback address and no admin token is configured: snapshot requests are refused",
			"fix", "set http.admin_token_file to allow fluxo snapshot")
	}
	return admin.New(admin.Options{Snapshots: x.snapshots, Token: token, Loopback: cfg.HTTP.Loopback(),
		Captured: func(id cdc.TableID) bool { return filter.Match(id.Schema, id.Name) },
		Metrics:  x.reg, Logger: log.With(cdc.LogComponent, "admin")})
}

// startOps registers the metrics, starts the HTTP endpoint and the
// watchdog. It listens before the source is opened, so that liveness is
// served during a long start (a slot waiting for old transactions).
func startOps(cfg *config.Config, o StreamOptions, log *slog.Logger) (*ops, error) {
	var reg Registry = prometheus.NewRegistry()
	if o.Metrics != nil {
		reg = o.Metrics
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
	x := &ops{reg: reg, state: state, metrics: m, notify: systemdNotify(o.Notify, log), log: log, stop: func() {},
		snapshots: &incremental.Control{}}
	if err := metrics.RegisterSnapshotProgress(reg, x.snapshots); err != nil {
		return nil, err
	}
	adm, err := adminHandler(cfg, x, log)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/snapshot", adm)
	mux.Handle("/", health.Handler(state, reg))
	if x.http, err = health.Listen(cfg.HTTP.Listen, mux, log); err != nil {
		return nil, err
	}
	log.Info("http endpoint listening", "addr", x.addr(), "paths", "/metrics /healthz /readyz /snapshot")
	if o.Listening != nil {
		o.Listening(x.addr())
	}
	ctx, stop := context.WithCancel(context.Background())
	x.stop = stop
	if o.Watchdog > 0 {
		go watchdog(ctx, o.Watchdog, x.state, x.notify, x.log)
	}
	return x, nil
}

func (x *ops) addr() string {
	if x.http == nil {
		return ""
	}
	return x.http.Addr().String()
}

// systemdNotify returns a function that sends a systemd notification
// through n (nil: none); failing to is logged, not fatal.
func systemdNotify(n *sdnotify.Notifier, log *slog.Logger) func(state string) {
	return func(state string) {
		if err := n.Notify(state); err != nil {
			log.Warn("systemd notification failed", cdc.LogError, err)
		}
	}
}

// watchdog sends WATCHDOG=1 every interval while the stream is live; a
// stalled pipeline stops the pings and systemd restarts the service.
func watchdog(ctx context.Context, every time.Duration, state *health.State, notify func(string), log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := state.Live(); err != nil {
				log.Error("not live: withholding the systemd watchdog ping", cdc.LogError, err)
				continue
			}
			notify("WATCHDOG=1")
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

func (o observer) Transaction(d time.Duration, committed bool) { o.m.Transaction(d, committed) }
