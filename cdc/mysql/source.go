// Package mysql is Fluxo's MySQL/MariaDB source: it snapshots captured tables
// and streams their row changes from the binary log with go-mysql's
// BinlogSyncer, yielding transaction-bounded messages with GTID positions.
package mysql

import (
	"context"
	"log/slog"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// Options configure a Source.
type Options struct {
	Conn Conn
	// ServerID is the replica server id fluxo registers with; unique per
	// process reading the same server.
	ServerID uint32
	Filter   Filter
	// Snapshot is a snapshot mode (cdc.SnapshotInitial, ...); it applies
	// to a first start (Checkpoint nil), and to tables added since the
	// checkpoint (snapshotted unless it is cdc.SnapshotNever).
	Snapshot string
	// Checkpoint is a position saved earlier (Position.MarshalBinary), or nil
	// for a first start.
	Checkpoint []byte
	// Heartbeat is the server heartbeat period when idle (default 10s).
	Heartbeat time.Duration
	Logger    *slog.Logger
	// Health receives the server's reachability while streaming: Down when
	// the connection is lost, Up once it is back (nil: not reported).
	Health cdc.Health
	// ChunkRows is the incremental snapshot's chunk size (0:
	// incremental.DefaultChunkRows).
	ChunkRows int
	// Snapshots takes on-demand snapshot requests and shows the
	// incremental snapshot's progress (nil: none).
	Snapshots *incremental.Control
	// SignalTable is the table whose inserted rows are signals
	// (Debezium's id, type, data columns; see incremental.Control.Signal),
	// read from the binlog whether captured or not (zero: none).
	SignalTable cdc.TableID
}

// Source implements cdc.Source for MySQL and MariaDB.
type Source struct {
	opts   Options
	log    *slog.Logger
	meta   *client.Conn // for information_schema look-ups
	server serverInfo

	syncer   *replication.BinlogSyncer
	streamer *replication.BinlogStreamer
	snap     *snapshotter // non-nil while the initial snapshot runs

	gset     gomysql.GTIDSet
	file     string
	last     *Position // the last position yielded in a Commit
	schemas  *schemaSet
	tables   map[uint64]*tableState // by binlog table id; nil value = not captured
	byName   map[cdc.TableID]*tableEntry
	checksum int // trailing checksum bytes of each event

	tx      txState
	seen    cdc.TxSeen // drops what a reconnect inside a transaction reads again
	pending cdc.Queue
	done    bool // initial_only finished: the stream ends

	// at is where the stream is in the binlog: after the last event read.
	at binlogPoint
	// captured lists the captured tables when the source opened.
	captured []cdc.TableID
	// inc drives the incremental snapshot; chunks is its MySQL side.
	inc    *incremental.Driver
	chunks *incChunks
	// signalMap is the binlog table id of the signal table, when mapped.
	signalMap *uint64
}

type tableEntry struct {
	fingerprint []byte
	state       *tableState
}

// Open connects, checks the server's settings and prepares to yield from the
// checkpoint, or from a fresh snapshot or the current position.
func Open(ctx context.Context, opts Options) (*Source, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Health == nil {
		opts.Health = cdc.NoHealth{}
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 10 * time.Second
	}
	meta, err := dial(ctx, opts.Conn)
	if err != nil {
		return nil, err
	}
	s := &Source{opts: opts, log: opts.Logger, meta: meta, tables: map[uint64]*tableState{},
		byName: map[cdc.TableID]*tableEntry{}, schemas: &schemaSet{tables: map[cdc.TableID]*savedTable{}}}
	s.chunks = &incChunks{s: s}
	s.inc = s.newDriver(nil)
	if err := s.open(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Source) open(ctx context.Context) error {
	var err error
	if s.server, err = readServerInfo(s.meta); err != nil {
		return err
	}
	if err := s.server.check(); err != nil {
		return err
	}
	if err := checkReplicationGrant(s.meta); err != nil {
		return err
	}
	if err := checkSignalTable(s.meta, s.opts.SignalTable); err != nil {
		return err
	}
	if s.server.rowMetadata != "FULL" {
		s.log.Warn("binlog_row_metadata is not FULL: column names come from information_schema, which is wrong for rows written before an ALTER TABLE",
			"binlog_row_metadata", s.server.rowMetadata, "fix", "SET GLOBAL binlog_row_metadata = 'FULL' (MySQL 8.0.1+, MariaDB 10.5+)")
	}
	if s.opts.Checkpoint != nil {
		if err := s.resume(); err != nil {
			return err
		}
		if s.last.SnapshotDone {
			return s.planIncremental(s.last)
		}
		s.log.Warn("the initial snapshot was interrupted: taking it again, then streaming from the position of the first attempt",
			"from", s.last.String())
		s.snap, err = startSnapshot(ctx, s, s.last)
		return err
	}
	if s.opts.Snapshot == cdc.SnapshotInitialConsistent {
		s.snap, err = startSnapshot(ctx, s, nil)
		return err
	}
	return s.fresh()
}

// fresh starts streaming from the current position, with every captured
// table queued for an incremental snapshot unless snapshot.mode is never.
// The start is checkpointed before any chunk (SaveNow): a crash before then
// starts afresh, after it resumes the snapshot.
func (s *Source) fresh() error {
	var err error
	if s.captured, err = listTables(s.meta, s.opts.Filter); err != nil {
		return err
	}
	file, pos, gtid, err := binlogPosition(s.meta, s.server)
	if err != nil {
		return err
	}
	if s.opts.Snapshot == cdc.SnapshotNever {
		s.last = s.newPosition(file, pos, gtid)
		// The start is checkpointed before anything is read: a crash
		// before the first transaction must not move it to a later
		// "current position" (the binlog keeps no slot for fluxo).
		s.pending.Push(cdc.Message{Commit: s.last, SaveNow: true})
		s.log.Info("snapshot.mode is never: streaming from the current position", "position", s.last.String())
		return nil
	}
	s.inc = s.newDriver((&incremental.Progress{}).With(s.captured...))
	s.last = s.newPosition(file, pos, gtid)
	s.pending.Push(cdc.Message{Commit: s.last, SaveNow: true})
	s.log.Info("streaming from the current position; snapshotting the tables incrementally meanwhile",
		"position", s.last.String(), "tables", len(s.captured), "mode", s.opts.Snapshot)
	return nil
}

func (s *Source) newPosition(file string, pos uint32, gtid string) *Position {
	p := &Position{Flavor: s.server.flavor, ServerID: s.server.identity, GTIDSet: gtid,
		File: file, Offset: pos, SnapshotDone: true, schemas: s.schemas}
	s.stamp(p)
	return p
}

// Next implements cdc.Source.
func (s *Source) Next(ctx context.Context) (cdc.Message, error) {
	return s.pending.Next(ctx, s.fill)
}

// fill decodes the next input into pending, or fails.
func (s *Source) fill(ctx context.Context) error {
	if s.done {
		return cdc.ErrEndOfStream
	}
	if s.snap != nil {
		return s.fillSnapshot(ctx)
	}
	if s.streamer == nil {
		if err := s.startStream(); err != nil {
			if cdc.Permanent(err) {
				return err
			}
			// Lost between Open and the dump's start: retried like a
			// connection lost while streaming.
			return cdc.Recover(ctx, s.opts.Health, s.log, "binlog connection lost", err, cdc.Transient, s.startStream,
				"from", s.last.String())
		}
	}
	queued, err := s.stepIncremental(ctx)
	if err != nil && connectionLost(err) {
		err = s.retryChunk(ctx, err)
	}
	if queued || err != nil || s.done {
		return err
	}
	ev, err := s.nextEvent(ctx)
	if ev == nil && err == nil {
		return nil // a chunk's read is done: step again
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s.reconnect(ctx, err)
	}
	s.opts.Health.Heard(cdc.ComponentSource) // heartbeat events too
	if err := s.handle(ev); err != nil {
		return err
	}
	s.advance(ev)
	return nil
}

// nextEvent waits for the next binlog event, or returns nil, nil when the
// chunk read in flight is done first and the stream is between
// transactions (where the chunk can go on).
func (s *Source) nextEvent(ctx context.Context) (*replication.BinlogEvent, error) {
	done := s.inc.ReadDone()
	if done == nil || s.tx.open {
		return s.streamer.GetEvent(ctx)
	}
	select {
	case <-done:
		return nil, nil
	default:
	}
	wait, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-wait.Done():
		}
	}()
	ev, err := s.streamer.GetEvent(wait)
	if err != nil && ctx.Err() == nil && wait.Err() != nil {
		return nil, nil // the event, if any, stays in the streamer
	}
	return ev, err
}

// advance moves the stream's binlog point past ev.
func (s *Source) advance(ev *replication.BinlogEvent) {
	if r, ok := ev.Event.(*replication.RotateEvent); ok {
		if next := string(r.NextLogName); next != s.at.file {
			s.at = binlogPoint{next, uint32(r.Position)}
		}
		return
	}
	if ev.Header.LogPos > s.at.offset {
		s.at.offset = ev.Header.LogPos
	}
}

// Ack implements cdc.Source; the binlog needs no confirmation.
func (s *Source) Ack(context.Context, cdc.Position) error { return nil }

// Close implements cdc.Source.
func (s *Source) Close() error {
	if s.snap != nil {
		s.snap.close()
		s.snap = nil
	}
	s.inc.Close()
	if s.syncer != nil {
		s.syncer.Close()
		s.syncer = nil
	}
	if s.meta != nil {
		s.meta.Close()
		s.meta = nil
	}
	return nil
}

var _ cdc.Source = (*Source)(nil)
