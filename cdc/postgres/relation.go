package postgres

import (
	"context"
	"fmt"
	"maps"
	"reflect"

	"github.com/jackc/pgx/v5"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// relColumn is a column as pgoutput's relation message (or the catalog, for
// the snapshot) describes it.
type relColumn struct {
	name   string
	oid    uint32
	typmod int32
}

// relState is a captured table as the decoder needs it.
type relState struct {
	table *cdc.Table
	dec   []textDecoder // per relation column; nil when excluded
	idx   []int         // relation column -> index in table.Columns, -1 when excluded
	pk    []int         // relation column indexes of the primary key
}

// tableFacts are what the catalog says of a table beyond its columns.
type tableFacts struct {
	notNull map[string]bool
	pk      []string // primary key column names in key order
}

func readFacts(ctx context.Context, conn *pgx.Conn, id cdc.TableID) (tableFacts, error) {
	return readFactsOf(ctx, conn, id, quoteID(id))
}

// readFactsOf reads the facts of table id, which rel names as a regclass
// input (a quoted name, or an OID to read the catalog rows the transaction's
// snapshot sees).
func readFactsOf(ctx context.Context, conn *pgx.Conn, id cdc.TableID, rel string) (tableFacts, error) {
	f := tableFacts{notNull: map[string]bool{}}
	rows, err := conn.Query(ctx, `SELECT attname, attnotnull FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, rel)
	if err != nil {
		return f, fmt.Errorf("read columns of %s: %w", id, err)
	}
	for rows.Next() {
		var name string
		var nn bool
		if err := rows.Scan(&name, &nn); err != nil {
			return f, err
		}
		f.notNull[name] = nn
	}
	if err := rows.Err(); err != nil {
		return f, err
	}
	err = conn.QueryRow(ctx, `SELECT coalesce(array_agg(a.attname ORDER BY k.ord), '{}') FROM pg_index i
		CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = $1::regclass AND i.indisprimary`, rel).Scan(&f.pk)
	if err != nil {
		return f, fmt.Errorf("read primary key of %s: %w", id, err)
	}
	return f, nil
}

// snapshotColumns lists a table's columns as pgoutput would publish them:
// in attribute order, without dropped and generated columns.
func snapshotColumns(ctx context.Context, conn *pgx.Conn, id cdc.TableID) ([]relColumn, error) {
	return snapshotColumnsOf(ctx, conn, id, quoteID(id))
}

// snapshotColumnsOf lists the columns of table id, which rel names as
// readFactsOf's does.
func snapshotColumnsOf(ctx context.Context, conn *pgx.Conn, id cdc.TableID, rel string) ([]relColumn, error) {
	rows, err := conn.Query(ctx, `SELECT attname, atttypid, atttypmod FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
		ORDER BY attnum`, rel)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", id, err)
	}
	var cols []relColumn
	for rows.Next() {
		var c relColumn
		if err := rows.Scan(&c.name, &c.oid, &c.typmod); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// buildRelation derives the captured table of id from its columns.
func (s *Source) buildRelation(ctx context.Context, id cdc.TableID, cols []relColumn) (*relState, error) {
	facts, err := readFacts(ctx, s.meta, id)
	if err != nil {
		return nil, err
	}
	rs, err := describeRelation(ctx, s.types, s.opts.Filter, id, cols, facts)
	if err != nil {
		return nil, err
	}
	return s.adopt(rs), nil
}

// describeRelation derives the captured table of id from its columns and
// catalog facts: excluded columns are left out, the key is the configured
// key columns or the primary key.
func describeRelation(ctx context.Context, types columnTypes, filter Filter, id cdc.TableID, cols []relColumn, facts tableFacts) (*relState, error) {
	rs := &relState{table: &cdc.Table{ID: id}, dec: make([]textDecoder, len(cols)), idx: make([]int, len(cols))}
	for i, c := range cols {
		rs.idx[i] = -1
		if filter.ExcludedColumn(id.Schema, id.Name, c.name) {
			continue
		}
		col, dec, err := types.column(ctx, c.name, c.oid, c.typmod, !facts.notNull[c.name])
		if err != nil {
			return nil, fmt.Errorf("table %s column %s: %w", id, c.name, err)
		}
		rs.idx[i], rs.dec[i] = len(rs.table.Columns), dec
		rs.table.Columns = append(rs.table.Columns, col)
	}
	for _, name := range facts.pk {
		for i, c := range cols {
			if c.name == name {
				rs.pk = append(rs.pk, i)
			}
		}
	}
	var err error
	if rs.table.Key, err = cdc.ResolveKey(rs.table, filter.KeyColumns(id.Schema, id.Name), facts.pk); err != nil {
		return nil, err
	}
	return rs, nil
}

// adopt makes rs the table's schema in force, keeping the previous
// *cdc.Table when nothing the stream exposes changed.
func (s *Source) adopt(rs *relState) *relState {
	key := rs.table.ID.String()
	if prev := s.current[key]; prev != nil && reflect.DeepEqual(prev, rs.table) {
		rs.table = prev
		return rs
	}
	if s.current[key] != nil || s.versions[key] == 0 {
		v := maps.Clone(s.versions) // positions share the map: never change it in place
		v[key]++
		s.versions = v
		if v[key] > 1 {
			s.log.Info("table schema changed", "table", key, "version", v[key])
		}
	}
	s.current[key] = rs.table
	return rs
}
