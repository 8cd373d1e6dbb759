package mysql

import (
	"fmt"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// checkSignalTable fails when the signal table is configured but the
// server does not show it to fluxo's user.
func checkSignalTable(conn *client.Conn, t cdc.TableID) error {
	if t == (cdc.TableID{}) {
		return nil
	}
	r, err := conn.Execute("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", t.Schema, t.Name)
	if err != nil {
		return fmt.Errorf("look up source.signal_table %s: %w", t, err)
	}
	defer r.Close()
	if len(r.Values) == 0 {
		return &cdc.PermanentError{Err: fmt.Errorf("source.signal_table %s does not exist (or fluxo's user has no privilege on it)", t),
			Fix: fmt.Sprintf("create it (CREATE TABLE %s (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data text)) and GRANT SELECT on it to fluxo's user, or remove source.signal_table", quoteTable(t))}
	}
	return nil
}

// mapSignal follows the binlog table id of the signal table: the table map
// of the signal table sets it, that of another table with the same id
// clears it.
func (s *Source) mapSignal(id cdc.TableID, tableID uint64) {
	switch {
	case s.opts.SignalTable != (cdc.TableID{}) && id == s.opts.SignalTable:
		s.signalMap = &tableID
	case s.signalMap != nil && *s.signalMap == tableID:
		s.signalMap = nil
	}
}

// signals hands the rows inserted into the signal table to the snapshot
// control, in Debezium's column order (id, type, data); the transaction's
// commit takes the snapshots they request.
func (s *Source) signals(rows [][]any) {
	captured := func(id cdc.TableID) bool { return s.opts.Filter.Match(id.Schema, id.Name) }
	for _, r := range rows {
		if len(r) < 3 {
			s.log.Warn("signal ignored: the signal table needs Debezium's columns id, type, data, in that order",
				"table", s.opts.SignalTable.String(), "columns", len(r))
			continue
		}
		row := incremental.SignalRow{ID: signalText(r[0]), Type: signalText(r[1]), Data: signalText(r[2])}
		if s.opts.Snapshots.Signal(s.log, captured, row) {
			s.tx.signalled = true
		}
	}
}

// signalText is a signal column's value as text.
func signalText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	}
	return fmt.Sprint(v)
}
