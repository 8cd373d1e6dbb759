package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// DumpOptions configure a Dumper.
type DumpOptions struct {
	Conn   Conn
	Filter Filter
	// Parallelism is the number of connections that read at once; 0 means 4.
	Parallelism int
	Logger      *slog.Logger
}

// Timings of the view; variables so that tests can shorten them.
var (
	// globalLockWait bounds how long FLUSH TABLES WITH READ LOCK waits for
	// running statements (lock_wait_timeout of the coordinator session).
	globalLockWait = 60 * time.Second
	// killGrace is how long an interrupted statement may take to end after
	// KILL QUERY before its connection is cut.
	killGrace = 5 * time.Second
	// cleanupTimeout bounds the statements that end a read (COMMIT, ROLLBACK
	// TO SAVEPOINT) once the read's context is done.
	cleanupTimeout = 30 * time.Second
)

// Session settings of the reading connections, on top of dial's (UTC
// time_zone for TIMESTAMP, CHAR values unpadded, utf8mb4 results): no idle
// disconnect while other connections read a large table, and a long
// net_write_timeout so that a slow consumer (fn) does not make the server
// drop the connection.
const workerSession = "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"
const workerTimeouts = "SET SESSION wait_timeout = 2147483, net_write_timeout = 3600"

const startSnapshotTx = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"

// readSavepoint wraps each statement that reads tables in a global view so
// that its metadata locks are released afterwards (see Dumper).
const readSavepoint = "fluxo_read"

var (
	errDumperClosed = errors.New("mysql dumper: closed")
	errViewLost     = errors.New("mysql dumper: every connection of the consistent view was lost " +
		"(cancelled reads or network failures); open a new view (rerun the full load, which resumes from the chunks already written)")
)

// Dumper is a read-only view of a MySQL/MariaDB server for a full load
// (SPEC §7). It needs only SELECT; with RELOAD it is one consistent view of
// every table.
//
// Consistency. OpenDumper opens Parallelism reading connections and tries
// FLUSH TABLES WITH READ LOCK on a coordinator connection. When the server
// grants it, every reading connection starts a consistent-snapshot
// transaction while writes are blocked, the binlog position is read, and the
// lock is released at once: all connections see the same instant
// (cdc.ConsistencyGlobal). Without the RELOAD privilege the view is
// cdc.ConsistencyPerTable: each Read runs in its own consistent-snapshot
// transaction, so every table must be read in one chunk (Tables reports
// cdc.SplitNone).
//
// Metadata locks. A transaction keeps a metadata lock on every table it
// read until it ends, which makes DDL on those tables (ALTER, DROP,
// TRUNCATE) wait for the end of the view, and the statements queued behind
// that DDL wait too. Each read of a global view therefore runs between
// SAVEPOINT and ROLLBACK TO SAVEPOINT, which releases the locks, but the
// server does so only when the session does not write the binlog: the
// Dumper sets sql_log_bin = 0 on its sessions when the user may (SUPER,
// BINLOG ADMIN or SYSTEM_VARIABLES_ADMIN), or the binlog is off. Otherwise
// the locks are held until Close, as with mysqldump --single-transaction.
// A table dropped or renamed after the view began reads as an error wrapping
// cdc.ErrTableGone; one altered, truncated or re-created fails with the
// server's "table definition has changed" error.
//
// Cancellation. When a Read's context ends, or fn or a conversion fails,
// the running statement is stopped with KILL QUERY from a separate
// connection, and the rows already on their way are skipped: the
// connection and its snapshot stay usable. If the statement has not ended
// within a few seconds (a dead network) the connection is cut: a
// per-table view re-dials the slot on its next use; a global view loses it,
// and when every slot is lost, Read fails.
type Dumper struct {
	opts   DumpOptions
	log    *slog.Logger
	flavor string
	// floatExpr reads a FLOAT column as the double it equals (the text
	// protocol would print 6 significant digits; doubles go exactly).
	floatExpr string
	global    bool
	info      cdc.DumpInfo

	workers []*worker
	free    chan *worker
	done    chan struct{} // closed by Close
	lost    chan struct{} // closed when a global view has lost every worker

	mu     sync.Mutex // guards the fields below and worker.busy
	live   int        // workers not lost
	closed bool

	metaMu sync.Mutex
	meta   *client.Conn // information_schema look-ups, outside any transaction

	tablesMu sync.Mutex
	tables   map[cdc.TableID]*dumpTable
}

var _ cdc.Dumper = (*Dumper)(nil)

// worker is one reading connection. Only the goroutine that acquired it
// uses conn, except interrupt (deadline) and kills from other connections.
type worker struct {
	conn       *client.Conn // nil when it must be dialled (per-table view)
	id         uint32       // server connection id, for KILL QUERY
	busy       bool
	broken     bool // the connection cannot be used any more
	releaseMDL bool // ROLLBACK TO SAVEPOINT releases metadata locks
	result     gomysql.Result
}

// OpenDumper connects and opens the view: Parallelism reading connections,
// synchronised by a global read lock when the server grants it.
func OpenDumper(ctx context.Context, o DumpOptions) (*Dumper, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Parallelism <= 0 {
		o.Parallelism = 4
	}
	d := &Dumper{opts: o, log: o.Logger, free: make(chan *worker, o.Parallelism),
		done: make(chan struct{}), lost: make(chan struct{}), tables: map[cdc.TableID]*dumpTable{}}
	if err := d.open(ctx); err != nil {
		d.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	d.log.Info("full-load view open", "consistency", d.info.Consistency, "position", d.info.Position,
		"connections", len(d.workers))
	return d, nil
}

func (d *Dumper) open(ctx context.Context) error {
	coord, err := dial(ctx, d.opts.Conn)
	if err != nil {
		return err
	}
	d.meta = coord
	stop := context.AfterFunc(ctx, func() { interrupt(coord) })
	defer stop()
	version, err := queryString(coord, "SELECT @@version")
	if err != nil {
		return fmt.Errorf("mysql %s: read server version: %w", d.opts.Conn.addr(), err)
	}
	d.flavor, d.floatExpr = flavorOf(version)
	if err := d.openWorkers(ctx); err != nil {
		return err
	}
	d.info.Consistency = cdc.ConsistencyPerTable
	locked, err := d.lockGlobal(coord)
	if err != nil || !locked {
		return err
	}
	d.global = true
	d.info.Consistency = cdc.ConsistencyGlobal
	return d.beginGlobal(ctx, coord)
}

// flavorOf returns the server flavour and the expression that reads a FLOAT
// column (%s) exactly as a double.
func flavorOf(version string) (flavor, floatExpr string) {
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return gomysql.MariaDBFlavor, "CAST(%s AS DOUBLE)"
	}
	// CAST AS DOUBLE needs MySQL 8.0.17; adding a double zero converts the
	// float exactly too (only the sign of a negative zero is lost).
	var major, minor, patch int
	fmt.Sscanf(version, "%d.%d.%d", &major, &minor, &patch)
	if major > 8 || major == 8 && (minor > 0 || patch >= 17) {
		return gomysql.MySQLFlavor, "CAST(%s AS DOUBLE)"
	}
	return gomysql.MySQLFlavor, "(%s + 0e0)"
}

// openWorkers dials the reading connections concurrently.
func (d *Dumper) openWorkers(ctx context.Context) error {
	d.workers = make([]*worker, d.opts.Parallelism)
	errs := make([]error, len(d.workers))
	var wg sync.WaitGroup
	for i := range d.workers {
		d.workers[i] = &worker{}
		wg.Go(func() { errs[i] = d.connect(ctx, d.workers[i]) })
	}
	wg.Wait()
	d.live = len(d.workers)
	for _, w := range d.workers {
		d.free <- w
	}
	return errors.Join(errs...)
}

// connect dials w's connection and sets up its session.
func (d *Dumper) connect(ctx context.Context, w *worker) error {
	c, err := dial(ctx, d.opts.Conn)
	if err != nil {
		return err
	}
	for _, q := range []string{workerSession, workerTimeouts} {
		if _, err := c.Execute(q); err != nil {
			c.Close()
			return fmt.Errorf("mysql %s: %s: %w", d.opts.Conn.addr(), q, err)
		}
	}
	// Servers that kill long statements would end a long read.
	if d.flavor == gomysql.MariaDBFlavor {
		c.Execute("SET SESSION max_statement_time = 0")
	} else {
		c.Execute("SET SESSION max_execution_time = 0")
	}
	_, err = c.Execute("SET SESSION sql_log_bin = 0")
	w.releaseMDL = err == nil
	if !w.releaseMDL {
		logBin, _ := queryString(c, "SELECT @@log_bin")
		w.releaseMDL = logBin == "0" || strings.EqualFold(logBin, "OFF")
	}
	d.mu.Lock() // Close reads conn of busy workers
	w.conn, w.id, w.broken = c, c.GetConnectionID(), false
	d.mu.Unlock()
	return nil
}

// lockGlobal takes the global read lock on coord; it reports false when the
// server refuses it for lack of privilege.
func (d *Dumper) lockGlobal(coord *client.Conn) (bool, error) {
	secs := max(int(globalLockWait/time.Second), 1)
	if _, err := coord.Execute(fmt.Sprintf("SET SESSION lock_wait_timeout = %d", secs)); err != nil {
		return false, fmt.Errorf("mysql %s: set lock_wait_timeout: %w", d.opts.Conn.addr(), err)
	}
	_, err := coord.Execute("FLUSH TABLES WITH READ LOCK")
	switch code := errorCode(err); {
	case err == nil:
		return true, nil
	case code == gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR || code == gomysql.ER_ACCESS_DENIED_ERROR ||
		code == gomysql.ER_DBACCESS_DENIED_ERROR:
		d.log.Info("the server refused FLUSH TABLES WITH READ LOCK: each table is read in a consistent snapshot of its own, "+
			"at different points in time (per-table consistency) and in one chunk; "+
			"GRANT RELOAD ON *.* TO the fluxo user for one consistent view of every table and parallel chunks",
			"user", d.opts.Conn.User, cdc.LogError, err.Error())
		return false, nil
	case code == gomysql.ER_LOCK_WAIT_TIMEOUT:
		return false, fmt.Errorf("mysql %s: FLUSH TABLES WITH READ LOCK waited %ds for running statements "+
			"(a long query or DDL holds tables open); retry when they are done: %w", d.opts.Conn.addr(), secs, err)
	}
	return false, fmt.Errorf("mysql %s: FLUSH TABLES WITH READ LOCK: %w", d.opts.Conn.addr(), err)
}

// beginGlobal starts the snapshot transactions while coord holds the global
// read lock, reads the position and releases the lock.
func (d *Dumper) beginGlobal(ctx context.Context, coord *client.Conn) error {
	start := time.Now()
	errs := make([]error, len(d.workers))
	var wg sync.WaitGroup
	for i, w := range d.workers {
		wg.Go(func() {
			if _, err := w.conn.Execute(startSnapshotTx); err != nil {
				errs[i] = fmt.Errorf("mysql %s: %s: %w", d.opts.Conn.addr(), startSnapshotTx, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if p := d.position(coord, d.workers[0].conn); p != nil {
		d.info.Position, d.info.ChangesFrom = p.String(), cdc.BinlogStart(p.File, int64(p.Offset))
	}
	if _, err := coord.Execute("UNLOCK TABLES"); err != nil {
		return fmt.Errorf("mysql %s: UNLOCK TABLES: %w", d.opts.Conn.addr(), err)
	}
	d.log.Debug("global read lock released", "held", time.Since(start).String())
	if !d.workers[0].releaseMDL {
		d.log.Info("the view keeps a metadata lock on each table it has read until it closes, so DDL on those tables waits for the end of the full load; "+
			"GRANT BINLOG ADMIN (MariaDB) or SYSTEM_VARIABLES_ADMIN (MySQL) ON *.* TO the fluxo user to release them after each read",
			"user", d.opts.Conn.User)
	}
	return nil
}

// position returns the binlog position of the view, read while the global
// read lock is held, or nil when the server has no binlog or does not tell
// this user.
func (d *Dumper) position(coord, snap *client.Conn) *Position {
	si := serverInfo{flavor: d.flavor}
	if d.flavor == gomysql.MySQLFlavor {
		mode, _ := queryString(coord, "SELECT @@gtid_mode")
		si.gtid = strings.EqualFold(mode, "ON")
	}
	file, pos, gtid, err := binlogPosition(coord, si)
	if err != nil && d.flavor == gomysql.MariaDBFlavor {
		// Needs no privilege: the position of snap's snapshot.
		file, pos, gtid, err = mariadbSnapshotStatus(snap)
	}
	if err != nil || file == "" {
		d.log.Debug("the view's binlog position is unknown", cdc.LogError, fmt.Sprint(err))
		return nil
	}
	return &Position{File: file, Offset: pos, GTIDSet: gtid, SnapshotDone: true}
}

// Info implements cdc.Dumper.
func (d *Dumper) Info() cdc.DumpInfo { return d.info }

// Close implements cdc.Dumper: it rolls back the transactions and closes
// the connections; reads still running fail. Closing twice is harmless.
func (d *Dumper) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.done)
	for _, w := range d.workers {
		if w.busy {
			interrupt(w.conn) // its Read closes it
			continue
		}
		w.close(true)
	}
	d.mu.Unlock()
	d.metaMu.Lock()
	if d.meta != nil {
		d.meta.Close()
		d.meta = nil
	}
	d.metaMu.Unlock()
	return nil
}

// close rolls back (when asked and the connection is sound) and closes w's
// connection.
func (w *worker) close(rollback bool) {
	if w.conn == nil {
		return
	}
	if rollback && !w.broken {
		w.conn.SetDeadline(time.Now().Add(5 * time.Second))
		w.conn.Execute("ROLLBACK")
	}
	w.conn.Close()
	w.conn = nil
}

// acquire takes a free worker, waiting until one is free, and dials it if
// its slot must be re-dialled.
func (d *Dumper) acquire(ctx context.Context) (*worker, error) {
	var w *worker
	select {
	case w = <-d.free:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-d.done:
		return nil, errDumperClosed
	case <-d.lost:
		return nil, errViewLost
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errDumperClosed
	}
	w.busy = true
	d.mu.Unlock()
	if w.conn == nil { // per-table view: re-dial a slot whose connection was cut
		if err := d.connect(ctx, w); err != nil {
			d.release(w)
			return nil, err
		}
	}
	return w, nil
}

// release returns w to the pool; a broken connection is closed, and its
// slot re-dialled later (per-table view) or lost (global view).
func (d *Dumper) release(w *worker) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w.busy = false
	if d.closed {
		w.close(true)
		return
	}
	if w.broken {
		w.close(false)
		if d.global {
			d.live--
			d.log.Warn("a connection of the consistent view was lost; reading goes on with fewer", "left", d.live)
			if d.live == 0 {
				close(d.lost)
			}
			return
		}
	}
	d.free <- w // never blocks: the channel holds every slot
}

// interrupt makes every pending and future read or write on c fail at once;
// it is safe while another goroutine uses c.
func interrupt(c *client.Conn) {
	if c != nil && c.Conn != nil && c.Conn.Conn != nil {
		c.Conn.Conn.SetDeadline(time.Unix(1, 0))
	}
}

// guard stops the statement running on a worker when asked to (the
// context ended, or the reader failed): KILL QUERY from another
// connection, then, if the statement has not ended within killGrace, the
// connection is cut.
type guard struct {
	d       *Dumper
	w       *worker
	fired   atomic.Bool
	mu      sync.Mutex // guards the fields below
	ended   bool
	cause   error
	cut     bool
	timer   *time.Timer
	stopCtx func() bool
}

// arm guards the statement about to run on w; the end of ctx fires it.
func (d *Dumper) arm(ctx context.Context, w *worker) *guard {
	g := &guard{d: d, w: w}
	g.stopCtx = context.AfterFunc(ctx, func() { g.fire(ctx.Err()) })
	return g
}

// fire stops the statement, which will end with cause; only the first
// cause counts.
func (g *guard) fire(cause error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended || g.cause != nil {
		return
	}
	g.cause = cause
	g.fired.Store(true)
	g.timer = time.AfterFunc(killGrace, g.cutConn)
	go g.kill()
}

func (g *guard) kill() {
	ctx, cancel := context.WithTimeout(context.Background(), killGrace)
	defer cancel()
	c, err := dial(ctx, g.d.opts.Conn)
	if err != nil {
		g.d.log.Debug("cannot connect to stop a read; cutting its connection", cdc.LogError, err.Error())
		g.cutConn()
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(killGrace))
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return // the statement is over: do not kill the next one
	}
	if _, err := c.Execute(fmt.Sprintf("KILL QUERY %d", g.w.id)); err != nil {
		g.d.log.Debug("KILL QUERY failed; cutting the connection", cdc.LogError, err.Error())
		g.cutLocked()
	}
}

func (g *guard) cutConn() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cutLocked()
}

func (g *guard) cutLocked() {
	if !g.ended && !g.cut {
		g.cut = true
		interrupt(g.w.conn)
	}
}

// stop ends the guard once the statement has returned. It returns the cause
// the guard fired with, or nil, and marks the worker broken when its
// connection was cut.
func (g *guard) stop() error {
	g.stopCtx()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ended = true
	if g.timer != nil {
		g.timer.Stop()
	}
	if g.cut {
		g.w.broken = true
	}
	return g.cause
}

// exec runs one statement on w; the end of ctx stops it.
func (d *Dumper) exec(ctx context.Context, w *worker, q string) (*gomysql.Result, error) {
	g := d.arm(ctx, w)
	r, err := w.conn.Execute(q)
	if err != nil && errorCode(err) == 0 {
		w.broken = true // not a server error: the connection is unusable
	}
	if cause := g.stop(); cause != nil {
		if err == nil {
			r.Close()
		}
		return nil, cause
	}
	return r, err
}

// errorCode returns the server error code of err, or 0.
func errorCode(err error) uint16 {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		return me.Code
	}
	return 0
}
