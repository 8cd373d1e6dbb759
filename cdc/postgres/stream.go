package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/liveconn"
	"syscall"
)

// streamState is the replication session's bookkeeping.
type streamState struct {
	lastStatus time.Time     // last standby status update sent
	lastActive time.Time     // last transaction or heartbeat
	walEnd     pglogrepl.LSN // the server's sent position from the last keepalive
	quiet      time.Duration // time spent waiting on the server since it last sent anything
	probes     int           // keepalive requests sent during this quiet spell
	tx         txState
}

// txState is the transaction being read.
type txState struct {
	open     bool
	xid      uint32
	final    pglogrepl.LSN
	tsMs     int64
	id       string
	orders   cdc.TxOrder
	walStart pglogrepl.LSN // WAL position of the current message
	// signalled: a signal row of this transaction requested snapshots,
	// which its commit takes and checkpoints.
	signalled bool
}

// startStreaming issues START_REPLICATION once the snapshot is done. While
// another process holds the slot (an earlier fluxo process of the stream
// that is stopping after a takeover), it waits for the slot to be released.
func (s *Source) startStreaming(ctx context.Context) error {
	args := []string{"proto_version '1'", fmt.Sprintf("publication_names '%s'", s.opts.Publication), "messages 'false'"}
	deadline := time.Now().Add(slotBusyWait(s.opts.ReadTimeout))
	for {
		err := pglogrepl.StartReplication(ctx, s.repl, s.opts.Slot, s.startLSN, pglogrepl.StartReplicationOptions{PluginArgs: args})
		if err == nil {
			break
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "55006" || time.Now().After(deadline) {
			return fmt.Errorf("postgres: start replication on slot %q: %w", s.opts.Slot, err)
		}
		if err := s.waitSlotFree(ctx, pe.Message); err != nil {
			return err
		}
	}
	s.started = true
	s.stream.lastStatus, s.stream.lastActive = time.Now(), time.Now()
	s.stream.quiet, s.stream.probes = 0, 0 // a new connection starts with a clean slate
	s.log.Info("streaming", "slot", s.opts.Slot, "from", s.startLSN.String())
	return nil
}

// fillStream adds at least one message to pending, or fails.
func (s *Source) fillStream(ctx context.Context) error {
	for s.pending.Len() == 0 {
		queued, err := s.stepIncremental(ctx)
		if s.done {
			return nil
		}
		if !queued && err == nil {
			err = s.step(ctx)
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case !connectionLost(err):
			return err // bad data or a refusal: retrying would fail the same way
		default:
			if err := s.reconnect(ctx, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// step starts replication if needed, does the periodic chores and handles
// at most one message.
func (s *Source) step(ctx context.Context) error {
	if !s.started {
		if err := s.startStreaming(ctx); err != nil {
			return err
		}
	}
	if err := s.housekeeping(ctx); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, s.pollInterval())
	if done := s.inc.ReadDone(); done != nil && !s.stream.tx.open { // stop waiting when the chunk read in flight is done
		go func() {
			select {
			case <-done:
				cancel()
			case <-wctx.Done():
			}
		}()
	}
	began := time.Now()
	msg, err := s.repl.ReceiveMessage(wctx)
	waited := wctx.Err() != nil // timed out, or the chunk read is done (pgconn keeps the connection: it sets a deadline)
	cancel()
	if err != nil {
		if ctx.Err() == nil && (pgconn.Timeout(err) || waited && errors.Is(err, context.Canceled)) {
			return s.quiet(ctx, time.Since(began))
		}
		return fmt.Errorf("postgres: replication stream: %w", err)
	}
	s.stream.quiet, s.stream.probes = 0, 0
	s.opts.Health.Heard(cdc.ComponentSource)
	return s.receive(ctx, msg)
}

// pollInterval is how long one wait for a message lasts before the chores
// run again: a second, and well within the connection's progress bound.
func (s *Source) pollInterval() time.Duration {
	if rt := s.opts.ReadTimeout; rt > 0 {
		return min(time.Second, rt/4)
	}
	return time.Second
}

// quiet accounts for d spent waiting on a server that sent nothing. The
// walsender sends nothing while idle unless asked, so every third of
// ReadTimeout of quiet asks it for a keepalive; a server that answers none
// within ReadTimeout is silent (a dropped flow, or a dead peer), and the
// connection is taken as lost. Only time spent waiting counts: while the
// pipeline does not read (Kafka is slow), the server is not to blame.
func (s *Source) quiet(ctx context.Context, d time.Duration) error {
	rt := s.opts.ReadTimeout
	if rt <= 0 {
		return nil
	}
	s.stream.quiet += d
	if s.stream.quiet >= rt {
		return fmt.Errorf("postgres: replication stream: %w",
			&liveconn.SilentError{Op: "read", Addr: s.repl.Conn().RemoteAddr().String(), Timeout: rt})
	}
	if int(s.stream.quiet/(rt/3)) > s.stream.probes {
		s.stream.probes++
		return s.sendStatus(ctx, true)
	}
	return nil
}

// reconnect reopens the connections after a transient failure and resumes
// from the last yielded commit; the server sends the transaction in
// progress again, and its events yielded before are dropped (s.seen).
func (s *Source) reconnect(ctx context.Context, cause error) error {
	return cdc.Recover(ctx, s.opts.Health, s.log, "postgres connection lost", cause, cdc.Transient,
		func() error { return s.reopen(ctx) }, "from", s.last.String())
}

// reopen replaces both connections, checks that server and slot are still
// the ones of the stream, and arranges to restart replication at the last
// yielded commit.
func (s *Source) reopen(ctx context.Context) error {
	var stale uint32 // the walsender of the lost connection
	if s.repl != nil {
		stale = s.repl.PID()
	}
	s.closeConns()
	var err error
	if s.meta, err = connect(ctx, s.opts.DSN, s.opts.ReadTimeout); err != nil {
		return err
	}
	if s.repl, err = connectReplication(ctx, s.opts.DSN, s.opts.ReadTimeout); err != nil {
		return err
	}
	sys, err := pglogrepl.IdentifySystem(ctx, s.repl)
	if err != nil {
		return fmt.Errorf("postgres: identify system: %w", err)
	}
	if sys.SystemID != s.systemID {
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: reconnected to server %s, the stream was on %s", sys.SystemID, s.systemID),
			Fix: "point source.dsn at the original server, or delete the checkpoint file to take a new snapshot"}
	}
	sl, err := readSlot(ctx, s.meta, s.opts.Slot)
	if err != nil {
		return err
	}
	if !sl.exists {
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: replication slot %q is gone", s.opts.Slot),
			Fix: "delete the checkpoint file and restart to take a new snapshot"}
	}
	if stale != 0 && uint32(sl.activePID) == stale {
		if err := s.endStaleSender(ctx, stale); err != nil {
			return err
		}
	}
	s.types = newCatalog(s.meta, s.log)
	s.rels = map[uint32]*relState{} // the server describes relations again
	s.startLSN, s.started, s.stream.tx = s.last.LSN, false, txState{}
	return nil
}

// slotBusyWait bounds the wait for a slot that another process holds.
func slotBusyWait(readTimeout time.Duration) time.Duration { return max(2*readTimeout, time.Minute) }

// waitSlotFree reads what is left of a refused START_REPLICATION, then
// waits until no process holds the slot (or a while has passed: the next
// START_REPLICATION says who still holds it).
func (s *Source) waitSlotFree(ctx context.Context, why string) error {
	for {
		msg, err := s.repl.ReceiveMessage(ctx)
		if err != nil {
			return fmt.Errorf("postgres: start replication on slot %q: %w", s.opts.Slot, err)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	s.log.Warn("the replication slot is in use by another process (a fluxo process of this stream that is stopping?): waiting for it", "slot", s.opts.Slot, "server", why)
	// 5 s at most, then START_REPLICATION again.
	return s.waitSlot(ctx, time.Now().Add(5*time.Second), func(pid int32) bool { return pid == 0 })
}

// waitSlot polls the slot every 100 ms until released reports true of
// the process that holds it (0: none), or until deadline.
func (s *Source) waitSlot(ctx context.Context, deadline time.Time, released func(pid int32) bool) error {
	for time.Now().Before(deadline) {
		sl, err := readSlot(ctx, s.meta, s.opts.Slot)
		if err != nil || released(sl.activePID) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// endStaleSender ends the walsender of fluxo's own lost connection, which
// still holds the slot: after a silent network path it lives on until
// wal_sender_timeout, and the slot cannot be used meanwhile. A role may end
// its own backends; if this one may not, it waits a while for the server to
// (then starting replication fails, saying which process holds the slot).
func (s *Source) endStaleSender(ctx context.Context, pid uint32) error {
	s.log.Info("ending the walsender of the lost connection, which still holds the slot", "slot", s.opts.Slot, "pid", pid)
	if _, err := s.meta.Exec(ctx, "SELECT pg_terminate_backend($1)", int32(pid)); err != nil {
		s.log.Warn("cannot end the stale walsender; waiting for wal_sender_timeout to end it", "pid", pid, cdc.LogError, err.Error())
	}
	return s.waitSlot(ctx, time.Now().Add(slotBusyWait(s.opts.ReadTimeout)), func(holder int32) bool { return uint32(holder) != pid })
}

// housekeeping sends the periodic status update and, when idle, a
// heartbeat.
func (s *Source) housekeeping(ctx context.Context) error {
	now := time.Now()
	if now.Sub(s.stream.lastStatus) >= s.opts.StatusInterval {
		if err := s.sendStatus(ctx, false); err != nil {
			return err
		}
	}
	if !s.stream.tx.open && now.Sub(s.stream.lastActive) >= s.opts.Heartbeat {
		s.stream.lastActive = now
		if _, err := s.meta.Exec(ctx, "SELECT pg_logical_emit_message(false, 'fluxo_heartbeat', '')"); err != nil {
			s.log.Warn("heartbeat failed", cdc.LogError, err.Error())
		}
		s.idleAdvance()
	}
	return nil
}

// idleAdvance yields the server's sent position as a commit when no
// transaction is open, so that a database whose changes fluxo filters out
// lets the slot move on. Everything before that position was sent (and is
// in pending or yielded), so checkpointing it skips nothing.
func (s *Source) idleAdvance() {
	if s.stream.tx.open || s.stream.walEnd <= s.last.LSN {
		return
	}
	s.last = s.position(s.stream.walEnd, true)
	s.pending.Push(cdc.Message{Commit: s.last})
}

// sendStatus reports the acknowledged (checkpointed) position, explicitly
// as written, flushed and applied: nothing beyond it.
func (s *Source) sendStatus(ctx context.Context, reply bool) error {
	lsn := pglogrepl.LSN(s.acked.Load())
	err := pglogrepl.SendStandbyStatusUpdate(ctx, s.repl, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: lsn, WALFlushPosition: lsn, WALApplyPosition: lsn, ClientTime: time.Now(), ReplyRequested: reply})
	if err != nil {
		return fmt.Errorf("postgres: send standby status: %w", err)
	}
	s.stream.lastStatus = time.Now()
	return nil
}

// receive handles one message of the replication stream.
func (s *Source) receive(ctx context.Context, msg pgproto3.BackendMessage) error {
	switch m := msg.(type) {
	case *pgproto3.CopyData:
		if len(m.Data) == 0 {
			return nil
		}
		switch m.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
			if err != nil {
				return err
			}
			s.stream.walEnd = max(s.stream.walEnd, ka.ServerWALEnd)
			if ka.ReplyRequested {
				return s.sendStatus(ctx, false)
			}
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(m.Data[1:])
			if err != nil {
				return err
			}
			s.stream.tx.walStart = xld.WALStart
			return s.decode(ctx, xld.WALData)
		}
	case *pgproto3.ErrorResponse:
		return explainStream(pgconn.ErrorResponseToPgError(m))
	}
	return nil
}

func explainStream(err *pgconn.PgError) error {
	if err.Code == "42704" || err.Code == "55000" {
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: replication: %w", err),
			Fix: "the slot or publication is gone: delete the checkpoint file to take a new snapshot"}
	}
	return fmt.Errorf("postgres: replication: %w", err)
}

// decode turns one pgoutput message into messages.
func (s *Source) decode(ctx context.Context, data []byte) error {
	lm, err := pglogrepl.Parse(data)
	if err != nil {
		return fmt.Errorf("postgres: decode pgoutput: %w", err)
	}
	switch m := lm.(type) {
	case *pglogrepl.BeginMessage:
		s.stream.tx = txState{open: true, xid: m.Xid, final: m.FinalLSN, tsMs: m.CommitTime.UnixMilli(),
			id: fmt.Sprintf("%d:%d", m.Xid, uint64(m.FinalLSN)), walStart: s.stream.tx.walStart}
	case *pglogrepl.CommitMessage:
		save := s.stream.tx.signalled && s.inc.TakeRequests()
		s.stream.tx.open, s.stream.tx.signalled = false, false
		s.stream.lastActive = time.Now()
		s.last = s.position(m.TransactionEndLSN, true)
		s.pending.Push(cdc.Message{Commit: s.last, SaveNow: save})
	case *pglogrepl.RelationMessage:
		return s.relation(ctx, m)
	case *pglogrepl.InsertMessage:
		return s.change(ctx, cdc.OpCreate, m.RelationID, nil, 0, m.Tuple)
	case *pglogrepl.UpdateMessage:
		return s.change(ctx, cdc.OpUpdate, m.RelationID, m.OldTuple, m.OldTupleType, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		return s.change(ctx, cdc.OpDelete, m.RelationID, m.OldTuple, m.OldTupleType, nil)
	case *pglogrepl.TruncateMessage:
		return s.truncate(m)
	case *pglogrepl.TypeMessage:
		s.types.invalidate(m.DataType) // a type changed (renamed, new enum label)
	}
	return nil
}

// relation (re)derives a table from a relation message.
func (s *Source) relation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	id := cdc.TableID{Schema: m.Namespace, Name: m.RelationName}
	s.mapSignal(id, m.RelationID)
	if !s.opts.Filter.Match(id.Schema, id.Name) {
		s.rels[m.RelationID] = nil
		return nil
	}
	cols := make([]relColumn, len(m.Columns))
	for i, c := range m.Columns {
		cols[i] = relColumn{name: c.Name, oid: c.DataType, typmod: c.TypeModifier}
	}
	rs, err := s.buildRelation(ctx, id, cols)
	if err != nil {
		return err
	}
	s.rels[m.RelationID] = rs
	return nil
}

var errUnknownRelation = errors.New("postgres: change for a relation the stream never described")

// connectionLost reports whether err means the server went away (so that
// reconnecting may help) rather than that it refused something.
func connectionLost(err error) bool {
	if cdc.Permanent(err) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-03: shutdown, crash, cannot connect now.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, liveconn.ErrSilent) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.Timeout(err) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	return errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}
