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
)

// incState is the incremental snapshot of a streaming source: the work left
// and the chunk waiting for the stream to pass its high watermark.
type incState struct {
	progress *incremental.Progress
	conn     *pgx.Conn // reads the chunks; opened on first use
	chunk    *chunk
	asked    time.Time // when the server was last asked for its sent position
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

// maxRecent bounds incState.recent; past it the oldest are forgotten (the
// race it covers lasts microseconds, the list a chunk's wait).
const maxRecent = 100_000

// chunk is one chunk read, waiting in its window. The read saw exactly the
// transactions its snapshot shows; the stream's changes of transactions it
// does not show, up to high, replace its rows.
type chunk struct {
	window *incremental.Window
	snap   xidSnapshot
	high   pglogrepl.LSN // the WAL flushed when the read ended
	last   []any         // the key of its last row, as text
	full   bool
}

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
	s.logAdded(added)
	if progress.Pending() {
		s.inc = &incState{progress: progress}
		c := progress.Current()
		s.log.Info("incremental snapshot", "table", c.Table.String(), "rows_done", c.Rows, "tables_left", len(progress.Tables))
	}
}

// stepIncremental runs the incremental snapshot between replication
// messages: it reads the next chunk when none waits, and emits the waiting
// one once the stream passed its high watermark, between transactions. It
// reports whether it queued messages.
func (s *Source) stepIncremental(ctx context.Context) (bool, error) {
	if s.stream.tx.open || !s.started {
		return false, nil
	}
	if s.takeRequests() {
		return true, nil
	}
	if s.inc == nil || s.inc.chunk == nil && !s.inc.progress.Pending() {
		s.closeIncremental()
		s.done = s.opts.Snapshot == cdc.SnapshotInitialOnly // the snapshot is complete
		return false, nil
	}
	if s.inc.chunk == nil {
		if err := s.readChunk(ctx); err != nil {
			return false, err
		}
		if s.inc.chunk == nil { // the table is gone: on to the next
			return s.stepIncremental(ctx)
		}
	}
	if s.streamedTo() < s.inc.chunk.high {
		if time.Since(s.inc.asked) > 100*time.Millisecond { // an idle server sends its position only when asked
			s.inc.asked = time.Now()
			return false, s.sendStatus(ctx, true)
		}
		return false, nil
	}
	if s.inc.chunk.window.Stale() {
		s.inc.chunk = nil
		return false, nil
	}
	s.emitChunk()
	return true, nil
}

// takeRequests queues the tables requested on demand (fluxo snapshot)
// and a commit that checkpoints the request, and publishes the progress.
// It reports whether it queued anything.
func (s *Source) takeRequests() bool {
	progress := s.inc.progressOrNil()
	next, ids := s.opts.Snapshots.Apply(progress)
	if len(ids) == 0 {
		s.opts.Snapshots.Publish(progress)
		return false
	}
	if s.inc == nil {
		s.inc = &incState{}
	}
	s.inc.progress = next
	s.log.Info("incremental snapshot requested", "tables", fmt.Sprint(ids), "tables_queued", len(next.Tables))
	s.last = s.position(s.last.LSN, true)
	s.pending.Push(cdc.Message{Commit: s.last, SaveNow: true})
	return true
}

// progressOrNil is the incremental snapshot's progress, nil when none
// runs.
func (i *incState) progressOrNil() *incremental.Progress {
	if i == nil {
		return nil
	}
	return i.progress
}

// streamedTo is how far the stream has read the WAL.
func (s *Source) streamedTo() pglogrepl.LSN {
	at := s.stream.walEnd
	if s.last != nil {
		at = max(at, s.last.LSN)
	}
	return at
}

// observe hands a change to the waiting chunk's window when the chunk's
// read did not see its transaction.
func (s *Source) observe(ev *cdc.Event) {
	if s.inc == nil {
		return
	}
	if cur := s.inc.progress.Current(); cur != nil && ev.Table.ID == cur.Table {
		if len(s.inc.recent) == maxRecent {
			s.inc.recent = s.inc.recent[1:]
		}
		s.inc.recent = append(s.inc.recent, streamed{s.stream.tx.xid, ev})
	}
	if s.inc.chunk == nil || s.inc.chunk.snap.visible(s.stream.tx.xid) {
		return
	}
	s.inc.chunk.window.Observe(ev)
}

// catchUp applies to a new chunk's window the changes the stream yielded
// since the previous read began from transactions the new read did not
// see, then forgets them.
func (s *Source) catchUp(c *chunk) {
	for _, r := range s.inc.recent {
		if !c.snap.visible(r.xid) {
			c.window.Observe(r.ev)
		}
	}
	s.inc.recent = s.inc.recent[:0]
}

// emitChunk queues the chunk's rows left in its window as reads, then a
// commit whose position carries the advanced cursor.
func (s *Source) emitChunk() {
	c, cur := s.inc.chunk, s.inc.progress.Current()
	rows, t := c.window.Rows(), c.window.Table()
	now := time.Now().UnixMilli()
	for _, row := range rows {
		s.pending.Push(cdc.Message{Event: &cdc.Event{Op: cdc.OpRead, Table: t, After: row, Source: cdc.SourceInfo{
			TsMs: now, Snapshot: cdc.SnapshotIncremental, DB: s.dbName, Schema: t.ID.Schema, Table: t.ID.Name,
			LSN: int64(c.high)}}})
	}
	last, _ := incremental.EncodeValues(c.last)
	s.inc.progress = s.inc.progress.Advance(last, len(rows), !c.full)
	s.inc.chunk = nil
	if !c.full {
		s.log.Info("incremental snapshot of a table complete", "table", cur.Table.String(), "rows", cur.Rows+int64(len(rows)),
			"chunks", cur.Chunks+1, "tables_left", len(s.inc.progress.Tables))
	}
	at := s.last.LSN
	s.last = s.position(at, true)
	s.pending.Push(cdc.Message{Commit: s.last})
}

func (s *Source) closeIncremental() {
	if s.inc != nil && s.inc.conn != nil {
		s.inc.conn.Close(context.Background())
	}
	s.inc = nil
}

// readChunk reads the next chunk of the current table in one short
// REPEATABLE READ transaction: its snapshot, the rows after the cursor in
// key order, and the WAL flushed by then (the high watermark).
func (s *Source) readChunk(ctx context.Context) error {
	cur := s.inc.progress.Current()
	if s.inc.conn == nil {
		conn, err := connect(ctx, s.opts.DSN, s.opts.ReadTimeout)
		if err != nil {
			return err
		}
		s.inc.conn = conn
	}
	conn := s.inc.conn
	rs, err := s.chunkRelation(ctx, cur.Table)
	if errors.Is(err, cdc.ErrTableGone) {
		s.log.Warn("incremental snapshot: the table no longer exists; its snapshot ends", "table", cur.Table.String(), "rows_done", cur.Rows)
		s.inc.progress = s.inc.progress.Advance(nil, 0, true)
		return nil
	}
	if err != nil {
		return err
	}
	if cur.Chunks == 0 && cur.Estimate == 0 {
		s.inc.progress = s.inc.progress.Estimated(estimateRows(ctx, conn, cur.Table))
	}
	after, err := incremental.DecodeValues(cur.Last)
	if err != nil {
		return err
	}
	c, rows, err := readChunkRows(ctx, conn, rs, after, s.chunkRows())
	if err != nil {
		conn.Close(context.Background())
		s.inc.conn = nil
		return fmt.Errorf("incremental snapshot of %s: %w", cur.Table, err)
	}
	if len(rs.table.Key) == 0 && cur.Chunks == 0 {
		s.log.Warn("incremental snapshot: the table has no primary key, so it is read in one chunk",
			"table", cur.Table.String(), "fix", "set source.key_columns for it to read it in chunks")
	}
	c.window = incremental.NewWindow(rs.table, rows)
	s.catchUp(c)
	s.inc.chunk = c
	return nil
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

func (s *Source) chunkRows() int {
	if s.opts.ChunkRows > 0 {
		return s.opts.ChunkRows
	}
	return incremental.DefaultChunkRows
}

// chunkRelation describes the table for a chunk read from the catalog,
// sharing the stream's *cdc.Table when they agree.
func (s *Source) chunkRelation(ctx context.Context, id cdc.TableID) (*relState, error) {
	cols, err := snapshotColumns(ctx, s.meta, id)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return nil, fmt.Errorf("%s: %w", id, cdc.ErrTableGone)
	}
	if err != nil {
		return nil, err
	}
	return s.buildRelation(ctx, id, cols)
}

// readChunkRows reads up to n rows of rs after the key values after (text;
// nil: from the first), in key order, with the read's snapshot and high
// watermark. A table without a key is read whole.
func readChunkRows(ctx context.Context, conn *pgx.Conn, rs *relState, after []any, n int) (*chunk, [][]any, error) {
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return nil, nil, err
	}
	defer conn.Exec(context.Background(), "COMMIT")
	var text string
	if err := conn.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&text); err != nil {
		return nil, nil, err
	}
	snap, err := parseSnapshot(text)
	if err != nil {
		return nil, nil, err
	}
	c := &chunk{snap: snap}
	q, args := chunkQuery(rs, after, n)
	sel := selected(rs)
	keyAt := make([]int, len(rs.table.Key)) // position of each key column in a row of sel
	for k, j := range keyRelColumns(rs) {
		keyAt[k] = slices.Index(sel, j)
	}
	var rows [][]any
	rr := conn.PgConn().ExecParams(ctx, q, args, nil, nil, []int16{0})
	for rr.NextRow() {
		row, err := decodeRow(rs, sel, rr.Values())
		if err != nil {
			rr.Close()
			return nil, nil, err
		}
		rows = append(rows, row)
		c.last = c.last[:0]
		for _, i := range keyAt { // copied: the row's buffers are reused
			c.last = append(c.last, string(rr.Values()[i]))
		}
	}
	if _, err := rr.Close(); err != nil {
		return nil, nil, err
	}
	c.full = len(rs.table.Key) > 0 && len(rows) == n
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn()::text").Scan(&text); err != nil {
		return nil, nil, err
	}
	if c.high, err = pglogrepl.ParseLSN(text); err != nil {
		return nil, nil, err
	}
	return c, rows, nil
}

// selected lists the relation columns a read of rs selects: the captured
// ones, in relation order.
func selected(rs *relState) []int {
	var out []int
	for j, idx := range rs.idx {
		if idx >= 0 {
			out = append(out, j)
		}
	}
	return out
}

// keyRelColumns are the relation column indexes of the key, in key order.
func keyRelColumns(rs *relState) []int {
	out := make([]int, len(rs.table.Key))
	for k, c := range rs.table.Key {
		out[k] = slices.Index(rs.idx, c)
	}
	return out
}

// decodeRow decodes one text-format row of the relation columns sel
// (selected(rs)) into a captured row.
func decodeRow(rs *relState, sel []int, values [][]byte) ([]any, error) {
	row := make([]any, len(rs.table.Columns))
	for i, j := range sel {
		if values[i] == nil {
			continue
		}
		v, err := rs.dec[j](values[i])
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", rs.table.Columns[rs.idx[j]].Name, err)
		}
		row[rs.idx[j]] = v
	}
	return row, nil
}

// chunkQuery is the query of a chunk: up to n rows in key order after the
// key values after, compared as a row ((k1, k2) > ($1, $2)), which
// PostgreSQL answers from the key's index.
func chunkQuery(rs *relState, after []any, n int) (string, [][]byte) {
	var cols []string
	for _, j := range selected(rs) {
		cols = append(cols, pgx.Identifier{rs.table.Columns[rs.idx[j]].Name}.Sanitize())
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + quoteID(rs.table.ID)
	if len(rs.table.Key) == 0 {
		return q, nil
	}
	keys := make([]string, len(rs.table.Key))
	params := make([]string, len(rs.table.Key))
	for i, c := range rs.table.Key {
		keys[i] = pgx.Identifier{rs.table.Columns[c].Name}.Sanitize()
		params[i] = "$" + strconv.Itoa(i+1)
	}
	var args [][]byte
	if len(after) > 0 {
		q += " WHERE (" + strings.Join(keys, ", ") + ") > (" + strings.Join(params, ", ") + ")"
		for _, v := range after {
			args = append(args, []byte(fmt.Sprint(v)))
		}
	}
	return q + " ORDER BY " + strings.Join(keys, ", ") + " LIMIT " + strconv.Itoa(n), args
}

// logAdded says what becomes of the tables added to source.tables.
func (s *Source) logAdded(added []cdc.TableID) {
	switch {
	case len(added) == 0:
	case s.opts.Snapshot == cdc.SnapshotNever:
		s.log.Info("tables added to source.tables are streamed without a snapshot (snapshot.mode never)", "tables", fmt.Sprint(added))
	default:
		s.log.Info("tables added to source.tables: snapshotting them incrementally while streaming", "tables", fmt.Sprint(added))
	}
}
