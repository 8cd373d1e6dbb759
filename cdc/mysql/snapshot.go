package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/liveconn"
)

// snapshotter reads the captured tables inside one consistent-snapshot
// transaction in a goroutine and hands the rows over as messages.
type snapshotter struct {
	items  chan snapItem
	cancel context.CancelFunc
	conn   *client.Conn
	done   chan struct{}
}

type snapItem struct {
	msg cdc.Message
	err error
}

// startSnapshot opens the snapshot transaction, reads its binlog position
// and the table schemas, then starts reading rows.
//
// The stream after a snapshot starts at the position of the first attempt:
// a first attempt yields that position at once, marked not done, so that it
// is checkpointed; a retry after a crash (from, the checkpointed position)
// reads the tables again and then streams from there. Every change since the
// first attempt is thus replayed after the rows, deletes included, whatever
// the crashed attempt had sent.
func startSnapshot(ctx context.Context, s *Source, from *Position) (*snapshotter, error) {
	conn, err := dial(ctx, s.opts.Conn)
	if err != nil {
		return nil, err
	}
	ids, err := listTables(conn, s.opts.Filter)
	if err != nil {
		conn.Close()
		return nil, err
	}
	s.captured = ids
	file, pos, gtid, err := consistentPosition(conn, s.server)
	if err != nil {
		conn.Close()
		return nil, err
	}
	states := make([]*tableState, 0, len(ids))
	for _, id := range ids {
		ts, err := s.snapshotTable(conn, id)
		if err != nil {
			conn.Close()
			return nil, err
		}
		states = append(states, ts)
	}
	end := s.newPosition(file, pos, gtid)
	var first *Position
	if from != nil {
		end = s.newPosition(from.File, from.Offset, from.GTIDSet)
	} else {
		started := *end
		started.SnapshotDone = false
		first = &started
	}
	s.log.Info("snapshot started", "tables", len(states), "position", end.String())
	runCtx, cancel := context.WithCancel(context.Background())
	sn := &snapshotter{items: make(chan snapItem, 1024), cancel: cancel, conn: conn, done: make(chan struct{})}
	go sn.run(runCtx, s, states, first, end)
	return sn, nil
}

// snapshotTable derives a table's schema from information_schema and makes
// it the schema in force.
func (s *Source) snapshotTable(conn *client.Conn, id cdc.TableID) (*tableState, error) {
	ts, descs, pk, err := describeTable(conn, id, s.opts.Filter, s.log)
	if err != nil {
		return nil, err
	}
	if ts, err = s.adopt(ts, descs, pk); err != nil {
		return nil, err
	}
	s.byName[id] = &tableEntry{state: ts} // no fingerprint: the first table map re-derives and reuses ts.table
	return ts, nil
}

func listTables(conn *client.Conn, f Filter) ([]cdc.TableID, error) {
	r, err := conn.Execute(`SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer r.Close()
	var ids []cdc.TableID
	for i := range r.Values {
		schema := cell(r, i, 0)
		name := cell(r, i, 1)
		if f.Match(schema, name) {
			ids = append(ids, cdc.TableID{Schema: schema, Name: name})
		}
	}
	return ids, nil
}

// consistentPosition starts a consistent-snapshot transaction on conn and
// returns the binlog position it corresponds to. MariaDB reports it without
// locking; MySQL holds a global read lock for that instant.
func consistentPosition(conn *client.Conn, si serverInfo) (file string, pos uint32, gtid string, err error) {
	if _, err = conn.Execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return "", 0, "", err
	}
	if si.flavor == gomysql.MariaDBFlavor {
		return mariadbSnapshotPosition(conn)
	}
	if _, err = conn.Execute("FLUSH TABLES WITH READ LOCK"); err != nil {
		return "", 0, "", fmt.Errorf("snapshot: take the global read lock: %w", explainPrivilege(err, "RELOAD"))
	}
	defer conn.Execute("UNLOCK TABLES")
	if _, err = conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return "", 0, "", fmt.Errorf("snapshot: start transaction: %w", err)
	}
	return binlogPosition(conn, si)
}

func mariadbSnapshotPosition(conn *client.Conn) (file string, pos uint32, gtid string, err error) {
	if _, err = conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return "", 0, "", fmt.Errorf("snapshot: start transaction: %w", err)
	}
	return mariadbSnapshotStatus(conn)
}

// mariadbSnapshotStatus returns the binlog position of the consistent
// snapshot open on conn (MariaDB's binlog_snapshot_file and _position), which
// needs no privilege.
func mariadbSnapshotStatus(conn *client.Conn) (file string, pos uint32, gtid string, err error) {
	if file, pos, err = mariadbSnapshotPoint(conn); err != nil {
		return "", 0, "", err
	}
	gtid, err = queryString(conn, fmt.Sprintf("SELECT BINLOG_GTID_POS('%s', %d)", strings.ReplaceAll(file, "'", "''"), pos))
	return file, pos, gtid, err
}

// mariadbSnapshotPoint is the binlog file and offset of the consistent
// snapshot open on conn. (BINLOG_GTID_POS, which mariadbSnapshotStatus
// adds, reads the binlog file up to that point: too slow per chunk.)
func mariadbSnapshotPoint(conn *client.Conn) (file string, pos uint32, err error) {
	r, err := conn.Execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return "", 0, fmt.Errorf("snapshot: read binlog_snapshot_file: %w", err)
	}
	defer r.Close()
	for i := range r.Values {
		name := cell(r, i, 0)
		val := cell(r, i, 1)
		switch strings.ToLower(name) {
		case "binlog_snapshot_file":
			file = val
		case "binlog_snapshot_position":
			var p uint64
			fmt.Sscan(val, &p)
			pos = uint32(p)
		}
	}
	if file == "" {
		return "", 0, errors.New("snapshot: the server reports no binlog_snapshot_file: is log_bin on?")
	}
	return file, pos, nil
}

// run sends first (when set), the rows, and the commit at end.
func (sn *snapshotter) run(ctx context.Context, s *Source, states []*tableState, first, end *Position) {
	defer close(sn.done)
	defer close(sn.items)
	defer sn.conn.Close()
	start := time.Now().UnixMilli()
	var held *cdc.Event // one event of look-ahead, to mark the last one
	send := func(m cdc.Message) bool {
		select {
		case sn.items <- snapItem{msg: m}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if first != nil && !send(cdc.Message{Commit: first, SaveNow: true}) {
		return
	}
	for _, ts := range states {
		err := readTable(sn.conn, s.server, ts, func(row []any) error {
			ev := &cdc.Event{Op: cdc.OpRead, Table: ts.table, After: row, Source: cdc.SourceInfo{
				TsMs: start, Snapshot: cdc.SnapshotTrue, DB: ts.table.ID.Schema, Table: ts.table.ID.Name,
				File: end.File, Pos: int64(end.Offset)}}
			if held != nil && !send(cdc.Message{Event: held}) {
				return ctx.Err()
			}
			held = ev
			return nil
		})
		if err != nil {
			sn.items <- snapItem{err: fmt.Errorf("snapshot of %s: %w", ts.table.ID, err)}
			return
		}
	}
	sn.conn.Execute("COMMIT")
	if held != nil {
		held.Source.Snapshot = cdc.SnapshotLast
		if !send(cdc.Message{Event: held}) {
			return
		}
	}
	send(cdc.Message{Commit: end, SaveNow: true})
}

// readTable streams a table's captured columns through fn.
func readTable(conn *client.Conn, si serverInfo, ts *tableState, fn func(row []any) error) error {
	_, floatExpr := flavorOf(si.version)
	r := newTableReader(ts, floatExpr)
	return r.read(conn, r.selectFrom, func(_ []gomysql.FieldValue, row []any) error { return fn(row) })
}

func quoteTable(id cdc.TableID) string { return quoteIdent(id.Schema) + "." + quoteIdent(id.Name) }

// fieldValue copies a protocol value into the form the binlog decoder
// produces, so that one set of converters serves both.
func fieldValue(fv *gomysql.FieldValue, d colDesc) any {
	switch fv.Type {
	case gomysql.FieldValueTypeUnsigned:
		return fv.AsUint64()
	case gomysql.FieldValueTypeSigned:
		return fv.AsInt64()
	case gomysql.FieldValueTypeFloat:
		return fv.AsFloat64()
	case gomysql.FieldValueTypeString:
		if fixedBinaryLength(d.Base) > 0 || isText(d) || d.Base == "json" {
			return serverText(fv.AsString()) // converted to utf8mb4 by the server
		}
		return append([]byte(nil), fv.AsString()...)
	}
	return nil
}

// retrySnapshot takes the snapshot again after it lost its connection, as
// a restart would: it reads every table anew, then streams from the
// position of the first attempt (s.last, saved before any row), so the
// rows already sent are sent again and nothing is skipped. Other failures
// are returned.
func (s *Source) retrySnapshot(ctx context.Context, cause error) error {
	if !connectionLost(cause) || s.last == nil || s.last.SnapshotDone {
		return cause
	}
	s.snap.close()
	s.snap = nil
	s.dropMeta()
	return cdc.Recover(ctx, s.opts.Health, s.log, "snapshot connection lost, taking the snapshot again", cause,
		connectionLost, func() error {
			var err error
			s.snap, err = startSnapshot(ctx, s, s.last)
			return err
		}, "then_stream_from", s.last.String())
}

// connectionLost reports whether err means that the connection to the
// server broke (so that a new one may succeed), rather than that the
// server refused something or a value was bad.
func connectionLost(err error) bool {
	if cdc.Permanent(err) {
		return false
	}
	var me *gomysql.MyError
	if errors.As(err, &me) {
		switch me.Code {
		case gomysql.ER_SERVER_SHUTDOWN, gomysql.ER_CON_COUNT_ERROR, gomysql.ER_QUERY_INTERRUPTED, 1927: // 1927: connection killed (MariaDB)
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, liveconn.ErrSilent) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gomysql.ErrBadConn) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func (sn *snapshotter) close() {
	sn.cancel()
	sn.conn.Close()
	for range sn.items { // unblock the goroutine
	}
	<-sn.done
}

// fillSnapshot moves the next snapshot message into pending.
func (s *Source) fillSnapshot(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case it, ok := <-s.snap.items:
		if !ok {
			s.snap.close()
			s.snap = nil
			if s.opts.Snapshot == cdc.SnapshotInitialOnly {
				s.done = true
			}
			return nil
		}
		if it.err != nil {
			return s.retrySnapshot(ctx, it.err)
		}
		s.opts.Health.Heard(cdc.ComponentSource)
		if p, ok := it.msg.Commit.(*Position); ok {
			s.last = p
			if p.SnapshotDone {
				s.log.Info("snapshot complete", "position", p.String())
			}
		}
		s.pending.Push(it.msg)
		return nil
	}
}
