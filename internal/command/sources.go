package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
	"github.com/fluxo-cdc/fluxo/cdc/mysql"
	"github.com/fluxo-cdc/fluxo/cdc/postgres"
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// sourceKind is everything the commands do that depends on the kind of
// source: the one place that maps a connector to its implementation. Each
// function reads what it needs of the source from cfg.
type sourceKind struct {
	connector cdc.Connector
	// open opens the change stream (fluxo stream).
	open func(ctx context.Context, cfg *config.Config, a openArgs) (cdc.Source, error)
	// dumper opens the consistent read-only view fluxo fullload reads.
	dumper func(ctx context.Context, cfg *config.Config, filter cdc.Filter, log *slog.Logger) (cdc.Dumper, error)
	// check runs the source's preflight (fluxo check) from position (nil:
	// none saved) and lists the tables the stream would capture (nil when
	// unknown).
	check func(ctx context.Context, cfg *config.Config, a checkArgs) ([]cdc.Check, []cdc.TableID)
	// lag reads how far position is behind the source (fluxo status).
	lag func(ctx context.Context, cfg *config.Config, position []byte) (*LagReport, error)
	// tables lists the tables whose schemas position holds, with their
	// schema versions (fluxo status).
	tables func(position []byte) (map[string]int, error)
	// snapshot, when set, reads the incremental snapshot's progress at a
	// position (nil: none under way).
	snapshot func(position []byte) *incremental.Progress
	// watch, when set, starts the kind's own metrics in the background
	// until ctx is done (a PostgreSQL slot's WAL figures).
	watch func(ctx context.Context, cfg *config.Config, x *ops, log *slog.Logger) error
}

// openArgs are what the stream hands a source besides the config.
type openArgs struct {
	filter   cdc.Filter
	position []byte // the checkpoint's position; nil on a first start
	health   cdc.Health
	// snapshots takes on-demand snapshot requests (fluxo snapshot).
	snapshots *incremental.Control
	log       *slog.Logger
}

// checkArgs are what fluxo check hands a source's preflight.
type checkArgs struct {
	filter         cdc.Filter
	position       []byte
	connectTimeout time.Duration
}

// sourceKinds lists the kinds of source fluxo reads.
var sourceKinds = [...]sourceKind{
	{connector: cdc.ConnectorMySQL, open: openMySQL, dumper: mysqlDumper, check: checkMySQL, lag: mysqlLag,
		tables: func(pos []byte) (map[string]int, error) {
			p, err := mysql.ParsePosition(pos)
			if err != nil {
				return nil, err
			}
			return p.Tables(), nil
		},
		snapshot: func(pos []byte) *incremental.Progress {
			p, err := mysql.ParsePosition(pos)
			if err != nil {
				return nil
			}
			return p.Incremental()
		}},
	{connector: cdc.ConnectorPostgres, open: openPostgres, dumper: postgresDumper, check: checkPostgres, lag: postgresLag,
		tables: func(pos []byte) (map[string]int, error) {
			p, err := postgres.ParsePosition(pos)
			if err != nil {
				return nil, err
			}
			return p.Tables(), nil
		},
		snapshot: func(pos []byte) *incremental.Progress {
			p, err := postgres.ParsePosition(pos)
			if err != nil {
				return nil
			}
			return p.Incremental()
		},
		watch: watchSlot},
}

// errNoKind is the error of a source.dsn naming no kind fluxo reads.
var errNoKind = errors.New("source.dsn: use a mysql:// or postgres:// URL")

// kindOf returns the kind of cfg's source.
func kindOf(cfg *config.Config) (*sourceKind, error) {
	if k := kindNamed(cfg.Source.Connector()); k != nil {
		return k, nil
	}
	return nil, errNoKind
}

// kindNamed returns the kind of connector c, or nil.
func kindNamed(c cdc.Connector) *sourceKind {
	for i := range sourceKinds {
		if sourceKinds[i].connector == c {
			return &sourceKinds[i]
		}
	}
	return nil
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

func openMySQL(ctx context.Context, cfg *config.Config, a openArgs) (cdc.Source, error) {
	conn, err := mysqlConn(cfg)
	if err != nil {
		return nil, err
	}
	signals, err := cfg.Source.SignalTableID()
	if err != nil {
		return nil, err
	}
	src, err := mysql.Open(ctx, mysql.Options{Conn: conn, ServerID: cfg.Source.ServerID, Filter: a.filter,
		Snapshot: cfg.Snapshot.Mode, ChunkRows: cfg.Snapshot.ChunkRows, Checkpoint: a.position, Health: a.health,
		Snapshots: a.snapshots, SignalTable: signals, Logger: a.log})
	if err != nil {
		return nil, err
	}
	return src, nil
}

func openPostgres(ctx context.Context, cfg *config.Config, a openArgs) (cdc.Source, error) {
	signals, err := cfg.Source.SignalTableID()
	if err != nil {
		return nil, err
	}
	src, err := postgres.Open(ctx, postgres.Options{DSN: cfg.Source.DSN, Slot: cfg.Source.Slot,
		Publication: cfg.Source.Publication, Filter: a.filter, Snapshot: cfg.Snapshot.Mode, Parallelism: cfg.Bronze.Parallelism,
		Heartbeat: cfg.Source.HeartbeatInterval, ReadTimeout: cfg.Source.ReadTimeout, ChunkRows: cfg.Snapshot.ChunkRows, Checkpoint: a.position,
		Health: a.health, Snapshots: a.snapshots, SignalTable: signals, Logger: a.log})
	if err != nil {
		return nil, err
	}
	return src, nil
}

func mysqlDumper(ctx context.Context, cfg *config.Config, filter cdc.Filter, log *slog.Logger) (cdc.Dumper, error) {
	conn, err := mysqlConn(cfg)
	if err != nil {
		return nil, err
	}
	d, err := mysql.OpenDumper(ctx, mysql.DumpOptions{Conn: conn, Filter: filter, Parallelism: cfg.Bronze.Parallelism, Logger: log})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func postgresDumper(ctx context.Context, cfg *config.Config, filter cdc.Filter, log *slog.Logger) (cdc.Dumper, error) {
	d, err := postgres.OpenDumper(ctx, postgres.DumpOptions{DSN: cfg.Source.DSN, Filter: filter,
		Parallelism: cfg.Bronze.Parallelism, ReadTimeout: cfg.Source.ReadTimeout, Logger: log})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func checkMySQL(ctx context.Context, cfg *config.Config, a checkArgs) ([]cdc.Check, []cdc.TableID) {
	conn, err := mysqlConn(cfg)
	if err != nil {
		return []cdc.Check{{Name: "source.connect", Status: cdc.CheckSkip, Detail: "needs a valid config: " + err.Error()}}, nil
	}
	return mysql.Preflight(ctx, mysql.PreflightOptions{Conn: conn, ServerID: cfg.Source.ServerID, Filter: a.filter,
		Snapshot: cfg.Snapshot.Mode, Checkpoint: a.position, ConnectTimeout: a.connectTimeout})
}

func checkPostgres(ctx context.Context, cfg *config.Config, a checkArgs) ([]cdc.Check, []cdc.TableID) {
	return postgres.Preflight(ctx, postgres.PreflightOptions{DSN: cfg.Source.DSN, Slot: cfg.Source.Slot,
		Publication: cfg.Source.Publication, Filter: a.filter, Checkpoint: a.position, ConnectTimeout: a.connectTimeout,
		ReadTimeout: cfg.Source.ReadTimeout})
}

func mysqlLag(ctx context.Context, cfg *config.Config, pos []byte) (*LagReport, error) {
	conn, err := mysqlConn(cfg)
	if err != nil {
		return nil, err
	}
	l, err := mysql.ReadLag(ctx, conn, pos)
	if err != nil {
		return nil, err
	}
	src := fmt.Sprintf("%s:%d", l.File, l.Offset)
	if l.GTIDSet != "" {
		src = fmt.Sprintf("gtid %s (%s)", l.GTIDSet, src)
	}
	return &LagReport{Source: src, Bytes: l.Bytes, Transactions: l.Transactions, Text: l.String()}, nil
}

func postgresLag(ctx context.Context, cfg *config.Config, pos []byte) (*LagReport, error) {
	p, err := postgres.ParsePosition(pos)
	if err != nil {
		return nil, err
	}
	w, err := postgres.ReadSlotWAL(ctx, cfg.Source.DSN, p.Slot)
	if err != nil {
		return nil, err
	}
	if !w.Exists {
		return &LagReport{Bytes: -1, Transactions: -1, SlotStatus: "missing",
			Text: fmt.Sprintf("unknown: slot %q does not exist (dropped?); the stream cannot resume, see fluxo check", p.Slot)}, nil
	}
	r := &LagReport{Source: "lsn " + w.Current.String(), Bytes: max(int64(w.Current)-int64(p.LSN), 0), Transactions: -1,
		SlotRetainedBytes: w.Retained, SlotStatus: w.Status}
	r.Text = fmt.Sprintf("%d WAL bytes behind; the slot retains %d bytes of WAL (wal_status %s)", r.Bytes, w.Retained, w.Status)
	if r.Bytes == 0 {
		r.Text = fmt.Sprintf("none: the checkpoint is at the server's current WAL position; the slot retains %d bytes of WAL", w.Retained)
	}
	return r, nil
}
