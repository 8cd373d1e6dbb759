// Package app builds fluxo's components from a config and runs its
// commands; cmd/fluxo parses the command line and calls it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fluxo-cdc/fluxo/avro"
	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/mysql"
	"github.com/fluxo-cdc/fluxo/cdc/postgres"
	"github.com/fluxo-cdc/fluxo/checkpoint"
	"github.com/fluxo-cdc/fluxo/config"
	"github.com/fluxo-cdc/fluxo/kafka"
	"github.com/fluxo-cdc/fluxo/pipeline"
	"github.com/fluxo-cdc/fluxo/registry"
)

// Stream runs `fluxo stream`: it streams changes until ctx is done (then
// flushes Kafka, saves the checkpoint and returns nil) or a fatal error.
func Stream(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if err := cfg.ValidateStream(); err != nil {
		return err
	}
	log = log.With("name", cfg.Name)
	log.Info("starting", "version", Version, "config", cfg.Redacted())
	store, cp, err := loadCheckpoint(ctx, cfg)
	if err != nil {
		return err
	}
	src, connector, err := openSource(ctx, cfg, cp, log)
	if err != nil {
		return err
	}
	defer src.Close()
	sink, err := openSink(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer sink.Close()
	reg, err := openRegistry(cfg, log)
	if err != nil {
		return err
	}
	p, err := pipeline.New(pipeline.Options{
		Name: cfg.Name, TopicPrefix: cfg.Kafka.TopicPrefix, Connector: connector, Version: Version,
		Tombstones: cfg.Kafka.Tombstones, MaxRecordBytes: cfg.Kafka.MaxRecordBytes, Source: src, Sink: sink, Registry: reg, Store: store, Logger: log,
	})
	if err != nil {
		return err
	}
	start := time.Now()
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

func openSource(ctx context.Context, cfg *config.Config, cp *checkpoint.Checkpoint, log *slog.Logger) (cdc.Source, avro.Connector, error) {
	filter, err := cfg.Source.TableFilter()
	if err != nil {
		return nil, "", err
	}
	switch cfg.Source.Flavor() {
	case config.FlavorMySQL:
		dsn, err := config.ParseMySQLDSN(cfg.Source.DSN)
		if err != nil {
			return nil, "", err
		}
		if cp != nil && cp.Connector != string(avro.ConnectorMySQL) {
			return nil, "", fmt.Errorf("checkpoint %s was written by a %s source, the config names a mysql source", cfg.Checkpoint.Path, cp.Connector)
		}
		opts := mysql.Options{
			Conn:     mysql.Conn{Host: dsn.Host, Port: dsn.Port, User: dsn.User, Password: dsn.Password},
			ServerID: cfg.Source.ServerID, Filter: filter, Snapshot: cfg.Snapshot.Mode, Logger: log.With("source", "mysql"),
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
			Heartbeat: cfg.Source.HeartbeatInterval, Logger: log.With("source", "postgres")}
		if cp != nil {
			opts.Checkpoint = cp.Position
		}
		src, err := postgres.Open(ctx, opts)
		return src, avro.ConnectorPostgres, err
	}
	return nil, "", errors.New("source.dsn: use a mysql:// or postgres:// URL")
}

func openSink(ctx context.Context, cfg *config.Config, log *slog.Logger) (*kafka.Sink, error) {
	tc, err := tlsConfig(cfg.Kafka.TLS)
	if err != nil {
		return nil, fmt.Errorf("kafka.%w", err)
	}
	opts := kafka.Options{Brokers: cfg.Kafka.Brokers, TLS: tc, MaxRecordBytes: cfg.Kafka.MaxRecordBytes,
		Logger: log.With("component", "kafka")}
	if s := cfg.Kafka.SASL; s != nil {
		opts.SASL = kafka.SASL{Mechanism: s.Mechanism, Username: s.Username, Password: s.Password}
	}
	sink, err := kafka.New(opts)
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

func openRegistry(cfg *config.Config, log *slog.Logger) (*registry.Client, error) {
	tc, err := tlsConfig(cfg.SchemaRegistry.TLS)
	if err != nil {
		return nil, fmt.Errorf("schema_registry.%w", err)
	}
	return registry.New(registry.Options{URL: cfg.SchemaRegistry.URL, Username: cfg.SchemaRegistry.Username,
		Password: cfg.SchemaRegistry.Password, TLS: tc, Logger: log.With("component", "registry")})
}
