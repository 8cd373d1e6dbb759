package mysql

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"errors"
	"github.com/fluxo-cdc/fluxo/cdc"
)

// tableMapBodyStart skips the table id (6 bytes) and flags (2 bytes) of a
// table map body, so that the fingerprint survives a table id change.
const tableMapBodyStart = replication.EventHeaderSize + 8

// mapTable resolves a table map event to a captured table (or to nil for a
// table fluxo does not capture), deriving a new schema version when the
// table's definition changed.
func (s *Source) mapTable(ev *replication.BinlogEvent, tm *replication.TableMapEvent) error {
	id := cdc.TableID{Schema: string(tm.Schema), Name: string(tm.Table)}
	s.mapSignal(id, tm.TableID)
	if !s.opts.Filter.Match(id.Schema, id.Name) {
		s.tables[tm.TableID] = nil
		return nil
	}
	fp := ev.RawData
	if len(fp) >= tableMapBodyStart+s.checksum {
		fp = fp[tableMapBodyStart : len(fp)-s.checksum]
	}
	if e := s.byName[id]; e != nil && bytes.Equal(e.fingerprint, fp) {
		s.tables[tm.TableID] = e.state
		return nil
	}
	ts, err := s.deriveTable(id, tm)
	if err != nil {
		return err
	}
	if s.captured != nil && !slices.Contains(s.captured, id) {
		// Created while streaming: the stream has all of it, so the next
		// start must not take it for a table added to source.tables.
		s.captured = append(slices.Clone(s.captured), id)
	}
	s.byName[id] = &tableEntry{fingerprint: bytes.Clone(fp), state: ts}
	s.tables[tm.TableID] = ts
	return nil
}

// deriveTable builds a table's decoder from a table map, reusing the schema
// in force when nothing the stream exposes changed.
func (s *Source) deriveTable(id cdc.TableID, tm *replication.TableMapEvent) (*tableState, error) {
	descs, pk, ok := descsFromTableMap(tm)
	if !ok {
		var err error
		if descs, pk, err = s.descsFallback(id, tm); err != nil {
			return nil, err
		}
	} else if err := s.decorate(id, descs); err != nil {
		s.log.Warn("cannot read column types from information_schema; keeping the declared types known so far",
			"table", id.String(), cdc.LogError, err.Error())
		if prev := s.schemas.tables[id]; prev != nil {
			copyDeclared(prev.Descs, descs)
		}
	}
	ts, err := buildTable(id, descs, pk, s.opts.Filter, s.log)
	if err != nil {
		return nil, err
	}
	return s.adopt(ts, descs, pk)
}

// adopt records ts as the table's schema in force; an unchanged schema keeps
// the previous *cdc.Table so that encoders and registry ids are reused.
func (s *Source) adopt(ts *tableState, descs []colDesc, pk []int) (*tableState, error) {
	id := ts.table.ID
	version := 1
	if prev := s.schemas.tables[id]; prev != nil {
		old, err := buildTable(id, prev.Descs, prev.PK, s.opts.Filter, nil)
		if err == nil && reflect.DeepEqual(old.table, ts.table) {
			if e := s.byName[id]; e != nil && reflect.DeepEqual(e.state.table, ts.table) {
				ts.table = e.state.table
			}
			return ts, nil
		}
		version = prev.Version + 1
		s.log.Info("table schema changed", "table", id.String(), "version", version)
	}
	s.schemas = s.schemas.with(&savedTable{ID: id, Descs: descs, PK: pk, Version: version})
	return ts, nil
}

// descsFallback describes a table whose table map carries no column names
// (binlog_row_metadata=MINIMAL): the saved schema if it still fits,
// otherwise information_schema.
func (s *Source) descsFallback(id cdc.TableID, tm *replication.TableMapEvent) ([]colDesc, []int, error) {
	if prev := s.schemas.tables[id]; prev != nil && fitsTableMap(prev.Descs, tm) {
		return prev.Descs, prev.PK, nil
	}
	conn, err := s.metaConn()
	if err != nil {
		return nil, nil, err
	}
	descs, pk, err := descsFromInfoSchema(conn, id)
	if err != nil {
		return nil, nil, err
	}
	if !fitsTableMap(descs, tm) {
		return nil, nil, &cdc.PermanentError{Err: fmt.Errorf("table %s: the binlog row has %d columns that do not match information_schema's %d", id, tm.ColumnCount, len(descs)),
			Fix: "set binlog_row_metadata=FULL on the server so that old rows carry their own column names, then restart"}
	}
	// Binlog metadata is authoritative for lengths.
	for i := range descs {
		b := descFromBinlogType(tm.ColumnType[i], tm.ColumnMeta[i])
		if descs[i].Base == "binary" && b.Length > 0 {
			descs[i].Length = b.Length
		}
	}
	return descs, pk, nil
}

// fitsTableMap reports whether descs plausibly describe the table map's
// columns (same count and same broad types).
func fitsTableMap(descs []colDesc, tm *replication.TableMapEvent) bool {
	if len(descs) != int(tm.ColumnCount) {
		return false
	}
	for i, d := range descs {
		b := descFromBinlogType(tm.ColumnType[i], tm.ColumnMeta[i])
		if family(b.Base) != family(d.Base) {
			return false
		}
	}
	return true
}

// family groups types that share a binlog encoding.
func family(base string) string {
	switch base {
	case "char", "binary", "enum", "set", "uuid", "inet6", "inet4":
		return "string"
	case "varchar", "varbinary":
		return "varchar"
	case "tinyblob", "blob", "mediumblob", "longblob", "tinytext", "text", "mediumtext", "longtext":
		return "blob"
	}
	return base
}

// handleRows emits one event per row of a rows event.
func (s *Source) handleRows(ev *replication.BinlogEvent, e *replication.RowsEvent) error {
	op, step := rowsOp(ev.Header.EventType)
	if op == cdc.OpCreate && s.signalMap != nil && *s.signalMap == e.TableID {
		s.signals(e.Rows)
	}
	ts := s.tables[e.TableID]
	if ts == nil {
		return nil
	}
	pos := int64(ev.Header.LogPos) - int64(ev.Header.EventSize)
	for i := 0; i+step <= len(e.Rows); i += step {
		info := s.txInfo(ts.table)
		if s.seen.Again(info) {
			continue // read again after a reconnect inside the transaction
		}
		first, err := ts.row(e.Rows[i])
		if err != nil {
			return err
		}
		evt := cdc.NewTxEvent(info)
		evt.Op, evt.Table, evt.Source = op, ts.table, s.sourceInfo(ts.table.ID, ev.Header, pos, int32(i/step))
		switch op {
		case cdc.OpCreate:
			evt.After = first
		case cdc.OpDelete:
			evt.Before = first
		case cdc.OpUpdate:
			evt.Before = first
			if evt.After, err = ts.row(e.Rows[i+1]); err != nil {
				return err
			}
		}
		s.observe(evt, ev.Header)
		s.pending.Push(cdc.Message{Event: evt})
	}
	return nil
}

// rowsOp is the change a rows event carries, and how many rows make one
// change (an update has a before and an after row).
func rowsOp(t replication.EventType) (cdc.Op, int) {
	switch t {
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
		replication.PARTIAL_UPDATE_ROWS_EVENT, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
		return cdc.OpUpdate, 2
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		return cdc.OpDelete, 1
	}
	return cdc.OpCreate, 1
}

// observe hands a change to the waiting chunk's window when it comes after
// the chunk's low watermark (MySQL: the read may not have seen it), and
// records it for the window of the read in flight.
func (s *Source) observe(evt *cdc.Event, h *replication.EventHeader) {
	if s.inc.Idle() {
		return
	}
	at := binlogPoint{s.file, h.LogPos}
	if id, ok := s.inc.Reading(); ok && evt.Table.ID == id {
		s.chunks.recent = append(s.chunks.recent, observed{evt, at}) // for the window of the read in flight
	}
	if c, _ := s.inc.Waiting().(*chunk); c != nil && c.low.before(at) {
		c.win.Observe(evt)
	}
}

func (s *Source) sourceInfo(id cdc.TableID, h *replication.EventHeader, pos int64, row int32) cdc.SourceInfo {
	return cdc.SourceInfo{TsMs: s.tx.tsMs, Snapshot: cdc.SnapshotFalse, DB: id.Schema, Table: id.Name,
		ServerID: int64(h.ServerID), GTID: s.tx.gtid, File: s.file, Pos: pos, Row: row}
}

// txInfo numbers the next event of table t in the transaction.
func (s *Source) txInfo(t *cdc.Table) cdc.TxInfo {
	if s.tx.id == "" {
		s.tx.id = s.tx.gtid
		if s.tx.id == "" {
			s.tx.id = fmt.Sprintf("%s:%d", s.file, s.last.Offset)
		}
	}
	return s.tx.orders.Next(s.tx.id, t)
}

var truncateRe = regexp.MustCompile("(?is)^\\s*TRUNCATE\\s+(?:TABLE\\s+)?(?:`?([^`.\\s]+)`?\\.)?`?([^`\\s;]+)`?")

// handleDDL emits a truncate event for TRUNCATE TABLE of a captured table,
// and forgets cached decoders so the next table map re-derives them.
func (s *Source) handleDDL(ev *replication.BinlogEvent, schema, q string) error {
	if m := truncateRe.FindStringSubmatch(q); m != nil {
		if m[1] != "" {
			schema = m[1]
		}
		id := cdc.TableID{Schema: schema, Name: m[2]}
		if !s.opts.Filter.Match(id.Schema, id.Name) {
			return nil
		}
		ts, err := s.knownTable(id)
		if errors.Is(err, cdc.ErrTableGone) {
			// Never captured and dropped since: no topic holds its rows.
			s.log.Warn("TRUNCATE of a table that no longer exists and whose schema fluxo never saw: skipped", "table", id.String())
			return nil
		}
		if err != nil {
			return fmt.Errorf("truncate of %s: %w", id, err)
		}
		evt := cdc.NewTxEvent(s.txInfo(ts.table))
		evt.Op, evt.Table = cdc.OpTruncate, ts.table
		evt.Source = s.sourceInfo(id, ev.Header, int64(ev.Header.LogPos)-int64(ev.Header.EventSize), 0)
		s.observe(evt, ev.Header)
		s.pending.Push(cdc.Message{Event: evt})
		return nil
	}
	if looksLikeSchemaChange(q) && s.server.rowMetadata != "FULL" {
		s.byName = map[cdc.TableID]*tableEntry{} // MINIMAL metadata: re-read information_schema
	}
	return nil
}

// knownTable returns the schema in force of a captured table, also when no
// row change of it was mapped since the source opened (a TRUNCATE first):
// the one the checkpoint saved, else information_schema's.
func (s *Source) knownTable(id cdc.TableID) (*tableState, error) {
	if e := s.byName[id]; e != nil {
		return e.state, nil
	}
	if prev := s.schemas.tables[id]; prev != nil {
		ts, err := buildTable(id, prev.Descs, prev.PK, s.opts.Filter, s.log)
		if err != nil {
			return nil, err
		}
		s.byName[id] = &tableEntry{state: ts} // no fingerprint: the first table map re-derives and reuses ts.table
		return ts, nil
	}
	conn, err := s.metaConn()
	if err != nil {
		return nil, err
	}
	return s.snapshotTable(conn, id)
}

func looksLikeSchemaChange(q string) bool {
	q = strings.ToUpper(strings.TrimSpace(q))
	for _, p := range []string{"ALTER", "CREATE", "DROP", "RENAME"} {
		if strings.HasPrefix(q, p) {
			return true
		}
	}
	return false
}
