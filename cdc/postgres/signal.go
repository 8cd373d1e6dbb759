package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pglogrepl"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// withSignalTable returns the tables to publish: ids and the signal table,
// which must exist.
func (s *Source) withSignalTable(ctx context.Context, ids []cdc.TableID) ([]cdc.TableID, error) {
	t := s.opts.SignalTable
	if t == (cdc.TableID{}) || slices.Contains(ids, t) {
		return ids, nil
	}
	var exists bool
	if err := s.meta.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", quoteID(t)).Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres: look up source.signal_table %s: %w", t, err)
	}
	if !exists {
		return nil, &cdc.PermanentError{Err: fmt.Errorf("postgres: source.signal_table %s does not exist", t),
			Fix: fmt.Sprintf("create it (CREATE TABLE %s (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data text)) or remove source.signal_table", quoteID(t))}
	}
	return append(slices.Clone(ids), t), nil
}

// mapSignal follows the relation id of the signal table.
func (s *Source) mapSignal(id cdc.TableID, rel uint32) {
	switch {
	case s.opts.SignalTable != (cdc.TableID{}) && id == s.opts.SignalTable:
		s.signalRel = &rel
	case s.signalRel != nil && *s.signalRel == rel:
		s.signalRel = nil
	}
}

// signal hands a row inserted into the signal table to the snapshot
// control, in Debezium's column order (id, type, data); the transaction's
// commit takes the snapshots it requests.
func (s *Source) signal(t *pglogrepl.TupleData) {
	if t == nil || len(t.Columns) < 3 {
		s.log.Warn("signal ignored: the signal table needs Debezium's columns id, type, data, in that order",
			"table", s.opts.SignalTable.String())
		return
	}
	text := func(c *pglogrepl.TupleDataColumn) string {
		if c.DataType != pglogrepl.TupleDataTypeText {
			return ""
		}
		return string(c.Data)
	}
	row := incremental.SignalRow{ID: text(t.Columns[0]), Type: text(t.Columns[1]), Data: text(t.Columns[2])}
	captured := func(id cdc.TableID) bool { return s.opts.Filter.Match(id.Schema, id.Name) }
	if s.opts.Snapshots.Signal(s.log, captured, row) {
		s.stream.tx.signalled = true
	}
}
