// Package command builds fluxo's components from a config and runs its
// commands; cmd/fluxo parses the command line and calls it.
package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/mask"
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
	Metrics Registry
	// Notify sends a systemd notification (sd_notify); nil sends none.
	Notify *sdnotify.Notifier
	// Watchdog is how often WATCHDOG=1 is sent while the stream is live
	// (0: never).
	Watchdog time.Duration
	// Listening, when set, is called with the HTTP endpoint's address once
	// it listens.
	Listening func(addr string)
	// Version is fluxo's version, logged and written into every envelope's
	// source.version ("" is DevVersion).
	Version string
}

// DevVersion is the version of a fluxo built without one.
const DevVersion = "0.1.0-dev"

func orDev(version string) string {
	if version == "" {
		return DevVersion
	}
	return version
}

// Stream runs `fluxo stream`: it streams changes until ctx is done (then
// flushes Kafka, saves the checkpoint and returns nil) or a fatal error.
// While it runs, cfg.HTTP.Listen serves /metrics, /healthz and /readyz.
func Stream(ctx context.Context, cfg *config.Config, o StreamOptions, log *slog.Logger) error {
	if err := cfg.ValidateStream(); err != nil {
		return err
	}
	log = log.With("name", cfg.Name)
	o.Version = orDev(o.Version)
	log.Info("starting", "version", o.Version, "config", cfg.Redacted())
	ops, err := startOps(cfg, o, log)
	if err != nil {
		return err
	}
	defer ops.close()
	err = stream(ctx, cfg, ops, o.Version, log)
	ops.state.Running(false, err)
	ops.notify("STOPPING=1")
	return err
}

func stream(ctx context.Context, cfg *config.Config, ops *ops, version string, log *slog.Logger) error {
	store, err := openStore(cfg)
	if err != nil {
		return err
	}
	if c, ok := store.(interface{ Close() }); ok {
		defer c.Close()
	}
	lease, err := acquire(ctx, cfg, store, log)
	if err != nil {
		return err
	}
	defer lease.Release() // after the sink's last flush and close
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ab := &abandoner{}
	go func() {
		select {
		case <-lease.Lost():
			if errors.Is(lease.Err(), checkpoint.ErrLeaseExpired) {
				log.Error("this process lost its hold on the stream: stopping at once, sending nothing more", "err", lease.Err())
				ab.expire()
			} else {
				log.Warn("another fluxo process of this stream is taking over: stopping (flushing Kafka and saving the checkpoint first)", "err", lease.Err())
			}
			stop()
		case <-runCtx.Done():
		}
	}()
	err = run(runCtx, cfg, store, ops, ab, version, log)
	if errors.Is(err, kafkasink.ErrFenced) {
		return fmt.Errorf("%w: a newer producer with transactional id %s fenced this one (%w); its open transaction was aborted; run one process per stream name", checkpoint.ErrTakenOver, transactionalID(cfg), err)
	}
	select {
	case <-lease.Lost():
		if errors.Is(lease.Err(), checkpoint.ErrLeaseExpired) {
			return fmt.Errorf("%w; what Kafka acknowledged before is checkpointed in %s, and a restart resumes there (are kafka.brokers reachable?)", lease.Err(), cfg.Checkpoint.Where(cfg.Name))
		}
		return fmt.Errorf("%w: this one stopped after saving its checkpoint in %s; run one process per stream name", lease.Err(), cfg.Checkpoint.Where(cfg.Name))
	default:
		return err
	}
}

// abandoner closes the stream's sink at once when its lease expires, also
// when that happens before the sink is open.
type abandoner struct {
	mu      sync.Mutex
	sink    *kafkasink.Sink
	expired bool
}

func (a *abandoner) set(s *kafkasink.Sink) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sink = s
	if a.expired {
		s.Abandon()
	}
}

func (a *abandoner) expire() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expired = true
	if a.sink != nil {
		a.sink.Abandon()
	}
}

// takeoverWait bounds the wait for the stream's current process to stop.
const takeoverWait = 3 * time.Minute

// acquire makes this process the stream's only writer (see
// checkpoint.Exclusive): a process already running stops first.
func acquire(ctx context.Context, cfg *config.Config, store checkpoint.Store, log *slog.Logger) (checkpoint.Lease, error) {
	ex, ok := store.(checkpoint.Exclusive)
	if !ok || cfg.Kafka.Transactions { // the brokers fence an earlier producer
		return noLease{}, nil
	}
	host, _ := os.Hostname()
	holder := fmt.Sprintf("pid %d on %s, started %s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339Nano))
	actx, cancel := context.WithTimeout(ctx, takeoverWait)
	defer cancel()
	return ex.Acquire(actx, holder, func(current string) {
		log.Warn("another fluxo process runs this stream: asking it to stop, and waiting for it to save its checkpoint", "current", current)
	})
}

// fence makes a transactional stream the only writer of its records and
// checkpoint before it loads the checkpoint: an earlier process's open
// transaction is aborted and its last commit is final. Then it creates the
// checkpoint topic, which transactions write to (after the fence, so that
// brokers that refuse transactions see nothing created).
func fence(ctx context.Context, cfg *config.Config, sink *kafkasink.Sink, store checkpoint.Store) error {
	if !cfg.Kafka.Transactions {
		return nil
	}
	fctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := sink.Fence(fctx); err != nil {
		return err
	}
	if k, ok := store.(*checkpoint.Kafka); ok {
		return k.Ensure(ctx)
	}
	return nil
}

// noLease stands for the hold of a store that does not keep other
// processes out.
type noLease struct{}

func (noLease) Lost() <-chan struct{} { return nil }
func (noLease) Err() error            { return nil }
func (noLease) Release()              {}

func run(ctx context.Context, cfg *config.Config, store checkpoint.Store, ops *ops, ab *abandoner, version string, log *slog.Logger) error {
	sink, err := openSink(ctx, cfg, ops, log)
	if err != nil {
		return err
	}
	defer sink.Close()
	ab.set(sink)
	if err := fence(ctx, cfg, sink, store); err != nil {
		return err
	}
	cp, err := loadFrom(ctx, cfg, store)
	if err != nil {
		return err
	}
	kind, src, err := openSource(ctx, cfg, cp, ops, log)
	if err != nil {
		return err
	}
	defer src.Close()
	ops.state.Up(cdc.ComponentSource)
	reg, err := openRegistry(cfg, ops.state, log)
	if err != nil {
		return err
	}
	p, err := pipeline.New(pipeline.Options{
		Name: cfg.Name, TopicPrefix: cfg.Kafka.TopicPrefix, Connector: kind.connector, Version: version,
		Tombstones: cfg.Kafka.Tombstones, MaxRecordBytes: cfg.Kafka.MaxRecordBytes, Source: src, Sink: sink, Registry: reg, Store: store,
		Transactions: cfg.Kafka.Transactions, CommitInterval: cfg.Kafka.CommitInterval, TransactionTimeout: cfg.Kafka.TransactionTimeout,
		TransactionTopic: cfg.Kafka.TransactionTopic, HeartbeatTopic: cfg.Kafka.HeartbeatTopic, HeartbeatInterval: cfg.Source.HeartbeatInterval,
		Observer: observer{ops.metrics, ops.state}, Logger: log,
	})
	if err != nil {
		return err
	}
	if kind.watch != nil {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if err := kind.watch(wctx, cfg, ops, log); err != nil {
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

// loadCheckpoint opens cfg's checkpoint store and loads the checkpoint (nil
// when none was saved).
func loadCheckpoint(ctx context.Context, cfg *config.Config) (checkpoint.Store, *checkpoint.Checkpoint, error) {
	store, err := openStore(cfg)
	if err != nil {
		return nil, nil, err
	}
	cp, err := loadFrom(ctx, cfg, store)
	return store, cp, err
}

// loadFrom loads the checkpoint from store, within storeTimeout.
func loadFrom(ctx context.Context, cfg *config.Config, store checkpoint.Store) (*checkpoint.Checkpoint, error) {
	lctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	cp, err := store.Load(lctx)
	if err != nil && lctx.Err() != nil && ctx.Err() == nil {
		err = fmt.Errorf("load the checkpoint from %s: no answer within %v: %w (are kafka.brokers reachable?)", cfg.Checkpoint.Where(cfg.Name), storeTimeout, err)
	}
	return cp, err
}

// storeTimeout bounds the load of a checkpoint.
const storeTimeout = time.Minute

// openStore returns cfg's checkpoint store: the file at checkpoint.path,
// or the compacted topic checkpoint.topic of kafka.brokers.
func openStore(cfg *config.Config) (checkpoint.Store, error) {
	if cfg.Checkpoint.Store != "kafka" {
		return checkpoint.NewFile(cfg.Checkpoint.Path, cfg.Name), nil
	}
	opts, err := sinkOptions(cfg)
	if err != nil {
		return nil, err
	}
	kopts, err := kafkasink.ConnectOptions(opts)
	if err != nil {
		return nil, err
	}
	k := checkpoint.NewKafka(kopts, cfg.Checkpoint.Topic, cfg.Name)
	k.LeaseTimeout = cfg.Checkpoint.LeaseTimeout
	return k, nil
}

// openSource opens the change stream of cfg's source from cp (nil: a first
// start).
func openSource(ctx context.Context, cfg *config.Config, cp *checkpoint.Checkpoint, ops *ops, log *slog.Logger) (*sourceKind, cdc.Source, error) {
	kind, err := kindOf(cfg)
	if err != nil {
		return nil, nil, err
	}
	filter, err := cfg.Source.TableFilter()
	if err != nil {
		return nil, nil, err
	}
	a := openArgs{filter: filter, health: ops.state, snapshots: ops.snapshots, log: log.With(cdc.LogComponent, string(kind.connector))}
	if cp != nil {
		if cp.Connector != kind.connector {
			return nil, nil, fmt.Errorf("checkpoint %s was written by a %s source, the config names a %s source", cfg.Checkpoint.Where(cfg.Name), cp.Connector, kind.connector)
		}
		a.position = cp.Position
	}
	src, err := kind.open(ctx, cfg, a)
	if err == nil && filter.Masking() {
		src = mask.New(filter, cfg.MaskKey()).Source(src)
	}
	return kind, src, err
}

func openSink(ctx context.Context, cfg *config.Config, ops *ops, log *slog.Logger) (*kafkasink.Sink, error) {
	opts, err := sinkOptions(cfg)
	if err != nil {
		return nil, err
	}
	opts.Logger, opts.Health, opts.Delivered = log.With(cdc.LogComponent, "kafka"), ops.state, ops.metrics.Delivered
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
	tc, err := cfg.Kafka.TLS.ClientConfig()
	if err != nil {
		return kafkasink.Options{}, fmt.Errorf("kafka.%w", err)
	}
	opts := kafkasink.Options{Brokers: cfg.Kafka.Brokers, TLS: tc, MaxRecordBytes: cfg.Kafka.MaxRecordBytes}
	if cfg.Kafka.Transactions {
		opts.TransactionalID, opts.TransactionTimeout = transactionalID(cfg), cfg.Kafka.TransactionTimeout
	}
	if s := cfg.Kafka.SASL; s != nil {
		opts.SASL = kafkasink.SASL{Mechanism: s.Mechanism, Username: s.Username, Password: s.Password}
	}
	return opts, nil
}

func openRegistry(cfg *config.Config, h cdc.Health, log *slog.Logger) (*schemaregistry.Client, error) {
	tc, err := cfg.SchemaRegistry.TLS.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("schema_registry.%w", err)
	}
	return schemaregistry.New(schemaregistry.Options{URL: cfg.SchemaRegistry.URL, Username: cfg.SchemaRegistry.Username,
		Password: cfg.SchemaRegistry.Password, TLS: tc, Health: h, Logger: log.With(cdc.LogComponent, "registry")})
}

// transactionalID is the Kafka transactional id of cfg's stream.
func transactionalID(cfg *config.Config) string { return "fluxo-" + cfg.Name }
