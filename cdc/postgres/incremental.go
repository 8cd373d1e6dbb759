package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
	"github.com/fluxo-cdc/fluxo/internal/boxarena"
)

// incChunks is the PostgreSQL side of the incremental snapshot
// (incremental.Chunks): each chunk is one short REPEATABLE READ
// transaction on a connection of its own, placed in the stream by its
// snapshot and the WAL flushed by its end; the source's Driver decides
// when.
type incChunks struct {
	s     *Source
	conn  *pgx.Conn // reads the chunks; opened on first use
	asked time.Time // when the server was last asked for its sent position
	// recent holds the changes to the table being read that the stream
	// yielded since the last chunk read began: a transaction streamed just
	// before a read can still be in progress in the read's snapshot (its
	// commit record is decoded before it becomes visible), and its changes
	// must then replace the chunk's rows too.
	recent []streamed
}

// streamed is one change the stream yielded, with its transaction.
type streamed struct {
	xid uint32
	ev  *cdc.Event
}

// maxRecent bounds incChunks.recent; past it the oldest are forgotten (the
// race it covers lasts microseconds, the list a chunk's wait).
const maxRecent = 100_000

// chunk is one chunk read, waiting in its window. The read saw exactly the
// transactions its snapshot shows; the stream's changes of transactions it
// does not show, up to high, replace its rows.
type chunk struct {
	win  *incremental.Window
	snap xidSnapshot
	high pglogrepl.LSN // the WAL flushed when the read ended
	last []any         // the key of its last row, as text
	full bool
}

// Window implements incremental.Chunk.
func (c *chunk) Window() *incremental.Window { return c.win }

// Last implements incremental.Chunk.
func (c *chunk) Last() []any { return c.last }

// Full implements incremental.Chunk.
func (c *chunk) Full() bool { return c.full }

// xidSnapshot is pg_current_snapshot() of a chunk's read, in 32-bit xids
// as pgoutput reports them.
type xidSnapshot struct {
	xmin, xmax uint32
	xip        []uint32
}

// visible reports whether the read saw transaction xid's changes.
func (x xidSnapshot) visible(xid uint32) bool {
	if precedes(xid, x.xmin) {
		return true
	}
	return precedes(xid, x.xmax) && !slices.Contains(x.xip, xid)
}

// precedes compares xids modulo 2^32, as PostgreSQL does.
func precedes(a, b uint32) bool { return int32(a-b) < 0 }

// parseSnapshot parses pg_current_snapshot()'s text, "xmin:xmax:xip,...".
func parseSnapshot(s string) (xidSnapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return xidSnapshot{}, fmt.Errorf("pg_current_snapshot() %q", s)
	}
	var x xidSnapshot
	var err error
	xid := func(t string) uint32 {
		v, e := strconv.ParseUint(t, 10, 64)
		if e != nil && err == nil {
			err = fmt.Errorf("pg_current_snapshot() %q: %w", s, e)
		}
		return uint32(v) // the epoch dropped: pgoutput's xids are 32-bit
	}
	x.xmin, x.xmax = xid(parts[0]), xid(parts[1])
	if parts[2] != "" {
		for _, t := range strings.Split(parts[2], ",") {
			x.xip = append(x.xip, xid(t))
		}
	}
	return x, err
}

// planIncremental queues the captured tables the checkpoint cp does not
// cover (added to source.tables) for an incremental snapshot, and drops
// from the queue the tables no longer captured.
func (s *Source) planIncremental(cp *Position, ids []cdc.TableID) {
	covered := cp.captured
	if covered == nil { // a checkpoint older than the list: the tables it has schemas of stand in
		for _, id := range ids {
			if cp.versions[id.String()] > 0 {
				covered = append(covered, id)
			}
		}
	}
	progress, added := cp.incremental.Plan(ids, covered, s.opts.Snapshot != cdc.SnapshotNever)
	incremental.LogAdded(s.log, added, s.opts.Snapshot != cdc.SnapshotNever)
	s.inc = s.newDriver(progress)
	if progress.Pending() {
		c := progress.Current()
		s.log.Info("incremental snapshot", "table", c.Table.String(), "rows_done", c.Rows, "tables_left", len(progress.Tables))
	}
}

// newDriver returns the incremental snapshot's driver with the work left
// in progress (nil: none).
func (s *Source) newDriver(progress *incremental.Progress) *incremental.Driver {
	return incremental.NewDriver(s.chunks, progress, s.opts.ChunkRows, s.opts.Snapshots, s.log)
}

// stepIncremental runs the incremental snapshot between transactions (see
// incremental.Driver.Step); once nothing is left to read, initial_only
// ends the stream.
func (s *Source) stepIncremental(ctx context.Context) (bool, error) {
	if s.stream.tx.open || !s.started {
		return false, nil
	}
	queued, err := s.inc.Step(ctx)
	if !queued && err == nil && s.inc.Idle() {
		s.done = s.opts.Snapshot == cdc.SnapshotInitialOnly // the snapshot is complete
	}
	return queued, err
}

// Passed implements incremental.Chunks: the stream read the WAL up to the
// chunk's high watermark. An idle server sends its position only when
// asked: it is asked at once, then every askEvery.
func (c *incChunks) Passed(ctx context.Context, ch incremental.Chunk) (bool, error) {
	if c.s.streamedTo() >= ch.(*chunk).high {
		return true, nil
	}
	if time.Since(c.asked) > askEvery {
		c.asked = time.Now()
		return false, c.s.sendStatus(ctx, true)
	}
	return false, nil
}

// askEvery is how often a chunk waiting for the stream to reach its high
// watermark asks the server for its position (the first time at once).
const askEvery = 20 * time.Millisecond

// streamedTo is how far the stream has read the WAL.
func (s *Source) streamedTo() pglogrepl.LSN {
	at := s.stream.walEnd
	if s.last != nil {
		at = max(at, s.last.LSN)
	}
	return at
}

// observe hands a change to the waiting chunk's window when the chunk's
// read did not see its transaction, and records the changes to the table
// being read for the next chunk's window.
func (s *Source) observe(ev *cdc.Event) {
	if s.inc.Idle() {
		return
	}
	if cur := s.inc.Progress().Current(); cur != nil && ev.Table.ID == cur.Table {
		c := s.chunks
		if len(c.recent) == maxRecent {
			c.recent = c.recent[1:]
		}
		c.recent = append(c.recent, streamed{s.stream.tx.xid, ev})
	}
	if c, _ := s.inc.Waiting().(*chunk); c != nil && !c.snap.visible(s.stream.tx.xid) {
		c.win.Observe(ev)
	}
}

// OpenWindow implements incremental.Chunks: it applies to a new chunk's
// window the changes the stream yielded since the previous read began
// from transactions the new read did not see, then forgets them, and has
// the server asked for its position at once.
func (c *incChunks) OpenWindow(ch incremental.Chunk) {
	k := ch.(*chunk)
	for _, r := range c.recent {
		if !k.snap.visible(r.xid) {
			k.win.Observe(r.ev)
		}
	}
	c.recent = c.recent[:0]
	c.asked = time.Time{}
}

// Emit implements incremental.Chunks: the rows as reads at the chunk's
// high watermark.
func (c *incChunks) Emit(ch incremental.Chunk, rows [][]any) {
	high, t := ch.(*chunk).high, ch.Window().Table()
	now := time.Now().UnixMilli()
	for _, row := range rows {
		c.s.pending.Push(cdc.Message{Event: &cdc.Event{Op: cdc.OpRead, Table: t, After: row, Source: cdc.SourceInfo{
			TsMs: now, Snapshot: cdc.SnapshotIncremental, DB: c.s.dbName, Schema: t.ID.Schema, Table: t.ID.Name,
			LSN: int64(high)}}})
	}
}

// Commit implements incremental.Chunks.
func (c *incChunks) Commit(saveNow, saveSoon bool) {
	c.s.last = c.s.position(c.s.last.LSN, true)
	c.s.pending.Push(cdc.Message{Commit: c.s.last, SaveNow: saveNow, SaveSoon: saveSoon})
}

// CloseConn implements incremental.Chunks.
func (c *incChunks) CloseConn(reading <-chan struct{}) {
	if reading != nil {
		<-reading // its context is cancelled
	}
	if c.conn != nil {
		c.conn.Close(context.Background())
		c.conn = nil
	}
}

// StartRead implements incremental.Chunks: the read of the next chunk,
// one short REPEATABLE READ transaction with its snapshot, the rows after
// the cursor in key order, and the WAL flushed by then (the high
// watermark).
func (c *incChunks) StartRead(ctx context.Context, cur *incremental.Cursor, after []any, n int) (func(context.Context) (incremental.Chunk, error), error) {
	if c.conn == nil {
		conn, err := connect(ctx, c.s.opts.DSN, c.s.opts.ReadTimeout)
		if err != nil {
			return nil, err
		}
		c.conn = conn
	}
	tr, err := c.s.chunkReader(ctx, cur.Table)
	if err != nil {
		return nil, err
	}
	if len(tr.table.Key) == 0 && cur.Chunks == 0 {
		c.s.log.Warn("incremental snapshot: the table has no primary key, so it is read in one chunk",
			"table", cur.Table.String(), "fix", "set source.key_columns for it to read it in chunks")
	}
	conn := c.conn
	return func(ctx context.Context) (incremental.Chunk, error) {
		ch, rows, err := readChunkRows(ctx, conn, tr, after, n)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "42703" || pe.Code == "42P01") { // undefined column or table: altered or dropped since described
			return nil, fmt.Errorf("%w: %w", incremental.ErrReadAgain, err)
		}
		if err != nil {
			return nil, err
		}
		ch.win = incremental.NewWindow(tr.table, rows)
		return ch, nil
	}, nil
}

// Estimate implements incremental.Chunks.
func (c *incChunks) Estimate(ctx context.Context, id cdc.TableID) int64 {
	return estimateRows(ctx, c.conn, id)
}

// estimateRows is the planner's estimate of a table's rows (0: unknown,
// as before the first ANALYZE), for progress reports.
func estimateRows(ctx context.Context, conn *pgx.Conn, id cdc.TableID) int64 {
	var n int64
	if err := conn.QueryRow(ctx, "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass($1)", quoteID(id)).Scan(&n); err != nil {
		return 0
	}
	return n
}

// chunkReader describes the table for a chunk read from the catalog,
// sharing the stream's *cdc.Table when they agree; its key columns are
// read as text, which the next chunk's query binds.
func (s *Source) chunkReader(ctx context.Context, id cdc.TableID) (*tableReader, error) {
	cols, err := snapshotColumns(ctx, s.meta, id)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return nil, fmt.Errorf("%s: %w", id, cdc.ErrTableGone)
	}
	if err != nil {
		return nil, err
	}
	rs, err := s.buildRelation(ctx, id, cols)
	if err != nil {
		return nil, err
	}
	r, err := s.tableReader(ctx, rs, cols)
	if err != nil {
		return nil, err
	}
	return r.withTextKey(), nil
}

// readChunkRows reads up to n rows of r's table after the key values after
// (text; nil: from the first), in key order, with the read's snapshot and
// high watermark. A table without a key is read whole.
func readChunkRows(ctx context.Context, conn *pgx.Conn, r *tableReader, after []any, n int) (*chunk, [][]any, error) {
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return nil, nil, err
	}
	defer func() {
		if conn.PgConn().TxStatus() != 'I' { // ended early: end it
			conn.Exec(context.Background(), "ROLLBACK")
		}
	}()
	var text string
	if err := conn.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&text); err != nil {
		return nil, nil, err
	}
	snap, err := parseSnapshot(text)
	if err != nil {
		return nil, nil, err
	}
	c := &chunk{snap: snap}
	q, args := chunkQuery(r, after, n)
	var raw [][][]byte // copied (the read's buffers are reused) and decoded after COMMIT: xmin is held for the read alone
	rr := conn.PgConn().ExecParams(ctx, q, args, nil, nil, r.formats)
	for rr.NextRow() {
		raw = append(raw, copyValues(rr.Values()))
	}
	if _, err := rr.Close(); err != nil {
		return nil, nil, err
	}
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn()::text").Scan(&text); err != nil {
		return nil, nil, err
	}
	if c.high, err = pglogrepl.ParseLSN(text); err != nil {
		return nil, nil, err
	}
	if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
		return nil, nil, err
	}
	rows, err := decodeChunk(r, raw)
	if err != nil {
		return nil, nil, err
	}
	if len(raw) > 0 {
		for _, k := range r.table.Key { // read as text (withTextKey)
			c.last = append(c.last, string(raw[len(raw)-1][k]))
		}
	}
	c.full = len(r.table.Key) > 0 && len(rows) == n
	return c, rows, nil
}

// decodeChunk decodes a chunk's rows, each into a slice of its own.
func decodeChunk(r *tableReader, raw [][][]byte) ([][]any, error) {
	rows := make([][]any, len(raw))
	var bx boxarena.Arena
	for i, values := range raw {
		rows[i] = make([]any, len(r.table.Columns))
		if err := r.decode(values, rows[i], &bx, false); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// copyValues copies a row's values into one allocation; nil stays nil.
func copyValues(values [][]byte) [][]byte {
	size := 0
	for _, v := range values {
		size += len(v)
	}
	buf := make([]byte, 0, size)
	out := make([][]byte, len(values))
	for i, v := range values {
		if v != nil {
			buf = append(buf, v...)
			out[i] = buf[len(buf)-len(v):]
		}
	}
	return out
}

// chunkQuery is the query of a chunk: up to n rows in key order after the
// key values after, compared as a row ((k1, k2) > ($1, $2)), which
// PostgreSQL answers from the key's index.
func chunkQuery(r *tableReader, after []any, n int) (string, [][]byte) {
	if len(r.table.Key) == 0 {
		return r.query("", ""), nil
	}
	keys := make([]string, len(r.table.Key))
	params := make([]string, len(r.table.Key))
	for i, c := range r.table.Key {
		keys[i] = pgx.Identifier{r.table.Columns[c].Name}.Sanitize()
		params[i] = "$" + strconv.Itoa(i+1)
	}
	var args [][]byte
	where := ""
	if len(after) > 0 {
		where = "(" + strings.Join(keys, ", ") + ") > (" + strings.Join(params, ", ") + ")"
		for _, v := range after {
			args = append(args, []byte(fmt.Sprint(v)))
		}
	}
	return r.query(where, "ORDER BY "+strings.Join(keys, ", ")+" LIMIT "+strconv.Itoa(n)), args
}
