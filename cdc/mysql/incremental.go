package mysql

import (
	"context"
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

// incChunks is the MySQL side of the incremental snapshot
// (incremental.Chunks): chunks are read on a connection of their own and
// placed in the binlog between watermarks; the source's Driver decides
// when.
type incChunks struct {
	s    *Source
	conn *client.Conn // reads the chunks; opened on first use
	// recent holds the stream's changes to the table being read since the
	// read began; those after its low watermark go into its window.
	recent []observed
}

// observed is one change the stream yielded, with where it ended.
type observed struct {
	ev *cdc.Event
	at binlogPoint
}

// chunk is one chunk read, waiting in its window (incremental.Chunk).
type chunk struct {
	win       *incremental.Window
	low, high binlogPoint // the read saw everything up to low and nothing after high
	last      []any       // the key of its last row, as the next query binds it
	full      bool        // it returned chunkRows rows: the table may have more
}

// Window implements incremental.Chunk.
func (c *chunk) Window() *incremental.Window { return c.win }

// Last implements incremental.Chunk.
func (c *chunk) Last() []any { return c.last }

// Full implements incremental.Chunk.
func (c *chunk) Full() bool { return c.full }

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
	s.inc = s.newDriver(progress)
	if progress.Pending() {
		c := progress.Current()
		s.log.Info("incremental snapshot", "table", c.Table.String(), "rows_done", c.Rows, "tables_left", len(progress.Tables))
	}
	return nil
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
	if s.tx.open {
		return false, nil
	}
	queued, err := s.inc.Step(ctx)
	if !queued && err == nil && s.inc.Idle() {
		s.done = s.opts.Snapshot == cdc.SnapshotInitialOnly // the snapshot is complete
	}
	return queued, err
}

// Emit implements incremental.Chunks: the rows as reads at the chunk's
// high watermark.
func (c *incChunks) Emit(ch incremental.Chunk, rows [][]any) {
	high, t := ch.(*chunk).high, ch.Window().Table()
	now := time.Now().UnixMilli()
	for _, row := range rows {
		c.s.pending.Push(cdc.Message{Event: &cdc.Event{Op: cdc.OpRead, Table: t, After: row, Source: cdc.SourceInfo{
			TsMs: now, Snapshot: cdc.SnapshotIncremental, DB: t.ID.Schema, Table: t.ID.Name,
			File: high.file, Pos: int64(high.offset)}}})
	}
}

// Commit implements incremental.Chunks.
func (c *incChunks) Commit(saveNow, saveSoon bool) {
	p := c.s.boundary()
	c.s.last = p
	c.s.pending.Push(cdc.Message{Commit: p, SaveNow: saveNow, SaveSoon: saveSoon})
}

// Passed implements incremental.Chunks: the stream read the binlog up to
// the chunk's high watermark.
func (c *incChunks) Passed(_ context.Context, ch incremental.Chunk) (bool, error) {
	return !c.s.at.before(ch.(*chunk).high), nil
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
	p.incremental = s.inc.Progress()
}

// CloseConn implements incremental.Chunks.
func (c *incChunks) CloseConn(reading <-chan struct{}) {
	if c.conn != nil {
		c.conn.Close() // ends the read in flight
		c.conn = nil
	}
	if reading != nil {
		<-reading
	}
}

// retryChunk reads the current chunk again over a new connection after
// the last one was lost (a server restart, a silent network path), with
// backoff, as the binlog connection is recovered.
func (s *Source) retryChunk(ctx context.Context, cause error) error {
	var table string
	if cur := s.inc.Progress().Current(); cur != nil {
		table = cur.Table.String()
	}
	return cdc.Recover(ctx, s.opts.Health, s.log, "incremental snapshot connection lost", cause, connectionLost,
		func() error { return s.inc.RetryRead(ctx) }, "table", table)
}

// StartRead implements incremental.Chunks: the read of the next chunk, in
// key order after the cursor: MariaDB tells the binlog position of the
// read's consistent snapshot, so the window is a point; MySQL's is the
// binlog between the positions read before and after. The stream's
// changes to the table are recorded meanwhile (recent).
func (c *incChunks) StartRead(ctx context.Context, cur *incremental.Cursor, after []any, n int) (func(context.Context) (incremental.Chunk, error), error) {
	if c.conn == nil {
		conn, err := dial(ctx, c.s.opts.Conn)
		if err != nil {
			return nil, err
		}
		if _, err := conn.Execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			conn.Close()
			return nil, err
		}
		c.conn = conn
	}
	ts, err := c.s.chunkTable(c.conn, cur.Table)
	if err != nil {
		return nil, err
	}
	if len(ts.table.Key) == 0 && cur.Chunks == 0 {
		c.s.log.Warn("incremental snapshot: the table has no primary key, so it is read in one chunk",
			"table", cur.Table.String(), "fix", "set source.key_columns for it to read it in chunks")
	}
	c.recent = c.recent[:0]
	conn, si := c.conn, c.s.server
	return func(context.Context) (incremental.Chunk, error) {
		ch, rows, err := readChunkRows(conn, si, ts, after, n)
		switch errorCode(err) {
		case gomysql.ER_NO_SUCH_TABLE:
			return nil, fmt.Errorf("%w: %w", cdc.ErrTableGone, err)
		case gomysql.ER_BAD_FIELD_ERROR, gomysql.ER_TABLE_DEF_CHANGED: // altered between its description and the read
			return nil, fmt.Errorf("%w: %w", incremental.ErrReadAgain, err)
		}
		if err != nil {
			return nil, err
		}
		ch.win = incremental.NewWindow(ts.table, rows)
		return ch, nil
	}, nil
}

// OpenWindow implements incremental.Chunks: the changes the stream
// recorded after the read's low watermark.
func (c *incChunks) OpenWindow(ch incremental.Chunk) {
	k := ch.(*chunk)
	for _, o := range c.recent {
		if k.low.before(o.at) {
			k.win.Observe(o.ev)
		}
	}
	c.recent = c.recent[:0]
}

// Estimate implements incremental.Chunks.
func (c *incChunks) Estimate(_ context.Context, id cdc.TableID) int64 {
	return estimateRows(c.conn, id)
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
