package mysql

import (
	"fmt"
	"log/slog"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Filter selects the captured tables, columns and keys.
type Filter interface {
	// Match reports whether schema.table is captured.
	Match(schema, table string) bool
	// ExcludedColumn reports whether the column is never read.
	ExcludedColumn(schema, table, column string) bool
	// KeyColumns returns the configured key columns of a table, or nil to use
	// its primary key.
	KeyColumns(schema, table string) []string
}

// tableState is a captured table as the decoder needs it: the schema and one
// conversion plan per source column.
type tableState struct {
	table *cdc.Table
	descs []colDesc
	plan  []colPlan // one per source column, in source order
}

type colPlan struct {
	idx  int // index in table.Columns, -1 when excluded
	conv converter
}

// buildTable derives a captured table from its column descriptions and the
// source column indexes of its primary key.
func buildTable(id cdc.TableID, descs []colDesc, pk []int, f Filter, log *slog.Logger) (*tableState, error) {
	ts := &tableState{table: &cdc.Table{ID: id}, descs: descs, plan: make([]colPlan, len(descs))}
	for i, d := range descs {
		if f.ExcludedColumn(id.Schema, id.Name, d.Name) {
			ts.plan[i].idx = -1
			continue
		}
		col := d.column()
		ts.plan[i] = colPlan{idx: len(ts.table.Columns), conv: newConverter(id, d, col, log)}
		ts.table.Columns = append(ts.table.Columns, col)
	}
	key, err := keyIndexes(ts, pk, f.KeyColumns(id.Schema, id.Name))
	if err != nil {
		return nil, err
	}
	ts.table.Key = key
	return ts, nil
}

// keyIndexes resolves the key: configured key columns win over the primary
// key.
func keyIndexes(ts *tableState, pk []int, configured []string) ([]int, error) {
	id := ts.table.ID
	if len(configured) > 0 {
		key := make([]int, 0, len(configured))
		for _, name := range configured {
			i := ts.table.ColumnIndex(name)
			if i < 0 {
				return nil, fmt.Errorf("source.key_columns for %s names column %q, which the table does not have (or exclude_columns removes)", id, name)
			}
			key = append(key, i)
		}
		return key, nil
	}
	key := make([]int, 0, len(pk))
	for _, src := range pk {
		if src >= len(ts.plan) || ts.plan[src].idx < 0 {
			name := "?"
			if src < len(ts.descs) {
				name = ts.descs[src].Name
			}
			return nil, fmt.Errorf("source.exclude_columns removes %s.%s, which is part of the primary key: key columns cannot be excluded", id, name)
		}
		key = append(key, ts.plan[src].idx)
	}
	return key, nil
}

// row converts a decoded binlog row into a captured row.
func (ts *tableState) row(raw []any) ([]any, error) {
	if len(raw) != len(ts.plan) {
		return nil, fmt.Errorf("%s: binlog row has %d columns, schema has %d", ts.table.ID, len(raw), len(ts.plan))
	}
	out := make([]any, len(ts.table.Columns))
	for i, p := range ts.plan {
		if p.idx < 0 || raw[i] == nil {
			continue
		}
		v, err := p.conv(raw[i])
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", ts.table.ID, ts.table.Columns[p.idx].Name, err)
		}
		out[p.idx] = v
	}
	return out, nil
}
