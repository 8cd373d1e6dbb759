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
	// reading is the read of the next chunk, in flight on conn in a
	// goroutine of its own while the stream goes on (nil: none).
	reading *chunkRead
	asked   time.Time // when the server was last asked for its sent position
	// recent holds the changes to the table being read that the stream
	// yielded since the last chunk read began: a transaction streamed just
	// before a read can still be in progress in the read's snapshot (its
	// commit record is decoded before it becomes visible), and its changes
	// must then replace the chunk's rows too.
	recent []streamed
}

// chunkRead is a chunk's read in flight.
type chunkRead struct {
	done   chan struct{} // closed when the fields below are set
	cancel context.CancelFunc
	r      *tableReader
	c      *chunk
	rows   [][]any
	err    error
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
	incremental.LogAdded(s.log, added, s.opts.Snapshot != cdc.SnapshotNever)
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
		if err := s.awaitChunk(ctx); err != nil || s.inc.reading != nil {
			return false, err // the stream reads on while the chunk is read
		}
		if s.inc.chunk == nil { // the table is gone (on to the next) or changed (read again)
			return s.stepIncremental(ctx)
		}
	}
	if s.streamedTo() < s.inc.chunk.high {
		if time.Since(s.inc.asked) > askEvery { // an idle server sends its position only when asked
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
	if s.inc.progress.Pending() {
		return true, s.startRead(ctx) // the next chunk is read while the pipeline sends this one
	}
	return true, nil
}

// askEvery is how often a chunk waiting for the stream to reach its high
// watermark asks the server for its position (the first time at once).
const askEvery = 20 * time.Millisecond

// awaitChunk starts the next chunk's read when none is in flight, and
// opens the chunk's window once its read is done.
func (s *Source) awaitChunk(ctx context.Context) error {
	if s.inc.reading == nil {
		if err := s.startRead(ctx); err != nil || s.inc.reading == nil {
			return err
		}
	}
	select {
	case <-s.inc.reading.done:
		return s.finishRead()
	default:
		return nil
	}
}

// readDone is closed once the chunk read in flight is done; nil when none
// is in flight.
func (i *incState) readDone() <-chan struct{} {
	if i == nil || i.reading == nil {
		return nil
	}
	return i.reading.done
}

// takeRequests queues the tables requested on demand (fluxo snapshot)
// and a commit that checkpoints the request, and publishes the progress.
// It reports whether it queued anything.
func (s *Source) takeRequests() bool {
	if !s.applyRequests() {
		return false
	}
	s.last = s.position(s.last.LSN, true)
	s.pending.Push(cdc.Message{Commit: s.last, SaveNow: true})
	return true
}

// applyRequests adds the tables requested since the last call to the
// incremental snapshot's queue and publishes the progress. It reports
// whether any were requested; the caller checkpoints them.
func (s *Source) applyRequests() bool {
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
	s.pending.Push(cdc.Message{Commit: s.last, SaveSoon: true})
}

func (s *Source) closeIncremental() {
	s.dropChunkConn()
	s.inc = nil
}

// dropChunkConn closes the connection that reads chunks, ending a read in
// flight (which is then forgotten); the next read connects again.
func (s *Source) dropChunkConn() {
	if s.inc == nil {
		return
	}
	if r := s.inc.reading; r != nil {
		r.cancel()
		<-r.done
		s.inc.reading = nil
	}
	if s.inc.conn != nil {
		s.inc.conn.Close(context.Background())
		s.inc.conn = nil
	}
}

// startRead starts reading the next chunk of the current table in a
// goroutine: one short REPEATABLE READ transaction with its snapshot, the
// rows after the cursor in key order, and the WAL flushed by then (the high
// watermark). The stream's changes to the table are recorded meanwhile
// (recent). A table that is gone ends its snapshot instead (no read in
// flight then).
func (s *Source) startRead(ctx context.Context) error {
	cur := s.inc.progress.Current()
	if s.inc.conn == nil {
		conn, err := connect(ctx, s.opts.DSN, s.opts.ReadTimeout)
		if err != nil {
			return err
		}
		s.inc.conn = conn
	}
	conn := s.inc.conn
	tr, err := s.chunkReader(ctx, cur.Table)
	if errors.Is(err, cdc.ErrTableGone) {
		s.log.Warn("incremental snapshot: the table no longer exists; its snapshot ends", "table", cur.Table.String(), "rows_done", cur.Rows)
		s.inc.progress = s.inc.progress.Advance(nil, 0, true)
		return nil
	}
	if err != nil {
		return err
	}
	if len(tr.table.Key) == 0 && cur.Chunks == 0 {
		s.log.Warn("incremental snapshot: the table has no primary key, so it is read in one chunk",
			"table", cur.Table.String(), "fix", "set source.key_columns for it to read it in chunks")
	}
	if cur.Chunks == 0 && cur.Estimate == 0 {
		s.inc.progress = s.inc.progress.Estimated(estimateRows(ctx, conn, cur.Table))
	}
	after, err := incremental.DecodeValues(cur.Last)
	if err != nil {
		return err
	}
	// The read outlives this call: its context ends with dropChunkConn.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &chunkRead{done: make(chan struct{}), cancel: cancel, r: tr}
	s.inc.reading = r
	n := incremental.ChunkRows(s.opts.ChunkRows)
	go func() {
		defer close(r.done)
		r.c, r.rows, r.err = readChunkRows(rctx, conn, tr, after, n)
	}()
	return nil
}

// finishRead opens the window of the chunk read, hands it the changes
// the read did not see, and asks the server for its position at once.
func (s *Source) finishRead() error {
	r, cur := s.inc.reading, s.inc.progress.Current()
	s.inc.reading = nil
	r.cancel()
	var pe *pgconn.PgError
	if errors.As(r.err, &pe) && (pe.Code == "42703" || pe.Code == "42P01") { // undefined column or table: altered or dropped since described
		s.log.Info("incremental snapshot: the table changed under the chunk's read; reading it again", "table", cur.Table.String())
		return nil
	}
	if r.err != nil {
		s.dropChunkConn()
		return fmt.Errorf("incremental snapshot of %s: %w", cur.Table, r.err)
	}
	r.c.window = incremental.NewWindow(r.r.table, r.rows)
	s.catchUp(r.c)
	s.inc.chunk, s.inc.asked = r.c, time.Time{}
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
	var bx boxer
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
