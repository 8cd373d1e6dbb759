package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// pgSessionSetup is cdc/postgres's sessionSetup (types.go), which fluxo
// runs on its replication connection: pgoutput formats values with the
// walsender's settings, so the parse-only pass gets the same text.
const pgSessionSetup = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; " +
	"SET IntervalStyle = 'iso_8601'; SET bytea_output = 'hex'; " +
	"SET lc_monetary = 'C'; SET extra_float_digits = 3"

// pgStatusInterval is how often the parse-only loop reports its position,
// well within the server's wal_sender_timeout (60 s).
const pgStatusInterval = 10 * time.Second

// pgoutputArgs are the plugin arguments fluxo's source passes
// (cdc/postgres/stream.go, startStreaming).
func pgoutputArgs() []string {
	return []string{"proto_version '1'", "publication_names '" + pgPublication + "'", "messages 'false'"}
}

// pgLowat is the SO_RCVLOWAT of the second parse-only loop, and pgLowatWait
// how long it waits for less than that (the end of the backlog).
const (
	pgLowat     = 64 << 10
	pgLowatWait = 20 * time.Millisecond
)

// parseVariant is one way of running the parse-only loop.
type parseVariant struct {
	Kind  string // slot kind (see slotName)
	Label string // for the report
	Lowat int    // SO_RCVLOWAT once streaming; 0 leaves the socket as it is
}

// parseVariants are the parse-only loops of each round: pglogrepl's loop as
// its example writes it, which reads and wakes up once per message (the
// walsender sends them one by one), and the same loop woken only once
// 64 KiB are queued, the faster of the two on a small machine.
var parseVariants = [2]parseVariant{
	{Kind: "parse", Label: "parse-only (pglogrepl)"},
	{Kind: "lowat", Label: "parse-only (pglogrepl + SO_RCVLOWAT)", Lowat: pgLowat},
}

// pgParseOnly reads slot with pglogrepl alone, parsing every pgoutput
// message and counting row changes until the commit that completes want of
// them, and times it from the connection on, as fluxo's pass is timed.
func pgParseOnly(ctx context.Context, st pgStack, v parseVariant, slot string, want int64) (parseResult, error) {
	var res parseResult
	rss, cpu := startRSS(100*time.Millisecond), startCPU(st.Pids...)
	t0 := time.Now()
	err := parseSlot(ctx, st.DSN, slot, v.Lowat, want, &res)
	res.Elapsed, res.CPU, res.RSS = time.Since(t0), cpu.Used(), rss.Stop()
	return res, err
}

// parseSlot connects for replication, starts streaming slot from its
// confirmed position and counts into res.
func parseSlot(ctx context.Context, dsn, slot string, lowat int, want int64, res *parseResult) error {
	conn, err := pgconn.Connect(ctx, replicationDSN(dsn))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := execSQL(ctx, conn, pgSessionSetup); err != nil {
		return err
	}
	err = pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{PluginArgs: pgoutputArgs()})
	if err != nil {
		return fmt.Errorf("parse-only: start replication on %s: %w", slot, err)
	}
	r := &walReader{conn: conn, nextStatus: time.Now().Add(pgStatusInterval)}
	if lowat > 0 {
		if err := setRcvLowat(conn.Conn(), lowat); err != nil {
			return err
		}
		r.wait = pgLowatWait
	}
	for {
		done, err := r.step(ctx, want, res)
		if err != nil || done {
			return err
		}
	}
}

// replicationDSN returns dsn asking for a logical replication connection.
func replicationDSN(dsn string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&replication=database"
	}
	return dsn + "?replication=database"
}

// setRcvLowat makes conn's socket readable only once n bytes are queued
// (SO_RCVLOWAT): the reader is then woken once per n bytes rather than
// once per message. Less than n bytes are read when a read deadline
// expires.
func setRcvLowat(conn net.Conn, n int) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return fmt.Errorf("parse-only: %T has no socket", conn)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	})
	return errors.Join(err, serr)
}

// walReader is the parse-only loop's state: the loop of pglogrepl's
// example, receiving with a deadline at the next status update (or sooner,
// see wait).
type walReader struct {
	conn       *pgconn.PgConn
	received   pglogrepl.LSN // end of the last WAL data received
	nextStatus time.Time
	wait       time.Duration // when not 0, the longest wait for a message
}

// step handles at most one message and reports whether the count is done.
func (r *walReader) step(ctx context.Context, want int64, res *parseResult) (bool, error) {
	if !time.Now().Before(r.nextStatus) {
		if err := r.status(ctx); err != nil {
			return false, err
		}
	}
	deadline := r.nextStatus
	if r.wait > 0 {
		if t := time.Now().Add(r.wait); t.Before(deadline) {
			deadline = t
		}
	}
	rctx, cancel := context.WithDeadline(ctx, deadline)
	msg, err := r.conn.ReceiveMessage(rctx)
	cancel()
	if err != nil {
		if pgconn.Timeout(err) && ctx.Err() == nil {
			return false, nil
		}
		return false, fmt.Errorf("parse-only: %w", err)
	}
	switch m := msg.(type) {
	case *pgproto3.CopyData:
		return r.copyData(ctx, m.Data, want, res)
	case *pgproto3.ErrorResponse:
		return false, fmt.Errorf("parse-only: %w", pgconn.ErrorResponseToPgError(m))
	}
	return false, nil
}

// copyData handles one CopyData message: a keepalive or WAL data.
func (r *walReader) copyData(ctx context.Context, data []byte, want int64, res *parseResult) (bool, error) {
	if len(data) == 0 {
		return false, nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return false, err
		}
		if ka.ReplyRequested {
			return false, r.status(ctx)
		}
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return false, err
		}
		r.received = xld.WALStart + pglogrepl.LSN(len(xld.WALData))
		m, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			return false, fmt.Errorf("parse-only: %w", err)
		}
		return countMessage(m, want, res), nil
	}
	return false, nil
}

// status reports the position received so far as written and flushed.
func (r *walReader) status(ctx context.Context) error {
	err := pglogrepl.SendStandbyStatusUpdate(ctx, r.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: r.received, WALFlushPosition: r.received, WALApplyPosition: r.received, ClientTime: time.Now()})
	r.nextStatus = time.Now().Add(pgStatusInterval)
	return err
}

// countMessage counts a parsed pgoutput message into res and reports
// whether it is the commit that completes want row changes.
func countMessage(m pglogrepl.Message, want int64, res *parseResult) bool {
	switch m.(type) {
	case *pglogrepl.InsertMessage:
		res.Ops.Inserts++
	case *pglogrepl.UpdateMessage:
		res.Ops.Updates++
	case *pglogrepl.DeleteMessage:
		res.Ops.Deletes++
	case *pglogrepl.CommitMessage:
		res.Txs++
		return res.Ops.Total() >= want
	}
	return false
}
