package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// change turns an insert, update or delete into an event.
func (s *Source) change(ctx context.Context, op cdc.Op, relID uint32, old *pglogrepl.TupleData, oldType uint8, newTuple *pglogrepl.TupleData) error {
	if op == cdc.OpCreate && s.signalRel != nil && *s.signalRel == relID {
		s.signal(newTuple)
	}
	rs, known := s.rels[relID]
	if !known {
		return errUnknownRelation
	}
	if rs == nil {
		return nil // not captured
	}
	info := s.stream.tx.orders.Next(s.stream.tx.id, rs.table)
	if s.seen.Again(info) {
		return nil // sent again after a reconnect inside the transaction
	}
	ev := cdc.NewTxEvent(info)
	ev.Op, ev.Table, ev.Source = op, rs.table, s.sourceInfo(rs.table.ID)
	var err error
	if old != nil {
		if ev.Before, _, err = rs.tuple(old, nil); err != nil {
			return err
		}
	}
	if newTuple != nil {
		var full *pglogrepl.TupleData
		if oldType == 'O' { // REPLICA IDENTITY FULL: the old row holds unchanged TOASTed values
			full = old
		}
		var toasted []int
		if ev.After, toasted, err = rs.tuple(newTuple, full); err != nil {
			return err
		}
		if len(toasted) > 0 {
			if err := s.reread(ctx, rs, newTuple, ev.After, toasted); err != nil {
				return err
			}
		}
	}
	s.observe(ev)
	s.pending.Push(cdc.Message{Event: ev})
	return nil
}

// tuple decodes a tuple into a captured row. Columns whose TOASTed value was
// not sent (unchanged) are taken from full when it has them; the others are
// returned as relation column indexes to re-read.
func (rs *relState) tuple(t *pglogrepl.TupleData, full *pglogrepl.TupleData) (row []any, toasted []int, err error) {
	row = make([]any, len(rs.table.Columns))
	for i, c := range t.Columns {
		if i >= len(rs.idx) || rs.idx[i] < 0 {
			continue
		}
		if c.DataType == pglogrepl.TupleDataTypeToast && full != nil && i < len(full.Columns) {
			c = full.Columns[i]
		}
		switch c.DataType {
		case pglogrepl.TupleDataTypeText:
			v, err := rs.dec[i](c.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("%s.%s: %w", rs.table.ID, rs.table.Columns[rs.idx[i]].Name, err)
			}
			row[rs.idx[i]] = v
		case pglogrepl.TupleDataTypeToast:
			toasted = append(toasted, i)
		case pglogrepl.TupleDataTypeBinary:
			return nil, nil, fmt.Errorf("%s: pgoutput sent a binary value, fluxo asks for text", rs.table.ID)
		}
	}
	return row, toasted, nil
}

// reread fetches unchanged TOASTed columns, which the WAL does not carry
// without REPLICA IDENTITY FULL, by primary key. The value read is the
// row's current one; if the row is gone by now, the columns stay null and a
// later delete in the stream removes the row anyway.
func (s *Source) reread(ctx context.Context, rs *relState, t *pglogrepl.TupleData, row []any, cols []int) error {
	if len(rs.pk) == 0 {
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: %s: an update left TOASTed columns unchanged and the table has no primary key to re-read them by", rs.table.ID),
			Fix: "run ALTER TABLE " + quoteID(rs.table.ID) + " REPLICA IDENTITY FULL"}
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = pgx.Identifier{rs.table.Columns[rs.idx[c]].Name}.Sanitize()
	}
	where := make([]string, len(rs.pk))
	args := make([][]byte, len(rs.pk))
	for i, k := range rs.pk {
		where[i] = fmt.Sprintf("%s = $%d", pgx.Identifier{rs.table.Columns[rs.idx[k]].Name}.Sanitize(), i+1)
		args[i] = t.Columns[k].Data
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s", strings.Join(names, ", "), quoteID(rs.table.ID), strings.Join(where, " AND "))
	res := s.meta.PgConn().ExecParams(ctx, sql, args, nil, nil, []int16{0}).Read()
	if res.Err != nil {
		return fmt.Errorf("postgres: re-read TOASTed columns of %s: %w", rs.table.ID, res.Err)
	}
	if len(res.Rows) == 0 {
		s.log.Warn("row gone before its unchanged TOASTed columns could be re-read; they are null in this update", "table", rs.table.ID.String())
		return nil
	}
	for i, c := range cols {
		if raw := res.Rows[0][i]; raw != nil {
			v, err := rs.dec[c](raw)
			if err != nil {
				return err
			}
			row[rs.idx[c]] = v
		}
	}
	return nil
}

// truncate emits a truncate event per captured relation.
func (s *Source) truncate(m *pglogrepl.TruncateMessage) error {
	for _, id := range m.RelationIDs {
		rs, known := s.rels[id]
		if !known {
			return errUnknownRelation
		}
		if rs == nil {
			continue
		}
		info := s.stream.tx.orders.Next(s.stream.tx.id, rs.table)
		if s.seen.Again(info) {
			continue
		}
		ev := cdc.NewTxEvent(info)
		ev.Op, ev.Table, ev.Source = cdc.OpTruncate, rs.table, s.sourceInfo(rs.table.ID)
		s.observe(ev)
		s.pending.Push(cdc.Message{Event: ev})
	}
	return nil
}

func (s *Source) sourceInfo(id cdc.TableID) cdc.SourceInfo {
	tx := &s.stream.tx
	return cdc.SourceInfo{TsMs: tx.tsMs, Snapshot: cdc.SnapshotFalse, DB: s.dbName, Schema: id.Schema, Table: id.Name,
		TxID: int64(tx.xid), LSN: int64(tx.walStart)}
}
