package command

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/changes"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/kafkasink"
	"github.com/fluxo-cdc/fluxo/internal/ops/health"
	"github.com/fluxo-cdc/fluxo/internal/ops/sdnotify"
)

// SinkOptions are the settings of `fluxo sink` that are not in the config.
type SinkOptions struct {
	// Metrics is the registry /metrics serves (nil: a new one).
	Metrics Registry
	// Listening, when set, is called with the HTTP endpoint's address.
	Listening func(addr string)
	// Version is written into each file and journal record.
	Version string
	// Notify sends systemd notifications (READY=1 once the first poll
	// returned, STOPPING=1); nil sends none.
	Notify *sdnotify.Notifier
	// Watchdog is how often WATCHDOG=1 is sent while the sink polls (0:
	// never).
	Watchdog time.Duration
}

// Sink runs `fluxo sink`: it writes the stream's changes into the bronze
// layer until ctx ends.
func Sink(ctx context.Context, cfg *config.Config, o SinkOptions, log *slog.Logger) error {
	if err := cfg.ValidateSink(); err != nil {
		return err
	}
	log = log.With("name", cfg.Name)
	o.Version = orDev(o.Version)
	log.Info("sink starting", "version", o.Version, "config", cfg.Redacted(), "group", cfg.Sink.Group)
	var reg Registry = prometheus.NewRegistry()
	if o.Metrics != nil {
		reg = o.Metrics
	}
	state, err := health.New(reg, nil, 0)
	if err != nil {
		return err
	}
	metrics, err := changes.NewMetrics(reg)
	if err != nil {
		return err
	}
	srv, err := health.Listen(cfg.HTTP.Listen, health.Handler(state, reg), log)
	if err != nil {
		return err
	}
	defer srv.Close()
	log.Info("http endpoint listening", "addr", srv.Addr().String(), "paths", "/metrics /healthz /readyz")
	if o.Listening != nil {
		o.Listening(srv.Addr().String())
	}
	store, err := openBronze(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	kopts, err := sinkOptions(cfg)
	if err != nil {
		return err
	}
	kopts.Logger, kopts.Health = log.With(cdc.LogComponent, "kafka"), state
	client, err := kafkasink.ConnectOptions(kopts)
	if err != nil {
		return err
	}
	registry, err := openRegistry(cfg, state, log)
	if err != nil {
		return err
	}
	notify := systemdNotify(o.Notify, log)
	if o.Watchdog > 0 {
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		go watchdog(wctx, o.Watchdog, state, notify, log)
	}
	defer notify("STOPPING=1")
	pattern, selected, err := topics(cfg)
	if err != nil {
		return err
	}
	err = changes.Run(ctx, changes.Options{
		Name: cfg.Name, Client: client, Group: cfg.Sink.Group, Topics: pattern, Select: selected,
		Schemas: registry, Store: store, Format: cfg.Bronze.Format, Compression: cfg.Bronze.Compression,
		MaxFileBytes: cfg.Sink.MaxFileBytes, FlushInterval: cfg.Sink.FlushInterval, SessionTimeout: cfg.Sink.SessionTimeout,
		InstanceID: cfg.Sink.InstanceID, Version: o.Version,
		Logger: log, Metrics: metrics, Ready: func() { state.Running(true, nil); notify("READY=1\nSTATUS=sinking"); log.Info("sinking") },
		Beat: state.Beat,
	})
	state.Running(false, err)
	if err != nil {
		return err
	}
	log.Info("sink stopped cleanly")
	return nil
}

// topics returns the regular expression of the topics fluxo sink reads,
// <topic prefix>.<schema>.<table> (whether fluxo stream or Debezium wrote
// them), and which of them hold captured tables (source.tables and
// source.exclude_tables).
func topics(cfg *config.Config) (string, func(string) bool, error) {
	filter, err := cfg.Source.TableFilter()
	if err != nil {
		return "", nil, err
	}
	prefix := cfg.Kafka.TopicPrefix + "."
	sel := func(topic string) bool {
		schema, table, ok := strings.Cut(strings.TrimPrefix(topic, prefix), ".")
		return ok && filter.Match(schema, table)
	}
	return "^" + regexp.QuoteMeta(prefix) + `[^.]+\.[^.]+$`, sel, nil
}
