package mysql

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// incState is the incremental snapshot of a streaming source: the work left,
// the chunk being read and the chunk waiting for the stream to reach its
// high watermark.
type incState struct {
	progress *incremental.Progress
	conn     *client.Conn // reads the chunks; opened on first use
	chunk    *chunk       // nil between chunks
	// reading is the read of the next chunk, in flight on conn in a
	// goroutine of its own while the stream goes on (nil: none).
	reading *chunkRead
	// recent holds the stream's changes to the table being read since the
	// read began; those after its low watermark go into its window.
	recent []observed
}

// observed is one change the stream yielded, with where it ended.
type observed struct {
	ev *cdc.Event
	at binlogPoint
}

// chunkRead is a chunk's read in flight.
type chunkRead struct {
	done chan struct{} // closed when the fields below are set
	ts   *tableState
	c    *chunk
	rows [][]any
	err  error
}

// chunk is one chunk read, waiting in its window.
type chunk struct {
	window    *incremental.Window
	low, high binlogPoint // the read saw everything up to low and nothing after high
	last      []any       // the key of its last row, as the next query binds it
	full      bool        // it returned chunkRows rows: the table may have more
}

// binlogPoint is a place in the binlog, ordered by file then offset.
type binlogPoint struct {
	file   string
	offset uint32
}

// before reports whether p comes before q. Binlog files are numbered
// (name.000042); a file of another name sorts by name.
func (p binlogPoint) before(q binlogPoint) bool {
	if p.file != q.file {
		pb, pn := splitBinlogName(p.file)
		qb, qn := splitBinlogName(q.file)
		if pb == qb {
			return pn < qn
		}
		return p.file < q.file
	}
	return p.offset < q.offset
}

func splitBinlogName(f string) (base string, n uint64) {
	i := strings.LastIndexByte(f, '.')
	if i < 0 {
		return f, 0
	}
	n, _ = strconv.ParseUint(f[i+1:], 10, 64)
	return f[:i], n
}

// planIncremental compares the captured tables with those the checkpoint
// covers: a table added to source.tables is queued for an incremental
// snapshot, a removed one leaves the queue.
func (s *Source) planIncremental(p *Position) error {
	ids, err := listTables(s.meta, s.opts.Filter)
	if err != nil {
		return err
	}
	s.captured = ids
	covered := p.captured
	if covered == nil { // a checkpoint older than the list: its schemas stand in
		for id := range p.schemas.tables {
			covered = append(covered, id)
		}
	}
	progress, added := p.incremental.Plan(ids, covered, s.opts.Snapshot != cdc.SnapshotNever)
	incremental.LogAdded(s.log, added, s.opts.Snapshot != cdc.SnapshotNever)
	if progress.Pending() {
		s.inc = &incState{progress: progress}
		c := progress.Current()
		s.log.Info("incremental snapshot", "table", c.Table.String(), "rows_done", c.Rows, "tables_left", len(progress.Tables))
	}
	return nil
}

// stepIncremental runs the incremental snapshot between binlog events: it
// reads the next chunk when none waits, and emits the waiting one once the
// stream passed its high watermark, between transactions. It reports
// whether it queued messages.
func (s *Source) stepIncremental(ctx context.Context) (bool, error) {
	if s.tx.open {
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
	if s.at.before(s.inc.chunk.high) {
		return false, nil // the stream reads on up to the high watermark
	}
	if s.inc.chunk.window.Stale() { // the table was altered inside the window
		s.inc.chunk = nil
		return false, nil
	}
	s.emitChunk()
	if s.inc.progress.Pending() {
		return true, s.startRead(ctx) // the next chunk is read while the pipeline sends this one
	}
	return true, nil
}

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

// takeRequests queues the tables requested on demand (fluxo snapshot)
// and a commit that checkpoints the request, and publishes the progress.
// It reports whether it queued anything.
func (s *Source) takeRequests() bool {
	if !s.applyRequests() {
		return false
	}
	p := s.boundary()
	s.last = p
	s.pending.Push(cdc.Message{Commit: p, SaveNow: true})
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

// emitChunk queues the chunk's rows left in its window as reads, then a
// commit whose position carries the advanced cursor.
func (s *Source) emitChunk() {
	c, cur := s.inc.chunk, s.inc.progress.Current()
	rows := c.window.Rows()
	t := c.window.Table()
	now := time.Now().UnixMilli()
	for _, row := range rows {
		s.pending.Push(cdc.Message{Event: &cdc.Event{Op: cdc.OpRead, Table: t, After: row, Source: cdc.SourceInfo{
			TsMs: now, Snapshot: cdc.SnapshotIncremental, DB: t.ID.Schema, Table: t.ID.Name,
			File: c.high.file, Pos: int64(c.high.offset)}}})
	}
	last, err := incremental.EncodeValues(c.last)
	done := !c.full || err != nil
	if err != nil {
		s.log.Warn("incremental snapshot: the key cannot be saved; the table was read to here and ends", "table", t.ID.String(), cdc.LogError, err.Error())
	}
	s.inc.progress = s.inc.progress.Advance(last, len(rows), done)
	s.inc.chunk = nil
	if done {
		s.log.Info("incremental snapshot of a table complete", "table", cur.Table.String(), "rows", cur.Rows+int64(len(rows)),
			"chunks", cur.Chunks+1, "tables_left", len(s.inc.progress.Tables))
	}
	p := s.boundary()
	s.last = p
	s.pending.Push(cdc.Message{Commit: p, SaveSoon: true})
}

// boundary is the position between transactions where the stream is now.
func (s *Source) boundary() *Position {
	p := &Position{Flavor: s.server.flavor, ServerID: s.server.identity, File: s.at.file,
		Offset: s.at.offset, SnapshotDone: true, schemas: s.schemas}
	s.stamp(p)
	if s.gset != nil {
		p.GTIDSet = s.gset.String()
	}
	return p
}

// stamp records the captured tables and the incremental snapshot's
// progress in a position the stream yields.
func (s *Source) stamp(p *Position) {
	p.captured = s.captured
	if s.inc != nil {
		p.incremental = s.inc.progress
	}
}

func (s *Source) closeIncremental() {
	s.dropChunkConn()
	s.inc = nil
}

// dropChunkConn closes the connection that reads chunks, ending a read in
// flight (which is then forgotten); the next read dials a new one.
func (s *Source) dropChunkConn() {
	if s.inc == nil {
		return
	}
	if s.inc.conn != nil {
		s.inc.conn.Close()
		s.inc.conn = nil
	}
	if s.inc.reading != nil {
		<-s.inc.reading.done
		s.inc.reading = nil
	}
}

// retryChunk reads the current chunk again over a new connection after
// the last one was lost (a server restart, a silent network path), with
// backoff, as the binlog connection is recovered.
func (s *Source) retryChunk(ctx context.Context, cause error) error {
	return cdc.Recover(ctx, s.opts.Health, s.log, "incremental snapshot connection lost", cause, connectionLost,
		func() error {
			s.dropChunkConn()
			return s.startRead(ctx)
		}, "table", s.inc.progress.Current().Table.String())
}

// startRead starts reading the next chunk of the current table, in key
// order after the cursor, in a goroutine: MariaDB tells the binlog position
// of the read's consistent snapshot, so the window is a point; MySQL's is
// the binlog between the positions read before and after. The stream's
// changes to the table are recorded meanwhile (recent). A table that is
// gone ends its snapshot instead (no read in flight then).
func (s *Source) startRead(ctx context.Context) error {
	cur := s.inc.progress.Current()
	if s.inc.conn == nil {
		conn, err := dial(ctx, s.opts.Conn)
		if err != nil {
			return err
		}
		if _, err := conn.Execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			conn.Close()
			return err
		}
		s.inc.conn = conn
	}
	conn := s.inc.conn
	ts, err := s.chunkTable(conn, cur.Table)
	if errors.Is(err, cdc.ErrTableGone) {
		s.tableGone(cur)
		return nil
	}
	if err != nil {
		s.dropChunkConn()
		return fmt.Errorf("incremental snapshot of %s: %w", cur.Table, err)
	}
	if len(ts.table.Key) == 0 && cur.Chunks == 0 {
		s.log.Warn("incremental snapshot: the table has no primary key, so it is read in one chunk",
			"table", cur.Table.String(), "fix", "set source.key_columns for it to read it in chunks")
	}
	if cur.Chunks == 0 && cur.Estimate == 0 {
		s.inc.progress = s.inc.progress.Estimated(estimateRows(conn, cur.Table))
	}
	after, err := incremental.DecodeValues(cur.Last)
	if err != nil {
		return err
	}
	r := &chunkRead{done: make(chan struct{}), ts: ts}
	s.inc.reading, s.inc.recent = r, s.inc.recent[:0]
	si, n := s.server, incremental.ChunkRows(s.opts.ChunkRows)
	go func() {
		defer close(r.done)
		r.c, r.rows, r.err = readChunkRows(conn, si, ts, after, n)
	}()
	return nil
}

// finishRead opens the window of the chunk read and hands it the changes
// the stream recorded after the read's low watermark.
func (s *Source) finishRead() error {
	r, cur := s.inc.reading, s.inc.progress.Current()
	s.inc.reading = nil
	switch errorCode(r.err) {
	case gomysql.ER_NO_SUCH_TABLE:
		s.tableGone(cur)
		return nil
	case gomysql.ER_BAD_FIELD_ERROR, gomysql.ER_TABLE_DEF_CHANGED: // altered between its description and the read
		s.log.Info("incremental snapshot: the table changed under the chunk's read; reading it again", "table", cur.Table.String())
		return nil
	}
	if r.err != nil {
		s.dropChunkConn() // dialed again for the next attempt
		return fmt.Errorf("incremental snapshot of %s: %w", cur.Table, r.err)
	}
	r.c.window = incremental.NewWindow(r.ts.table, r.rows)
	for _, o := range s.inc.recent {
		if r.c.low.before(o.at) {
			r.c.window.Observe(o.ev)
		}
	}
	s.inc.recent = s.inc.recent[:0]
	s.inc.chunk = r.c
	return nil
}

// readDone is closed once the chunk read in flight is done; nil when none
// is in flight.
func (i *incState) readDone() <-chan struct{} {
	if i == nil || i.reading == nil {
		return nil
	}
	return i.reading.done
}

// estimateRows is the server's estimate of a table's rows (0: unknown),
// for progress reports.
func estimateRows(conn *client.Conn, id cdc.TableID) int64 {
	r, err := conn.Execute("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", id.Schema, id.Name)
	if err != nil {
		return 0
	}
	defer r.Close()
	n, _ := r.GetInt(0, 0)
	return max(n, 0)
}

// tableGone ends the snapshot of a table dropped (or renamed) while it was
// being read: the stream carries what happened to it.
func (s *Source) tableGone(cur *incremental.Cursor) {
	s.log.Warn("incremental snapshot: the table no longer exists; its snapshot ends", "table", cur.Table.String(), "rows_done", cur.Rows)
	s.inc.progress = s.inc.progress.Advance(nil, 0, true)
}

// chunkTable describes a table for a chunk read from information_schema
// (the table as it is now, which the read sees), sharing the stream's
// *cdc.Table when the two agree so that the window recognizes the
// stream's events of the table.
func (s *Source) chunkTable(conn *client.Conn, id cdc.TableID) (*tableState, error) {
	e := s.byName[id]
	if e == nil {
		return s.snapshotTable(conn, id)
	}
	ts, _, _, err := describeTable(conn, id, s.opts.Filter, s.log)
	if err != nil {
		return nil, err
	}
	if reflect.DeepEqual(ts.table, e.state.table) {
		ts.table = e.state.table
	}
	return ts, nil
}

// readChunkRows reads up to n rows of ts with keys after after (nil: from
// the first), in key order, with the binlog window the read belongs in.
// A table without a key is read whole, in one chunk.
func readChunkRows(conn *client.Conn, si serverInfo, ts *tableState, after []any, n int) (*chunk, [][]any, error) {
	_, floatExpr := flavorOf(si.version)
	tr := newTableReader(ts, floatExpr)
	q, err := chunkQuery(tr, after, n)
	if err != nil {
		return nil, nil, err
	}
	c := &chunk{}
	if si.flavor == gomysql.MariaDBFlavor {
		err = mariadbChunkWindow(conn, c)
	} else {
		err = mysqlChunkWindow(conn, si, &c.low)
	}
	if err != nil {
		return nil, nil, err
	}
	defer conn.Execute("COMMIT")
	var rows [][]any
	err = tr.read(conn, q, func(fields []gomysql.FieldValue, row []any) error {
		rows = append(rows, row)
		if len(ts.table.Key) > 0 && len(rows) == n { // the last row: where the next chunk starts
			c.last = tr.key(fields)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	c.full = len(ts.table.Key) > 0 && len(rows) == n
	if si.flavor != gomysql.MariaDBFlavor {
		file, pos, _, err := binlogPosition(conn, si)
		if err != nil {
			return nil, nil, err
		}
		c.high = binlogPoint{file, pos}
	}
	return c, rows, nil
}

// mariadbChunkWindow starts the read's consistent snapshot and reads its
// binlog position, which needs no lock on MariaDB: the window is that point.
func mariadbChunkWindow(conn *client.Conn, c *chunk) error {
	if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return err
	}
	file, pos, err := mariadbSnapshotPoint(conn)
	if err != nil {
		return err
	}
	c.low = binlogPoint{file, pos}
	c.high = c.low
	return nil
}

// mysqlChunkWindow reads the binlog position before the read's snapshot
// starts: the low watermark.
func mysqlChunkWindow(conn *client.Conn, si serverInfo, low *binlogPoint) error {
	file, pos, _, err := binlogPosition(conn, si)
	if err != nil {
		return err
	}
	*low = binlogPoint{file, pos}
	_, err = conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
	return err
}

// chunkQuery is the query of a chunk: up to n rows in key order after the
// key values after (nil: from the first), as literals (keyLiteral). A
// composite key compares as k1 > ? OR (k1 = ? AND k2 > ?) ..., which every
// server's range optimizer turns into an index range. A table without a
// key is read whole.
func chunkQuery(tr *tableReader, after []any, n int) (string, error) {
	ts := tr.ts
	q := tr.selectFrom
	if len(ts.table.Key) == 0 {
		return q, nil
	}
	keys := make([]string, len(tr.keys))
	lits := make([]string, len(after))
	for k, i := range tr.keys {
		keys[k] = quoteIdent(ts.descs[i].Name)
		if k < len(after) {
			lit, err := keyLiteral(after[k], ts.descs[i])
			if err != nil {
				return "", err
			}
			lits[k] = lit
		}
	}
	if len(after) > 0 {
		q += " WHERE " + keyAfter(keys, lits)
	}
	return q + " ORDER BY " + strings.Join(keys, ", ") + " LIMIT " + strconv.Itoa(n), nil
}

// keyAfter is the condition "the key (keys) comes after the literals".
func keyAfter(keys, lits []string) string {
	if len(keys) == 1 {
		return keys[0] + " > " + lits[0]
	}
	return "(" + keys[0] + " > " + lits[0] + " OR (" + keys[0] + " = " + lits[0] + " AND " + keyAfter(keys[1:], lits[1:]) + "))"
}

// bindable copies a raw value out of the read's buffers into a type that
// both a prepared statement and the cursor take.
func bindable(v any) any {
	switch x := v.(type) {
	case serverText:
		return strings.Clone(string(x))
	case string:
		return strings.Clone(x)
	case []byte:
		return slices.Clone(x)
	}
	return v
}
