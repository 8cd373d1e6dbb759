package mysql

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// dumpTablesQuery lists the tables a full load can read: base tables and
// MariaDB system-versioned tables (their current rows), not views or
// sequences.
const dumpTablesQuery = `SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES
	WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')`

// dumpTable is a table as Read needs it.
type dumpTable struct {
	ts *tableState
	// selectFrom is "SELECT <captured columns> FROM `db`.`t`".
	selectFrom string
	// key is the quoted split key column, or "" when the table cannot be
	// split; keyCol is its index in ts.table.Columns.
	key    string
	keyCol int
	// reader reads its rows (selectFrom is reader.selectFrom).
	reader *tableReader
}

// newDumpTable prepares the reading of a captured table; pk holds the
// source column indexes of its primary key.
func (d *Dumper) newDumpTable(ts *tableState, pk []int) *dumpTable {
	t := &dumpTable{ts: ts, keyCol: -1, reader: newTableReader(ts, d.floatExpr)}
	t.selectFrom = t.reader.selectFrom
	if len(pk) == 1 && splitBase(ts.descs[pk[0]]) && ts.plan[pk[0]].idx >= 0 {
		t.key, t.keyCol = quoteIdent(ts.descs[pk[0]].Name), ts.plan[pk[0]].idx
	}
	return t
}

// splitBase reports whether a column can split a table into int64 ranges:
// an integer type whose values all fit in an int64.
func splitBase(desc colDesc) bool {
	switch desc.Base {
	case "tinyint", "smallint", "mediumint", "int":
		return true
	case "bigint":
		return !desc.Unsigned
	}
	return false
}

// query returns the SELECT of chunk c. Bounds are integer literals, which
// the server compares with the key exactly (as integers, never as strings
// or doubles).
func (t *dumpTable) query(c cdc.Chunk) string {
	if c.Lo == nil && c.Hi == nil {
		return t.selectFrom
	}
	b := make([]byte, 0, len(t.selectFrom)+len(t.key)+64)
	b = append(b, t.selectFrom...)
	b = append(b, " WHERE "...)
	b = append(b, t.key...)
	switch {
	case c.Lo != nil && c.Hi != nil:
		b = append(b, " BETWEEN "...)
		b = strconv.AppendInt(b, *c.Lo, 10)
		b = append(b, " AND "...)
		b = strconv.AppendInt(b, *c.Hi, 10)
	case c.Lo != nil:
		b = append(b, " >= "...)
		b = strconv.AppendInt(b, *c.Lo, 10)
	default:
		b = append(b, " <= "...)
		b = strconv.AppendInt(b, *c.Hi, 10)
	}
	return string(b)
}

// Tables implements cdc.Dumper. The order is by schema, then name (byte
// order). In a global view, a table whose primary key is one integer
// column (not bigint unsigned) is SplitKey, with its least and greatest key
// read in the view; every other table is SplitNone.
func (d *Dumper) Tables(ctx context.Context) ([]cdc.DumpTable, error) {
	var out []cdc.DumpTable
	err := d.withMeta(ctx, func(meta *client.Conn) error {
		var err error
		out, err = d.describeTables(meta)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if d.global {
		if out, err = d.keyRanges(ctx, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type listedTable struct {
	id   cdc.TableID
	rows int64
}

// describeTables lists and describes the captured tables from
// information_schema.
func (d *Dumper) describeTables(meta *client.Conn) ([]cdc.DumpTable, error) {
	r, err := meta.Execute(dumpTablesQuery)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", explainPrivilege(err, "SELECT"))
	}
	var listed []listedTable
	for i := range r.Values {
		id := cdc.TableID{Schema: cell(r, i, 0), Name: cell(r, i, 1)}
		if d.opts.Filter.Match(id.Schema, id.Name) {
			n, _ := r.GetInt(i, 2)
			listed = append(listed, listedTable{id: id, rows: n})
		}
	}
	r.Close()
	slices.SortFunc(listed, func(a, b listedTable) int {
		return cmp.Or(strings.Compare(a.id.Schema, b.id.Schema), strings.Compare(a.id.Name, b.id.Name))
	})
	out := make([]cdc.DumpTable, 0, len(listed))
	for _, l := range listed {
		t, err := d.describe(meta, l.id)
		if errors.Is(err, cdc.ErrTableGone) {
			d.log.Info("table dropped while listing tables; skipped", "table", l.id.String())
			continue
		}
		if err != nil {
			return nil, err
		}
		dt := cdc.DumpTable{Table: t.ts.table, EstimatedRows: l.rows, Split: cdc.SplitNone}
		if d.global && t.key != "" {
			dt.Split, dt.KeyColumn = cdc.SplitKey, t.keyCol
		}
		out = append(out, dt)
	}
	return out, nil
}

// describe derives a table from information_schema and makes it the one
// Read uses.
func (d *Dumper) describe(meta *client.Conn, id cdc.TableID) (*dumpTable, error) {
	ts, _, pk, err := describeTable(meta, id, d.opts.Filter, d.log)
	if err != nil {
		return nil, err
	}
	t := d.newDumpTable(ts, pk)
	d.tablesMu.Lock()
	d.tables[id] = t
	d.tablesMu.Unlock()
	return t, nil
}

// keyRanges reads the least and greatest key of the SplitKey tables in the
// view. A table dropped since it was listed is left out; one the view
// cannot read (re-created or altered since the view began) becomes
// SplitNone, and reading it reports why.
func (d *Dumper) keyRanges(ctx context.Context, tables []cdc.DumpTable) ([]cdc.DumpTable, error) {
	if !slices.ContainsFunc(tables, func(t cdc.DumpTable) bool { return t.Split == cdc.SplitKey }) {
		return tables, nil
	}
	w, err := d.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer d.release(w)
	err = d.inView(ctx, w, func() error {
		out := tables[:0]
		for _, t := range tables {
			if t.Split == cdc.SplitKey {
				gone, err := d.keyRange(ctx, w, &t)
				if err != nil {
					return err
				}
				if gone {
					continue
				}
			}
			out = append(out, t)
		}
		tables = out
		return nil
	})
	return tables, err
}

// keyRange fills t's key range; gone reports a table that no longer exists.
func (d *Dumper) keyRange(ctx context.Context, w *worker, t *cdc.DumpTable) (gone bool, err error) {
	dt := d.table(t.Table.ID)
	r, err := d.exec(ctx, w, fmt.Sprintf("SELECT MIN(%[1]s), MAX(%[1]s) FROM %s.%s", dt.key,
		quoteIdent(t.Table.ID.Schema), quoteIdent(t.Table.ID.Name)))
	switch code := errorCode(err); {
	case err == nil:
	case code == gomysql.ER_NO_SUCH_TABLE:
		d.log.Info("table dropped while listing tables; skipped", "table", t.Table.ID.String())
		return true, nil
	case code == gomysql.ER_TABLE_DEF_CHANGED:
		d.log.Warn("table altered, truncated or re-created after the view began: the view cannot read it",
			"table", t.Table.ID.String())
		t.Split, t.KeyColumn = cdc.SplitNone, 0
		return false, nil
	default:
		return false, tableError(t.Table.ID, err)
	}
	defer r.Close()
	if len(r.Values) != 1 || r.Values[0][0].Type == gomysql.FieldValueTypeNull {
		t.Empty = true
		return false, nil
	}
	t.KeyMin, _ = r.GetInt(0, 0)
	t.KeyMax, _ = r.GetInt(0, 1)
	return false, nil
}

// table returns the prepared table id, or nil.
func (d *Dumper) table(id cdc.TableID) *dumpTable {
	d.tablesMu.Lock()
	defer d.tablesMu.Unlock()
	return d.tables[id]
}

// withMeta runs fn with the metadata connection, re-dialled when it went
// away; the end of ctx cuts it.
func (d *Dumper) withMeta(ctx context.Context, fn func(*client.Conn) error) error {
	d.metaMu.Lock()
	defer d.metaMu.Unlock()
	if d.meta != nil && d.meta.Ping() != nil {
		d.meta.Close()
		d.meta = nil
	}
	if d.meta == nil {
		select {
		case <-d.done:
			return errDumperClosed
		default:
		}
		c, err := dial(ctx, d.opts.Conn)
		if err != nil {
			return err
		}
		d.meta = c
	}
	meta := d.meta
	stop := context.AfterFunc(ctx, func() { interrupt(meta) })
	err := fn(meta)
	if !stop() {
		d.meta.Close()
		d.meta = nil
	}
	return err
}
