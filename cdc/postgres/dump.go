package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// DumpOptions configure a Dumper.
type DumpOptions struct {
	// DSN is a postgres:// URL. The role needs only SELECT on the tables.
	DSN string
	// Filter selects the tables, columns and keys; nil captures every table
	// outside the system schemas.
	Filter Filter
	// Parallelism is the number of worker connections, and so of concurrent
	// reads (default 4).
	Parallelism int
	// ReadTimeout is Options.ReadTimeout: how long a connection may go
	// without progress before a read fails (and is retried on a new one).
	ReadTimeout time.Duration
	Logger      *slog.Logger
}

// Dumper implements cdc.Dumper for PostgreSQL (SPEC §7): a read-only view
// of the database in one exported snapshot.
//
// A coordinating connection opens a REPEATABLE READ READ ONLY transaction,
// exports its snapshot and stays open until Close, which keeps the snapshot
// importable; it also reads the catalog and plans the tables. Each of
// Parallelism worker connections imports the snapshot in its own
// transaction and serves one Read at a time. A worker connection that a
// failed or cancelled read left broken is replaced on its next use by a new
// one importing the same snapshot.
//
// Tables locks every table it describes (ACCESS SHARE, as pg_dump does)
// until Close: otherwise a TRUNCATE or a rewriting ALTER TABLE, which are
// not MVCC-safe, would silently show the snapshot an empty table. So a
// DROP, TRUNCATE or ALTER TABLE of a described table waits for Close; a
// table dropped (or replaced) between the snapshot and Tables is listed, and
// reading it fails with an error wrapping cdc.ErrTableGone.
type Dumper struct {
	opts    DumpOptions
	log     *slog.Logger
	filter  Filter
	info    cdc.DumpInfo
	version int // server_version_num

	coordMu sync.Mutex // guards coord and types
	coord   *pgx.Conn
	types   *catalog

	tablesMu sync.Mutex
	tables   map[cdc.TableID]*dumpTable

	poolMu  sync.Mutex // guards the hand-over of workers against Close
	free    chan *dumpConn
	workers []*dumpConn
	closed  atomic.Bool
	done    chan struct{} // closed by Close

	textOnly bool // tests: read every column in text format
}

var _ cdc.Dumper = (*Dumper)(nil)

// dumpSession lifts the limits a role or database may set, which would
// break long reads and the coordinator's idle transaction (as pg_dump does).
const dumpSession = "SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0"

// errDumperClosed is returned by calls after Close.
var errDumperClosed = errors.New("postgres: the dumper is closed")

// OpenDumper connects, exports a snapshot and opens the worker connections
// in it.
func OpenDumper(ctx context.Context, o DumpOptions) (*Dumper, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Parallelism <= 0 {
		o.Parallelism = 4
	}
	d := &Dumper{opts: o, log: o.Logger, filter: o.Filter, tables: map[cdc.TableID]*dumpTable{},
		free: make(chan *dumpConn, o.Parallelism), done: make(chan struct{})}
	if d.filter == nil {
		d.filter = captureAll{}
	}
	if err := d.open(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Dumper) open(ctx context.Context) error {
	var err error
	if d.coord, err = dumpConnect(ctx, d.opts.DSN, d.opts.ReadTimeout, false); err != nil {
		return err
	}
	if err := d.coord.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&d.version); err != nil {
		return fmt.Errorf("postgres: read server version: %w", err)
	}
	// The position is read just before the snapshot is taken, so that a
	// replay from it would miss nothing the snapshot misses (it may repeat
	// what committed in between). It is approximate all the same: only a
	// replication slot's snapshot has an exact position, and the dumper
	// needs no replication privilege.
	lsn := readLSN(ctx, d.coord, d.log)
	if err := execSimple(ctx, d.coord, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	snapFn := "txid_current_snapshot()"
	if d.version >= 130000 {
		snapFn = "pg_current_snapshot()"
	}
	var name, snap string
	if err := d.coord.QueryRow(ctx, "SELECT pg_export_snapshot(), "+snapFn+"::text").Scan(&name, &snap); err != nil {
		return fmt.Errorf("postgres: export snapshot: %w", err)
	}
	d.info = cdc.DumpInfo{Consistency: cdc.ConsistencySnapshot, Snapshot: name, Position: lsn}
	if n, err := pglogrepl.ParseLSN(lsn); err == nil && lsn != "" {
		d.info.ChangesFrom = cdc.WALStart(uint64(n))
	}
	if lsn == "" {
		d.info.Position = snap // the snapshot's xmin:xmax:xip list
	}
	d.types = newCatalog(d.coord, d.log)

	d.workers = make([]*dumpConn, d.opts.Parallelism)
	errs := make([]error, len(d.workers))
	var wg sync.WaitGroup
	for i := range d.workers {
		d.workers[i] = &dumpConn{}
		wg.Go(func() { errs[i] = d.ready(ctx, d.workers[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, w := range d.workers {
			w.close()
		}
		return err
	}
	for _, w := range d.workers {
		d.free <- w
	}
	d.log.Info("full load snapshot exported", "snapshot", name, "position", d.info.Position,
		"workers", len(d.workers))
	return nil
}

// readLSN returns the server's current WAL position (the last replayed one
// on a standby), or "" when the role may not read it.
func readLSN(ctx context.Context, conn *pgx.Conn, log *slog.Logger) string {
	var standby bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&standby); err != nil {
		log.Warn("cannot read the WAL position; the manifest records the snapshot instead", cdc.LogError, err)
		return ""
	}
	fn := "pg_current_wal_lsn()"
	if standby {
		fn = "pg_last_wal_replay_lsn()"
	}
	var lsn *string
	if err := conn.QueryRow(ctx, "SELECT "+fn+"::text").Scan(&lsn); err != nil || lsn == nil {
		log.Warn("cannot read the WAL position; the manifest records the snapshot instead", cdc.LogError, err)
		return ""
	}
	return *lsn
}

// dumpConnect opens a connection and prepares its session.
//
// The context of a worker's query, when it ends, has the server cancel the
// query, which stops its scan at once and leaves the connection usable (in
// a failed transaction, which ready restarts); only if the server does not
// answer within a second is the connection closed. The coordinator's
// connection is closed at once: its queries are short, and a cancelled one
// would end the transaction, and with it the snapshot, anyway.
func dumpConnect(ctx context.Context, dsn string, readTimeout time.Duration, worker bool) (*pgx.Conn, error) {
	cfg, err := connConfig(dsn, readTimeout)
	if err != nil {
		return nil, err
	}
	if worker {
		cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
			return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: time.Second}
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42501" { // no CONNECT privilege
		return nil, &cdc.PermanentError{Err: fmt.Errorf("postgres: %w", err),
			Fix: "grant the role access to the database: GRANT CONNECT ON DATABASE <db> TO <user>"}
	}
	if err != nil {
		return nil, explainConnect(dsn, err)
	}
	if err := execSimple(ctx, conn, sessionSQL()+"; "+dumpSession); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("postgres: session setup: %w", err)
	}
	return conn, nil
}

// execSimple runs sql (one or more statements without arguments) with the
// simple protocol.
func execSimple(ctx context.Context, conn *pgx.Conn, sql string) error {
	_, err := conn.PgConn().Exec(ctx, sql).ReadAll()
	return err
}

// Info implements cdc.Dumper.
func (d *Dumper) Info() cdc.DumpInfo { return d.info }

// dumpConn is a worker connection; conn is nil once it broke.
type dumpConn struct {
	conn *pgx.Conn
}

// ready makes w's connection usable: in a transaction that imported the
// snapshot. It restarts a transaction that failed and replaces a connection
// that broke, but keeps a sound one when only ctx ended.
func (d *Dumper) ready(ctx context.Context, w *dumpConn) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.conn != nil && !w.conn.IsClosed() {
		err := d.restart(ctx, w.conn)
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
	w.close()
	conn, err := dumpConnect(ctx, d.opts.DSN, d.opts.ReadTimeout, true)
	if err != nil {
		return err
	}
	if err := d.importSnapshot(ctx, conn); err != nil {
		conn.Close(context.Background())
		return err
	}
	w.conn = conn
	return nil
}

// restart puts an open connection in a transaction in the snapshot, unless
// it is in one.
func (d *Dumper) restart(ctx context.Context, conn *pgx.Conn) error {
	switch conn.PgConn().TxStatus() {
	case 'T':
		return nil
	case 'E': // a failed or cancelled statement aborted the transaction
		if err := execSimple(ctx, conn, "ROLLBACK"); err != nil {
			return err
		}
	}
	return d.importSnapshot(ctx, conn)
}

// importSnapshot starts a transaction in the exported snapshot.
func (d *Dumper) importSnapshot(ctx context.Context, conn *pgx.Conn) error {
	err := execSimple(ctx, conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT "+
		quoteLiteral(d.info.Snapshot))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "22023" { // invalid_parameter_value: no such snapshot
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: import snapshot %s: %w", d.info.Snapshot, err),
			Fix: "the connection that exported the snapshot was lost; run the full load again"}
	}
	if err != nil {
		return fmt.Errorf("postgres: import snapshot %s: %w", d.info.Snapshot, err)
	}
	return nil
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string {
	out := make([]byte, 0, len(s)+2)
	out = append(out, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// close ends the connection's transaction and closes it.
func (w *dumpConn) close() {
	if w.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !w.conn.IsClosed() {
		execSimple(ctx, w.conn, "ROLLBACK")
	}
	w.conn.Close(ctx)
	w.conn = nil
}

// acquire waits for a free worker.
func (d *Dumper) acquire(ctx context.Context) (*dumpConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case w := <-d.free:
		return w, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-d.done:
		return nil, errDumperClosed
	}
}

// release hands a worker back, or closes it after Close.
func (d *Dumper) release(w *dumpConn) {
	d.poolMu.Lock()
	if !d.closed.Load() {
		d.free <- w // never blocks: there are as many slots as workers
		d.poolMu.Unlock()
		return
	}
	d.poolMu.Unlock()
	w.close()
}

// Close implements cdc.Dumper. Workers busy in a Read are closed when the
// Read returns.
func (d *Dumper) Close() error {
	d.poolMu.Lock()
	if d.closed.Swap(true) {
		d.poolMu.Unlock()
		return nil
	}
	close(d.done)
	var idle []*dumpConn
	for len(d.free) > 0 {
		idle = append(idle, <-d.free)
	}
	d.poolMu.Unlock()
	var wg sync.WaitGroup
	for _, w := range idle {
		wg.Go(w.close)
	}
	d.coordMu.Lock()
	if d.coord != nil {
		(&dumpConn{conn: d.coord}).close()
		d.coord = nil
	}
	d.coordMu.Unlock()
	wg.Wait()
	return nil
}

// captureAll is the filter of a nil DumpOptions.Filter.
type captureAll struct{}

func (captureAll) Match(schema, _ string) bool {
	return schema != "pg_catalog" && schema != "information_schema"
}
func (captureAll) ExcludedColumn(_, _, _ string) bool { return false }
func (captureAll) KeyColumns(_, _ string) []string    { return nil }
