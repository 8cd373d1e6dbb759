package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// dumpTable is a table of a Dumper's view as Read needs it.
type dumpTable struct {
	info cdc.DumpTable
	oid  uint32
	// gone reports a table dropped (or replaced by another of the same
	// name) since the snapshot: its rows cannot be read any more.
	gone bool
	// from is the FROM clause: ONLY for ordinary tables, whose inheritance
	// children are tables of their own; partitioned tables include their
	// partitions.
	from    string
	keyName string // the quoted split key column, for SplitKey
	*tableReader
}

// relation is a pg_class row the snapshot sees.
type relation struct {
	id        cdc.TableID
	oid       uint32
	kind      byte // 'r' ordinary, 'p' partitioned
	reltuples float64
}

// Tables implements cdc.Dumper: the captured tables in schema and name
// order, each locked (ACCESS SHARE) until Close once described.
func (d *Dumper) Tables(ctx context.Context) ([]cdc.DumpTable, error) {
	d.coordMu.Lock()
	defer d.coordMu.Unlock()
	if d.closed.Load() {
		return nil, errDumperClosed
	}
	rels, err := d.listRelations(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make([]cdc.DumpTable, 0, len(rels))
	for _, r := range rels {
		t, err := d.describe(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, t.info)
	}
	return out, nil
}

// table returns the description of id, describing it if Tables has not.
func (d *Dumper) table(ctx context.Context, id cdc.TableID) (*dumpTable, error) {
	d.tablesMu.Lock()
	t := d.tables[id]
	d.tablesMu.Unlock()
	if t != nil {
		return t, nil
	}
	d.coordMu.Lock()
	defer d.coordMu.Unlock()
	if d.closed.Load() {
		return nil, errDumperClosed
	}
	if !d.filter.Match(id.Schema, id.Name) {
		return nil, fmt.Errorf("postgres: table %s is not captured (source.tables, source.exclude_tables)", id)
	}
	rels, err := d.listRelations(ctx, &id)
	if err != nil {
		return nil, err
	}
	if len(rels) == 0 {
		return nil, fmt.Errorf("postgres: table %s is not in the snapshot: %w", id, cdc.ErrTableGone)
	}
	return d.describe(ctx, rels[0])
}

// listRelations lists the captured tables the snapshot sees (only id's, if
// not nil). The coordinator must be held.
func (d *Dumper) listRelations(ctx context.Context, id *cdc.TableID) ([]relation, error) {
	q := `SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text, c.reltuples::float8 ` + capturableFrom
	var args []any
	if id != nil {
		q += ` AND n.nspname = $1 AND c.relname = $2`
		args = []any{id.Schema, id.Name}
	}
	rows, err := d.coord.Query(ctx, q+` ORDER BY 2, 3`, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tables: %w", err)
	}
	var rels []relation
	for rows.Next() {
		var r relation
		var oid int64
		var kind string
		if err := rows.Scan(&oid, &r.id.Schema, &r.id.Name, &kind, &r.reltuples); err != nil {
			return nil, err
		}
		r.oid, r.kind = uint32(oid), firstByte(kind)
		if d.filter.Match(r.id.Schema, r.id.Name) {
			rels = append(rels, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list tables: %w", err)
	}
	return rels, nil
}

// describe returns the cached description of r, or describes it. The
// coordinator must be held.
func (d *Dumper) describe(ctx context.Context, r relation) (*dumpTable, error) {
	d.tablesMu.Lock()
	t := d.tables[r.id]
	d.tablesMu.Unlock()
	if t != nil && t.oid == r.oid {
		return t, nil
	}
	t, err := d.describeTable(ctx, r)
	if err != nil {
		return nil, err
	}
	d.tablesMu.Lock()
	d.tables[r.id] = t
	d.tablesMu.Unlock()
	return t, nil
}

// errReplaced reports a table name that now names another table.
var errReplaced = errors.New("replaced")

// describeTable locks r and derives its schema (as the snapshot's catalog
// has it), decoders and split. Each part runs in a savepoint: an error in
// the coordinator's transaction would end the snapshot.
func (d *Dumper) describeTable(ctx context.Context, r relation) (*dumpTable, error) {
	t := &dumpTable{oid: r.oid, from: quoteID(r.id)}
	if r.kind == 'r' {
		t.from = "ONLY " + t.from
	}
	err := d.savepoint(ctx, func() error {
		// A SELECT locks as LOCK TABLE would, but needs only the SELECT
		// privilege on some column.
		if err := execSimple(ctx, d.coord, "SELECT FROM "+t.from+" LIMIT 0"); err != nil {
			return err
		}
		var now *int64
		if err := d.coord.QueryRow(ctx, "SELECT to_regclass($1::text)::oid::int8", quoteID(r.id)).Scan(&now); err != nil {
			return err
		}
		if now == nil || uint32(*now) != r.oid {
			return errReplaced
		}
		return nil
	})
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, errReplaced), errors.As(err, &pe) && pe.Code == "42P01":
		t.gone = true
		d.log.Warn("table dropped since the snapshot: its rows can no longer be read", "table", r.id.String())
	case errors.As(err, &pe) && pe.Code == "42501": // insufficient_privilege
		return nil, &cdc.PermanentError{Err: fmt.Errorf("postgres: read %s: %w", r.id, err),
			Fix: fmt.Sprintf("GRANT SELECT ON %s TO <user>, or leave the table out (source.exclude_tables)", quoteID(r.id))}
	case err != nil:
		return nil, fmt.Errorf("postgres: lock %s: %w", r.id, err)
	}
	err = d.savepoint(ctx, func() error { return d.describeColumns(ctx, r, t) })
	if err != nil {
		return nil, err
	}
	return t, nil
}

// savepoint runs fn in a savepoint of the coordinator's transaction, rolled
// back when fn fails.
func (d *Dumper) savepoint(ctx context.Context, fn func() error) error {
	if err := execSimple(ctx, d.coord, "SAVEPOINT fluxo_describe"); err != nil {
		return fmt.Errorf("postgres: savepoint: %w", err)
	}
	if err := fn(); err != nil {
		if !d.coord.IsClosed() {
			if rerr := execSimple(ctx, d.coord, "ROLLBACK TO SAVEPOINT fluxo_describe; RELEASE SAVEPOINT fluxo_describe"); rerr != nil {
				return errors.Join(err, rerr)
			}
		}
		return err
	}
	return execSimple(ctx, d.coord, "RELEASE SAVEPOINT fluxo_describe")
}

// describeColumns fills in t's schema, decoders, statistics and split.
func (d *Dumper) describeColumns(ctx context.Context, r relation, t *dumpTable) error {
	rel := strconv.FormatUint(uint64(r.oid), 10) // the regclass of the snapshot's row
	cols, err := snapshotColumnsOf(ctx, d.coord, r.id, rel)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	facts, err := readFactsOf(ctx, d.coord, r.id, rel)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	rs, err := describeRelation(ctx, d.types, d.filter, r.id, cols, facts)
	if err != nil {
		return err
	}
	table := rs.table
	if err := d.checkColumnPrivileges(ctx, table, rel); err != nil {
		return err
	}
	if t.tableReader, err = newTableReader(ctx, rs, cols, t.from, d.types, d.log); err != nil {
		return err
	}
	keyBase := uint32(0) // base type of the primary key, when it is one captured column
	if len(facts.pk) == 1 {
		if idx := table.ColumnIndex(facts.pk[0]); idx >= 0 {
			keyBase = t.bases[idx]
			t.keyName = pgx.Identifier{facts.pk[0]}.Sanitize()
			t.info.KeyColumn = idx
		}
	}
	t.info.Table = table
	if err := d.estimate(ctx, r, t); err != nil {
		return err
	}
	switch {
	case t.gone:
	case keyBase == pgtype.Int2OID || keyBase == pgtype.Int4OID || keyBase == pgtype.Int8OID:
		t.info.Split = cdc.SplitKey
		var lo, hi *int64
		q := fmt.Sprintf("SELECT min(%[1]s)::int8, max(%[1]s)::int8 FROM %[2]s", t.keyName, t.from)
		if err := d.coord.QueryRow(ctx, q).Scan(&lo, &hi); err != nil {
			return fmt.Errorf("postgres: key range of %s: %w", r.id, err)
		}
		if lo == nil || hi == nil {
			t.info.Empty = true
		} else {
			t.info.KeyMin, t.info.KeyMax = *lo, *hi
		}
	case r.kind == 'r' && d.version >= 140000: // TID range scans
		t.info.Split = cdc.SplitPages
		err := d.coord.QueryRow(ctx, "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int8", rel).
			Scan(&t.info.Pages)
		if err != nil {
			return fmt.Errorf("postgres: size of %s: %w", r.id, err)
		}
	}
	if t.info.Split != cdc.SplitKey {
		t.keyName, t.info.KeyColumn = "", 0
	}
	return nil
}

// checkColumnPrivileges fails, naming them, when the role may not read
// some captured columns of table (rel is its OID).
func (d *Dumper) checkColumnPrivileges(ctx context.Context, table *cdc.Table, rel string) error {
	rows, err := d.coord.Query(ctx, `SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass
		AND attnum > 0 AND NOT attisdropped AND NOT has_column_privilege($1::regclass, attnum, 'SELECT')`, rel)
	if err != nil {
		return fmt.Errorf("postgres: column privileges of %s: %w", table.ID, err)
	}
	var denied []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		if table.ColumnIndex(name) >= 0 {
			denied = append(denied, name)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: column privileges of %s: %w", table.ID, err)
	}
	if len(denied) == 0 {
		return nil
	}
	return &cdc.PermanentError{Err: fmt.Errorf("postgres: the role may not read columns %s of %s", strings.Join(denied, ", "), table.ID),
		Fix: fmt.Sprintf("GRANT SELECT (%s) ON %s TO <user>, or exclude them (source.exclude_columns)",
			strings.Join(denied, ", "), quoteID(table.ID))}
}

// estimate sets the estimated row count: reltuples, summed over the leaf
// partitions of a partitioned table; -1 (never analysed) is unknown.
func (d *Dumper) estimate(ctx context.Context, r relation, t *dumpTable) error {
	n := r.reltuples
	if r.kind == 'p' && d.version >= 120000 {
		err := d.coord.QueryRow(ctx, `SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8
			FROM pg_partition_tree($1::regclass) p JOIN pg_class c ON c.oid = p.relid WHERE p.isleaf`,
			strconv.FormatUint(uint64(r.oid), 10)).Scan(&n)
		if err != nil {
			return fmt.Errorf("postgres: partitions of %s: %w", r.id, err)
		}
	}
	if n > 0 && n < math.MaxInt64 {
		t.info.EstimatedRows = int64(n)
	}
	return nil
}

// query returns the SELECT reading chunk c of t.
func (t *dumpTable) query(c cdc.Chunk) (string, error) {
	id := t.info.Table.ID
	var conds []string
	switch {
	case c.Lo != nil || c.Hi != nil:
		if t.info.Split != cdc.SplitKey {
			return "", fmt.Errorf("postgres: a key range of table %s, which is not split by key", id)
		}
		if c.Lo != nil {
			conds = append(conds, t.keyName+" >= "+strconv.FormatInt(*c.Lo, 10))
		}
		if c.Hi != nil {
			conds = append(conds, t.keyName+" <= "+strconv.FormatInt(*c.Hi, 10))
		}
	case c.FirstPage != 0 || c.EndPage != 0:
		if t.info.Split != cdc.SplitPages {
			return "", fmt.Errorf("postgres: a page range of table %s, which is not split by pages", id)
		}
		if c.FirstPage < 0 || c.EndPage < 0 || (c.EndPage != 0 && c.EndPage < c.FirstPage) {
			return "", fmt.Errorf("postgres: bad page range [%d, %d) of table %s", c.FirstPage, c.EndPage, id)
		}
		const maxBlock = math.MaxUint32 // block numbers are uint32
		if c.FirstPage > maxBlock {
			return "", fmt.Errorf("postgres: bad page range [%d, %d) of table %s", c.FirstPage, c.EndPage, id)
		}
		if c.FirstPage > 0 {
			conds = append(conds, "ctid >= '("+strconv.FormatInt(c.FirstPage, 10)+",0)'::tid")
		}
		if c.EndPage > 0 && c.EndPage <= maxBlock {
			conds = append(conds, "ctid < '("+strconv.FormatInt(c.EndPage, 10)+",0)'::tid")
		}
	}
	return t.tableReader.query(strings.Join(conds, " AND "), ""), nil
}
