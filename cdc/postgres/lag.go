package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// SlotWAL is what a replication slot holds back on its server.
type SlotWAL struct {
	// Exists is false when the server has no such slot.
	Exists bool
	// Active is true while a client streams from the slot.
	Active bool
	// Current is the server's current WAL write position.
	Current pglogrepl.LSN
	// Confirmed is the slot's confirmed_flush_lsn: what fluxo confirmed.
	Confirmed pglogrepl.LSN
	// Retained is the WAL the server keeps for the slot, in bytes (current
	// position minus restart_lsn).
	Retained int64
	// Unconfirmed is the WAL written since Confirmed, in bytes.
	Unconfirmed int64
	// Status is wal_status: reserved, extended, unreserved or lost.
	Status string
}

const slotWALQuery = `SELECT s.active,
	pg_current_wal_lsn()::text,
	coalesce(s.confirmed_flush_lsn::text, '0/0'),
	coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn), 0)::int8,
	coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn), 0)::int8,
	coalesce(s.wal_status, '')
FROM pg_replication_slots s WHERE s.slot_name = $1`

// ReadSlotWAL connects to dsn and reads slot's WAL state; ctx bounds it.
func ReadSlotWAL(ctx context.Context, dsn, slot string) (SlotWAL, error) {
	conn, err := connect(ctx, dsn, 0)
	if err != nil {
		return SlotWAL{}, err
	}
	defer conn.Close(context.Background())
	return readSlotWAL(ctx, conn, slot)
}

// SlotReader reads a slot's WAL state repeatedly over one connection,
// opened on first use and again after a failure.
type SlotReader struct {
	dsn, slot   string
	readTimeout time.Duration
	conn        *pgx.Conn
}

// NewSlotReader returns a SlotReader of slot on the server of dsn; it does
// not connect yet. Its connection notices a silent server within
// readTimeout (Options.ReadTimeout).
func NewSlotReader(dsn, slot string, readTimeout time.Duration) *SlotReader {
	return &SlotReader{dsn: dsn, slot: slot, readTimeout: readTimeout}
}

// Read reads the slot's WAL state.
func (r *SlotReader) Read(ctx context.Context) (SlotWAL, error) {
	if r.conn == nil {
		conn, err := connect(ctx, r.dsn, r.readTimeout)
		if err != nil {
			return SlotWAL{}, err
		}
		r.conn = conn
	}
	w, err := readSlotWAL(ctx, r.conn, r.slot)
	if err != nil {
		r.Close() // reconnect next time
	}
	return w, err
}

// Close closes the connection, if open.
func (r *SlotReader) Close() {
	if r.conn != nil {
		r.conn.Close(context.Background())
		r.conn = nil
	}
}

func readSlotWAL(ctx context.Context, conn *pgx.Conn, slot string) (SlotWAL, error) {
	var w SlotWAL
	var cur, confirmed string
	err := conn.QueryRow(ctx, slotWALQuery, slot).Scan(&w.Active, &cur, &confirmed, &w.Retained, &w.Unconfirmed, &w.Status)
	if errors.Is(err, pgx.ErrNoRows) {
		return w, nil
	}
	if err != nil {
		return w, fmt.Errorf("postgres: read slot %q: %w", slot, err)
	}
	w.Exists = true
	if w.Current, err = pglogrepl.ParseLSN(cur); err != nil {
		return w, fmt.Errorf("postgres: slot %q: current lsn %q: %w", slot, cur, err)
	}
	if w.Confirmed, err = pglogrepl.ParseLSN(confirmed); err != nil {
		return w, fmt.Errorf("postgres: slot %q: confirmed lsn %q: %w", slot, confirmed, err)
	}
	return w, nil
}
