package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// txState is the transaction being read.
type txState struct {
	open   bool // inside BEGIN ... COMMIT
	gtid   string
	tsMs   int64
	id     string // transaction id for envelopes, set on first use
	orders cdc.TxOrder
	// signalled: a signal row of this transaction requested snapshots,
	// which its commit takes and checkpoints.
	signalled bool
}

// resume prepares to stream from a checkpoint, refusing a different server
// or purged history.
func (s *Source) resume() error {
	p, err := ParsePosition(s.opts.Checkpoint)
	if err != nil {
		return err
	}
	failover, err := verifyResume(s.meta, s.server, p)
	if err != nil {
		return err
	}
	if failover {
		s.log.Warn("server identity changed but it has executed every checkpointed transaction: continuing (failover)",
			"was", p.ServerID, "now", s.server.identity)
	}
	s.schemas, s.last = p.schemas, p
	p.Flavor, p.ServerID = s.server.flavor, s.server.identity
	s.log.Info("resuming from checkpoint", "position", p.String(), "tables", len(p.schemas.tables))
	return nil
}

// verifyResume checks that the server can resume from p: the same flavour,
// the same server or one that has executed all of p's transactions
// (failover is then true), and the binlogs still there.
func verifyResume(conn *client.Conn, si serverInfo, p *Position) (failover bool, err error) {
	if p.Flavor != si.flavor {
		return false, &cdc.PermanentError{Err: fmt.Errorf("the checkpoint was taken on %s, the server is %s", p.Flavor, si.flavor),
			Fix: "point source.dsn at the server the checkpoint belongs to, or delete the checkpoint file to re-snapshot"}
	}
	if p.ServerID != si.identity {
		if err := checkFailover(conn, si, p); err != nil {
			return false, err
		}
		failover = true
	}
	return failover, checkPurged(conn, si, p)
}

// checkFailover accepts another server only when it has executed all of
// the checkpoint's transactions (a replica of the same history).
func checkFailover(conn *client.Conn, si serverInfo, p *Position) error {
	wrong := &cdc.PermanentError{
		Err: fmt.Errorf("the checkpoint was taken on server %s, this is %s, and its history does not contain the checkpoint's GTIDs", p.ServerID, si.identity),
		Fix: "point source.dsn at the original server, or delete the checkpoint file to take a new snapshot (snapshot.mode: initial)"}
	if p.GTIDSet == "" || !si.gtid {
		return wrong
	}
	_, _, cur, err := binlogPosition(conn, si)
	if err != nil {
		return err
	}
	have, err1 := gomysql.ParseGTIDSet(si.flavor, cur)
	want, err2 := gomysql.ParseGTIDSet(si.flavor, p.GTIDSet)
	if err1 != nil || err2 != nil || !have.Contain(want) {
		return wrong
	}
	return nil
}

// checkPurged fails when the server no longer has the binlogs to resume.
func checkPurged(conn *client.Conn, si serverInfo, p *Position) error {
	purged := &cdc.PermanentError{Err: fmt.Errorf("the server has purged binary logs that fluxo has not read yet (checkpoint at %s)", p),
		Fix: "the changes in between are lost to CDC: delete the checkpoint file to take a new snapshot, and raise binlog_expire_logs_seconds / expire_logs_days so it does not happen again"}
	if si.flavor == gomysql.MySQLFlavor && p.GTIDSet != "" {
		gp, err := queryString(conn, "SELECT @@gtid_purged")
		if err != nil {
			return fmt.Errorf("read gtid_purged: %w", err)
		}
		have, err1 := gomysql.ParseGTIDSet(si.flavor, strings.ReplaceAll(gp, "\n", ""))
		want, err2 := gomysql.ParseGTIDSet(si.flavor, p.GTIDSet)
		if err1 == nil && err2 == nil && !want.Contain(have) {
			return purged
		}
		return nil
	}
	r, err := conn.Execute("SHOW BINARY LOGS")
	if err != nil {
		return explainPrivilege(err, "REPLICATION CLIENT (MySQL) or BINLOG MONITOR (MariaDB)")
	}
	defer r.Close()
	for i := range r.Values {
		if name := cell(r, i, 0); name == p.File {
			return nil
		}
	}
	if p.GTIDSet != "" && si.flavor == gomysql.MariaDBFlavor {
		return nil // MariaDB resumes by GTID; a purge shows as error 1236 when syncing
	}
	return purged
}

// startStream starts the binlog dump from the last yielded position.
func (s *Source) startStream() error {
	p := s.last
	heartbeat, timeout := s.heartbeat()
	cfg := replication.BinlogSyncerConfig{
		ServerID: s.opts.ServerID, Flavor: s.server.flavor,
		Host: s.opts.Conn.Host, Port: s.opts.Conn.Port, User: s.opts.Conn.User, Password: s.opts.Conn.Password,
		TLSConfig: s.opts.Conn.TLS, ParseTime: true, HeartbeatPeriod: heartbeat,
		ReadTimeout: timeout, DisableRetrySync: true, Logger: libraryLogger(s.log),
		EventCacheCount: 128, Charset: "utf8mb4", Dialer: s.opts.Conn.dialer().DialContext,
		RowsEventDecodeFunc: decodeRowsSigned(),
	}
	// EventCacheCount bounds the events go-mysql decodes ahead, each up to
	// 8 KB of rows as Go values: at 1,024 they held about 30 MB of the
	// catch-up's resident memory, for no throughput (cmd/fluxo-bench).
	s.syncer = replication.NewBinlogSyncer(cfg)
	var err error
	if p.GTIDSet != "" && s.server.gtid {
		s.gset, err = gomysql.ParseGTIDSet(s.server.flavor, p.GTIDSet)
		if err == nil {
			s.streamer, err = s.syncer.StartSyncGTID(s.gset.Clone())
		}
	} else {
		s.streamer, err = s.syncer.StartSync(gomysql.Position{Name: p.File, Pos: p.Offset})
	}
	if err != nil {
		s.syncer.Close()
		s.syncer, s.streamer = nil, nil
		return explainSyncError(err)
	}
	s.file = p.File
	s.at = binlogPoint{p.File, p.Offset}
	s.tx = txState{}
	return nil
}

// decodeRowsSigned decodes rows events without go-mysql's map of unsigned
// columns, which it builds for every row image (TableMapEvent.UnsignedMap:
// a tenth of the stream's allocations): against a copy of the table map
// without the signedness, so that unsigned integers come as signed ones,
// which the columns' converters read back as unsigned (toUnsigned). It
// runs on go-mysql's parsing goroutine, one event at a time; the copy is
// kept for the table map of the last event.
func decodeRowsSigned() func(*replication.RowsEvent, []byte) error {
	var orig, bare *replication.TableMapEvent
	return func(e *replication.RowsEvent, data []byte) error {
		pos, err := e.DecodeHeader(data)
		if err != nil {
			return err
		}
		tm := e.Table
		if len(tm.SignednessBitmap) == 0 {
			return e.DecodeData(pos, data)
		}
		if tm != orig {
			c := *tm
			c.SignednessBitmap = nil
			orig, bare = tm, &c
		}
		e.Table = bare
		err = e.DecodeData(pos, data)
		e.Table = tm
		return err
	}
}

// heartbeat returns the period at which the server is asked to send a
// heartbeat event when it has nothing else to send (an idle server sends
// three within the read timeout, so a connection that passes nothing for
// that long is dead or black-holed), and the read timeout go-mysql is to
// apply per packet: none when the connection's own progress bound
// (Conn.ReadTimeout, see liveconn) applies, which costs less than a
// deadline change per packet.
func (s *Source) heartbeat() (period, perPacket time.Duration) {
	period, timeout := s.opts.Heartbeat, s.opts.Conn.ReadTimeout
	if timeout <= 0 {
		return period, 3 * period
	}
	return min(period, timeout/3), 0
}

func explainSyncError(err error) error {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		switch me.Code {
		case gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG:
			return &cdc.PermanentError{Err: fmt.Errorf("binlog dump: %w", err),
				Fix: "the binlog position is no longer on the server (purged, or another server): delete the checkpoint file to take a new snapshot"}
		case gomysql.ER_ACCESS_DENIED_ERROR, gomysql.ER_DBACCESS_DENIED_ERROR: // the login was refused
			return &cdc.PermanentError{Err: fmt.Errorf("binlog dump: %w", err),
				Fix: "check the user and password in source.dsn (changed on the server?), then restart fluxo"}
		case gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR: // a privilege is missing
			return &cdc.PermanentError{Err: fmt.Errorf("binlog dump: %w", err), Fix: "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the fluxo user"}
		}
	}
	return fmt.Errorf("binlog dump: %w", err)
}

// reconnect restarts the dump from the last yielded commit after a
// transient failure; the partial transaction is read again, and its events
// yielded before are dropped (s.seen).
func (s *Source) reconnect(ctx context.Context, cause error) error {
	if perr := explainSyncError(cause); cdc.Permanent(perr) {
		return perr
	}
	s.syncer.Close()
	s.syncer, s.streamer = nil, nil
	s.dropMeta()
	return cdc.Recover(ctx, s.opts.Health, s.log, "binlog connection lost", cause, cdc.Transient, s.startStream,
		"from", s.last.String())
}

// handle turns one binlog event into messages.
func (s *Source) handle(ev *replication.BinlogEvent) error {
	if s.log.Enabled(context.Background(), slog.LevelDebug-4) {
		s.log.Log(context.Background(), slog.LevelDebug-4, "binlog event", "type", ev.Header.EventType.String(), "pos", ev.Header.LogPos)
	}
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		s.file = string(e.NextLogName)
	case *replication.FormatDescriptionEvent:
		s.checksum = 0
		if e.ChecksumAlgorithm == replication.BINLOG_CHECKSUM_ALG_CRC32 {
			s.checksum = replication.BinlogChecksumLength
		}
	case *replication.GTIDEvent:
		next, err := e.GTIDNext()
		if err != nil {
			return fmt.Errorf("decode gtid: %w", err)
		}
		s.beginTx(next.String(), ev.Header)
		if t := e.OriginalCommitTimestamp; t != 0 {
			s.tx.tsMs = int64(t / 1000)
		}
	case *replication.MariadbGTIDEvent:
		s.beginTx(e.GTID.String(), ev.Header)
		s.tx.open = !e.IsStandalone() // a MariaDB GTID event stands for BEGIN
	case *replication.QueryEvent:
		return s.handleQuery(ev, e)
	case *replication.TableMapEvent:
		return s.mapTable(ev, e)
	case *replication.RowsEvent:
		return s.handleRows(ev, e)
	case *replication.XIDEvent:
		s.commit(ev.Header)
	case *replication.TransactionPayloadEvent:
		for _, inner := range e.Events {
			if err := s.handle(inner); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Source) beginTx(gtid string, h *replication.EventHeader) {
	s.tx = txState{gtid: gtid, tsMs: int64(h.Timestamp) * 1000}
}

// handleQuery deals with BEGIN, COMMIT (non-transactional engines) and DDL,
// which is a transaction of its own.
func (s *Source) handleQuery(ev *replication.BinlogEvent, e *replication.QueryEvent) error {
	q := strings.TrimSpace(string(e.Query))
	switch {
	case strings.EqualFold(q, "BEGIN"):
		if s.tx.tsMs == 0 {
			s.tx.tsMs = int64(ev.Header.Timestamp) * 1000
		}
		s.tx.open = true
		return nil
	case strings.EqualFold(q, "COMMIT"):
		s.commit(ev.Header)
		return nil
	}
	if s.tx.open {
		return nil // a statement inside a transaction (SAVEPOINT and the like)
	}
	if err := s.handleDDL(ev, string(e.Schema), q); err != nil {
		return err
	}
	s.commit(ev.Header)
	return nil
}

// commit ends the current transaction: the GTID joins the executed set and
// a Commit message carries the resume position (the next event's offset).
func (s *Source) commit(h *replication.EventHeader) {
	save := s.tx.signalled && s.inc.TakeRequests()
	if s.tx.gtid != "" && s.gset != nil {
		if err := s.gset.Update(s.tx.gtid); err != nil {
			s.log.Warn("cannot add gtid to the executed set", "gtid", s.tx.gtid, cdc.LogError, err)
		}
	}
	p := &Position{Flavor: s.server.flavor, ServerID: s.server.identity, File: s.file,
		Offset: h.LogPos, SnapshotDone: true, schemas: s.schemas}
	s.stamp(p)
	if s.gset != nil {
		p.GTIDSet = s.gset.String()
	}
	s.last = p
	s.tx = txState{}
	s.pending.Push(cdc.Message{Commit: p, SaveNow: save})
}
