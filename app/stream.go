// Package app builds fluxo's components from a config and runs its
// commands; cmd/fluxo parses the command line and calls it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fluxo-cdc/fluxo/avro"
	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/mysql"
	"github.com/fluxo-cdc/fluxo/cdc/postgres"
	"github.com/fluxo-cdc/fluxo/checkpoint"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/kafkasink"
	"github.com/fluxo-cdc/fluxo/internal/ops/sdnotify"
	"github.com/fluxo-cdc/fluxo/internal/pipeline"
	"github.com/fluxo-cdc/fluxo/internal/schemaregistry"
)

// StreamOptions are the process-level parts of `fluxo stream`.
type StreamOptions struct {
	// Metrics is the registry the stream's metrics are registered in and
	// /metrics serves (nil: a new one).
	Metrics *prometheus.Registry
	// Notify sends a systemd notification (sd_notify); nil sends none.
	Notify *sdnotify.Notifier
	// Watchdog is how often WATCHDOG=1 is sent while the stream is live
	// (0: never).
	Watchdog time.Duration
	// Listening, when set, is called with the HTTP endpoint's address once
	// it listens.
	Listening func(addr string)
}

// Stream runs `fluxo stream`: it streams changes until ctx is done (then
// flushes Kafka, saves the checkpoint and returns nil) or a fatal error.
// While it runs, cfg.HTTP.Listen serves /metrics, /healthz and /readyz.
func Stream(ctx context.Context, cfg *config.Config, o StreamOptions, log *slog.Logger) error {
	if err := cfg.ValidateStream(); err != nil {
		return err
	}
	log = log.With("name", cfg.Name)
	log.Info("starting", "version", Version, "config", cfg.Redacted())
	ops, err := startOps(cfg, o, log)
	if err != nil {
		return err
	}
	defer ops.close()
	err = stream(ctx, cfg, ops, log)
	ops.state.Running(false, err)
	ops.notify("STOPPING=1")
	return err
}

func stream(ctx context.Context, cfg *config.Config, ops *ops, log *slog.Logger) error {
	store, cp, err := loadCheckpoint(ctx, cfg)
	if err != nil {
		return err
	}
	src, connector, err := openSource(ctx, cfg, cp, ops.state, log)
	if err != nil {
		return err
	}
	defer src.Close()
	ops.state.Up(cdc.ComponentSource)
	sink, err := openSink(ctx, cfg, ops, log)
	if err != nil {
		return err
	}
	defer sink.Close()
	reg, err := openRegistry(cfg, ops.state, log)
	if err != nil {
		return err
	}
	p, err := pipeline.New(pipeline.Options{
		Name: cfg.Name, TopicPrefix: cfg.Kafka.TopicPrefix, Connector: connector, Version: Version,
		Tombstones: cfg.Kafka.Tombstones, MaxRecordBytes: cfg.Kafka.MaxRecordBytes, Source: src, Sink: sink, Registry: reg, Store: store,
		Observer: observer{ops.metrics, ops.state}, Logger: log,
	})
	if err != nil {
		return err
	}
	if connector == avro.ConnectorPostgres {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if err := ops.watchSlot(wctx, cfg, log); err != nil {
			return err
		}
	}
	start := time.Now()
	ops.state.Running(true, nil)
	ops.notify("READY=1\nSTATUS=streaming")
	log.Info("streaming", "http", ops.addr())
	err = p.Run(ctx)
	st := p.Stats()
	log.Info("stopped", "events", st.Events, "records", st.Records, "transactions", st.Commits, "elapsed", time.Since(start).Round(time.Millisecond).String())
	return err
}

// Version is fluxo's version, written into envelopes; cmd/fluxo sets it
// from its build information.
var Version = "0.1.0-dev"

// loadCheckpoint opens cfg's checkpoint store and loads the checkpoint (nil
// when none was saved).
func loadCheckpoint(ctx context.Context, cfg *config.Config) (checkpoint.Store, *checkpoint.Checkpoint, error) {
	if cfg.Checkpoint.Store != "file" {
		return nil, nil, fmt.Errorf("checkpoint.store %q is not supported: use file", cfg.Checkpoint.Store)
	}
	store := checkpoint.NewFile(cfg.Checkpoint.Path, cfg.Name)
	cp, err := store.Load(ctx)
	return store, cp, err
}

// mysqlConn is how to reach cfg's MySQL source.
func mysqlConn(cfg *config.Config) (mysql.Conn, error) {
	dsn, err := config.ParseMySQLDSN(cfg.Source.DSN)
	if err != nil {
		return mysql.Conn{}, err
	}
	return mysql.Conn{Host: dsn.Host, Port: dsn.Port, User: dsn.User, Password: dsn.Password,
		ReadTimeout: cfg.Source.ReadTimeout}, nil
}

func openSource(ctx context.Context, cfg *config.Config, cp *checkpoint.Checkpoint, h cdc.Health, log *slog.Logger) (cdc.Source, avro.Connector, error) {
	filter, err := cfg.Source.TableFilter()
	if err != nil {
		return nil, "", err
	}
	switch cfg.Source.Flavor() {
	case config.FlavorMySQL:
		conn, err := mysqlConn(cfg)
		if err != nil {
			return nil, "", err
		}
		if cp != nil && cp.Connector != string(avro.ConnectorMySQL) {
			return nil, "", fmt.Errorf("checkpoint %s was written by a %s source, the config names a mysql source", cfg.Checkpoint.Path, cp.Connector)
		}
		opts := mysql.Options{
			Conn: conn, ServerID: cfg.Source.ServerID, Filter: filter, Snapshot: cfg.Snapshot.Mode, Health: h,
			Logger: log.With("source", "mysql"),
		}
		if cp != nil {
			opts.Checkpoint = cp.Position
		}
		src, err := mysql.Open(ctx, opts)
		return src, avro.ConnectorMySQL, err
	case config.FlavorPostgres:
		if cp != nil && cp.Connector != string(avro.ConnectorPostgres) {
			return nil, "", fmt.Errorf("checkpoint %s was written by a %s source, the config names a postgres source", cfg.Checkpoint.Path, cp.Connector)
		}
		opts := postgres.Options{DSN: cfg.Source.DSN, Slot: cfg.Source.Slot, Publication: cfg.Source.Publication,
			Filter: filter, Snapshot: cfg.Snapshot.Mode, Parallelism: cfg.Bronze.Parallelism,
			Heartbeat: cfg.Source.HeartbeatInterval, ReadTimeout: cfg.Source.ReadTimeout, Health: h,
			Logger: log.With("source", "postgres")}
		if cp != nil {
			opts.Checkpoint = cp.Position
		}
		src, err := postgres.Open(ctx, opts)
		return src, avro.ConnectorPostgres, err
	}
	return nil, "", errors.New("source.dsn: use a mysql:// or postgres:// URL")
}

func openSink(ctx context.Context, cfg *config.Config, ops *ops, log *slog.Logger) (*kafkasink.Sink, error) {
	opts, err := sinkOptions(cfg)
	if err != nil {
		return nil, err
	}
	opts.Logger, opts.Health, opts.Delivered = log.With("component", "kafka"), ops.state, ops.metrics.Delivered
	sink, err := kafkasink.New(opts)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := sink.Ping(pctx); err != nil {
		sink.Close()
		return nil, fmt.Errorf("%w (check kafka.brokers: %v)", err, cfg.Kafka.Brokers)
	}
	return sink, nil
}

// sinkOptions are the Kafka client options of cfg: brokers, TLS, SASL.
func sinkOptions(cfg *config.Config) (kafkasink.Options, error) {
	tc, err := tlsConfig(cfg.Kafka.TLS)
	if err != nil {
		return kafkasink.Options{}, fmt.Errorf("kafka.%w", err)
	}
	opts := kafkasink.Options{Brokers: cfg.Kafka.Brokers, TLS: tc, MaxRecordBytes: cfg.Kafka.MaxRecordBytes}
	if s := cfg.Kafka.SASL; s != nil {
		opts.SASL = kafkasink.SASL{Mechanism: s.Mechanism, Username: s.Username, Password: s.Password}
	}
	return opts, nil
}

func openRegistry(cfg *config.Config, h cdc.Health, log *slog.Logger) (*schemaregistry.Client, error) {
	tc, err := tlsConfig(cfg.SchemaRegistry.TLS)
	if err != nil {
		return nil, fmt.Errorf("schema_registry.%w", err)
	}
	return schemaregistry.New(schemaregistry.Options{URL: cfg.SchemaRegistry.URL, Username: cfg.SchemaRegistry.Username,
		Password: cfg.SchemaRegistry.Password, TLS: tc, Health: h, Logger: log.With("component", "registry")})
}
