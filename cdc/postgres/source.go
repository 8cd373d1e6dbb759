package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
	"github.com/fluxo-cdc/fluxo/internal/liveconn"
)

// Options configure a Source.
type Options struct {
	// DSN is a postgres:// URL.
	DSN               string
	Slot, Publication string
	Filter            Filter
	// Snapshot is a snapshot mode (cdc.SnapshotInitial, ...); it applies
	// to a first start (Checkpoint nil), and to tables added since the
	// checkpoint (snapshotted unless it is cdc.SnapshotNever).
	Snapshot string
	// Checkpoint is a position saved earlier (Position.MarshalBinary), or nil.
	Checkpoint []byte
	// Parallelism is the number of snapshot workers (default 4).
	Parallelism int
	// ReadTimeout is how long any connection may go without progress
	// before it is taken as lost and replaced (source.read_timeout; 0:
	// never). The replication connection asks the server for a keepalive
	// when it has been quiet for a third of it.
	ReadTimeout time.Duration
	// Heartbeat is how often an idle stream advances the slot (default 10s).
	Heartbeat time.Duration
	// StatusInterval is how often the confirmed position is reported to the
	// server (default 10s, or Heartbeat when shorter).
	StatusInterval time.Duration
	Logger         *slog.Logger
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
	// added to the publication whether captured or not (zero: none).
	SignalTable cdc.TableID
}

// Source implements cdc.Source for PostgreSQL.
type Source struct {
	opts     Options
	log      *slog.Logger
	meta     *pgx.Conn      // catalog look-ups, heartbeats, TOAST re-reads
	repl     *pgconn.PgConn // the replication connection
	types    columnTypes
	systemID string
	dbName   string

	current  map[string]*cdc.Table // schema in force per table
	versions map[string]int
	captured []cdc.TableID       // the captured tables when the source opened
	inc      *incremental.Driver // drives the incremental snapshot
	chunks   *incChunks          // its PostgreSQL side
	rels     map[uint32]*relState
	// signalRel is the relation id of the signal table, once described.
	signalRel *uint32

	snap     *snapshotter
	startLSN pglogrepl.LSN // where streaming starts (0: the slot's confirmed position)
	started  bool
	last     *Position // the last position yielded in a Commit
	acked    atomic.Uint64
	stream   streamState
	seen     cdc.TxSeen // drops what a reconnect inside a transaction receives again

	pending cdc.Queue
	done    bool // initial_only finished
}

// Open connects, checks the server, sets up publication and slot, and
// prepares to yield from the checkpoint or a fresh snapshot.
func Open(ctx context.Context, opts Options) (*Source, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Health == nil {
		opts.Health = cdc.NoHealth{}
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = 4
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 10 * time.Second
	}
	if opts.StatusInterval == 0 {
		opts.StatusInterval = min(10*time.Second, opts.Heartbeat)
	}
	s := &Source{opts: opts, log: opts.Logger, current: map[string]*cdc.Table{}, versions: map[string]int{},
		rels: map[uint32]*relState{}}
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
	if s.meta, err = connect(ctx, s.opts.DSN, s.opts.ReadTimeout); err != nil {
		return err
	}
	if err := checkServer(ctx, s.meta); err != nil {
		return err
	}
	if s.repl, err = connectReplication(ctx, s.opts.DSN, s.opts.ReadTimeout); err != nil {
		return err
	}
	sys, err := pglogrepl.IdentifySystem(ctx, s.repl)
	if err != nil {
		return fmt.Errorf("postgres: identify system: %w", err)
	}
	s.systemID, s.dbName = sys.SystemID, sys.DBName
	s.types = newCatalog(s.meta, s.log)
	ids, err := capturedTables(ctx, s.meta, s.opts.Filter)
	if err != nil {
		return err
	}
	if err := checkReplicaIdentity(ctx, s.meta, ids); err != nil {
		return err
	}
	published, err := s.withSignalTable(ctx, ids)
	if err != nil {
		return err
	}
	if err := ensurePublication(ctx, s.meta, s.opts.Publication, published); err != nil {
		return err
	}
	sl, err := readSlot(ctx, s.meta, s.opts.Slot)
	if err != nil {
		return err
	}
	s.captured = ids
	if s.opts.Checkpoint != nil {
		return s.resume(ctx, sl, ids)
	}
	return s.fresh(ctx, sl, ids)
}

func (s *Source) position(lsn pglogrepl.LSN, done bool) *Position {
	p := &Position{SystemID: s.systemID, Slot: s.opts.Slot, LSN: lsn, SnapshotDone: done, versions: s.versions,
		captured: s.captured}
	p.incremental = s.inc.Progress()
	return p
}

// resume continues from a checkpoint, refusing a different server, a
// missing slot or a slot that moved past the checkpoint.
func (s *Source) resume(ctx context.Context, sl slot, ids []cdc.TableID) error {
	cp, err := ParsePosition(s.opts.Checkpoint)
	if err != nil {
		return err
	}
	if err := verifyResume(cp, sl, s.systemID, s.dbName, s.opts.Slot); err != nil {
		return err
	}
	if cp.versions != nil {
		s.versions = cp.versions
	}
	s.planIncremental(cp, ids)
	s.startLSN, s.last = cp.LSN, cp
	s.acked.Store(uint64(cp.LSN))
	if cp.SnapshotDone {
		s.log.Info("resuming from checkpoint", "position", cp.String())
		return nil
	}
	s.log.Warn("the initial snapshot was interrupted: reading the tables again, then streaming from the checkpoint", "position", cp.String())
	return s.startSnapshot(ctx, ids, "", cp.LSN, false)
}

// verifyResume checks that the server (systemID, database dbName) and its
// slot sl, called name, can resume from the checkpoint cp.
func verifyResume(cp *Position, sl slot, systemID, dbName, name string) error {
	resnap := "delete the checkpoint file and restart to take a new snapshot (snapshot.mode: initial)"
	switch {
	case cp.SystemID != systemID:
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: the checkpoint belongs to server %s, this is server %s", cp.SystemID, systemID),
			Fix: "point source.dsn at the original server, or " + resnap}
	case !sl.exists:
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: replication slot %q is gone (dropped?), the changes since %s cannot be read", name, cp.LSN),
			Fix: resnap}
	case sl.plugin != "pgoutput" || sl.database != dbName:
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: slot %q uses plugin %s on database %s", name, sl.plugin, sl.database),
			Fix: "give fluxo its own slot (source.slot)"}
	case sl.confirmed > cp.LSN:
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: slot %q is at %s, ahead of the checkpoint at %s: the changes in between were confirmed by someone else and are lost to fluxo", name, sl.confirmed, cp.LSN),
			Fix: "make sure no other client uses the slot, then " + resnap}
	case sl.walStatus == "lost":
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: replication slot %q is invalidated (wal_status lost): the server removed WAL it still needed (max_slot_wal_keep_size)", name),
			Fix: "drop the slot (SELECT pg_drop_replication_slot('" + name + "')), then " + resnap + "; raise max_slot_wal_keep_size so it does not happen again"}
	}
	return nil
}

// fresh starts without a checkpoint.
func (s *Source) fresh(ctx context.Context, sl slot, ids []cdc.TableID) error {
	mode := s.opts.Snapshot
	consistent := mode == cdc.SnapshotInitialConsistent
	if sl.exists {
		// A slot without a checkpoint: fluxo crashed before its first
		// checkpoint, or someone created the slot. Its position is the only
		// safe start; a fresh snapshot covers what it cannot replay.
		s.startLSN = sl.confirmed
		if consistent {
			s.last = s.position(sl.confirmed, false)
			return s.startSnapshot(ctx, ids, "", sl.confirmed, true)
		}
		s.streamFrom(sl.confirmed, ids)
		return nil
	}
	action := "NOEXPORT_SNAPSHOT"
	if consistent {
		action = "EXPORT_SNAPSHOT"
	}
	// Creating the slot waits for the transactions running at that moment
	// to end, however long they take: no progress bound meanwhile (TCP
	// keepalive still notices a dead path).
	restore := liveconn.Patient(s.repl.Conn())
	res, err := pglogrepl.CreateReplicationSlot(ctx, s.repl, s.opts.Slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{
		Mode: pglogrepl.LogicalReplication, SnapshotAction: action, Temporary: mode == cdc.SnapshotInitialOnly})
	restore()
	if err != nil {
		return explainSlot(s.opts.Slot, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return err
	}
	s.log.Info("replication slot created", "slot", s.opts.Slot, "consistent_point", lsn.String())
	s.startLSN = lsn
	if consistent {
		s.last = s.position(lsn, false)
		return s.startSnapshot(ctx, ids, res.SnapshotName, lsn, true)
	}
	s.streamFrom(lsn, ids)
	return nil
}

// streamFrom starts a first stream at lsn with every captured table ids
// queued for an incremental snapshot unless snapshot.mode is never. The
// start is checkpointed before any chunk (SaveNow): a crash before then
// starts afresh from the slot, after it resumes the snapshot.
func (s *Source) streamFrom(lsn pglogrepl.LSN, ids []cdc.TableID) {
	if s.opts.Snapshot == cdc.SnapshotNever {
		s.last = s.position(lsn, true)
		s.pending.Push(cdc.Message{Commit: s.last, SaveNow: true}) // the start is durable before anything is read
		return
	}
	s.inc = s.newDriver((&incremental.Progress{}).With(ids...))
	s.last = s.position(lsn, true)
	s.pending.Push(cdc.Message{Commit: s.last, SaveNow: true})
	s.log.Info("streaming from the slot; snapshotting the tables incrementally meanwhile",
		"from", lsn.String(), "tables", len(ids), "mode", s.opts.Snapshot)
}

func explainSlot(name string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "53400" {
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: create slot %q: %w", name, err),
			Fix: "raise max_replication_slots (and restart), or drop unused slots"}
	}
	return fmt.Errorf("postgres: create slot %q: %w", name, err)
}

// Next implements cdc.Source.
func (s *Source) Next(ctx context.Context) (cdc.Message, error) {
	return s.pending.Next(ctx, s.fill)
}

// fill decodes the next input into pending, or fails.
func (s *Source) fill(ctx context.Context) error {
	switch {
	case s.done:
		return cdc.ErrEndOfStream
	case s.snap != nil:
		return s.fillSnapshot(ctx)
	}
	return s.fillStream(ctx)
}

// Ack implements cdc.Source: the position is reported to the server as
// written, flushed and applied at the next status update.
func (s *Source) Ack(_ context.Context, pos cdc.Position) error {
	p, ok := pos.(*Position)
	if !ok {
		return fmt.Errorf("postgres: ack of a %T", pos)
	}
	for {
		cur := s.acked.Load()
		if uint64(p.LSN) <= cur || s.acked.CompareAndSwap(cur, uint64(p.LSN)) {
			return nil
		}
	}
}

// Close implements cdc.Source.
func (s *Source) Close() error {
	if s.snap != nil {
		s.snap.close()
		s.snap = nil
	}
	s.inc.Close()
	s.closeConns()
	return nil
}

func (s *Source) closeConns() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.repl != nil {
		s.repl.Close(ctx)
		s.repl = nil
	}
	if s.meta != nil {
		s.meta.Close(ctx)
		s.meta = nil
	}
}

var _ cdc.Source = (*Source)(nil)
