package mysql

import (
	"fmt"
	"github.com/go-mysql-org/go-mysql/client"
	"log/slog"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Filter selects the captured tables, columns and keys.
type Filter = cdc.Filter

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

// describeTable derives a captured table from information_schema (the
// table as it is now), with its column descriptions and the source column
// indexes of its primary key.
func describeTable(conn *client.Conn, id cdc.TableID, f Filter, log *slog.Logger) (*tableState, []colDesc, []int, error) {
	descs, pk, err := descsFromInfoSchema(conn, id)
	if err != nil {
		return nil, nil, nil, err
	}
	ts, err := buildTable(id, descs, pk, f, log)
	return ts, descs, pk, err
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
// key (pk holds source column indexes).
func keyIndexes(ts *tableState, pk []int, configured []string) ([]int, error) {
	names := make([]string, len(pk))
	for i, src := range pk {
		if src < len(ts.descs) {
			names[i] = ts.descs[src].Name
		}
	}
	return cdc.ResolveKey(ts.table, configured, names)
}

// row converts a decoded binlog row into a captured row. When every
// source column is captured, it converts raw in place and returns it (no
// copy per row): the caller hands over raw, as go-mysql hands it over.
func (ts *tableState) row(raw []any) ([]any, error) {
	if len(raw) != len(ts.plan) {
		return nil, fmt.Errorf("%s: binlog row has %d columns, schema has %d", ts.table.ID, len(raw), len(ts.plan))
	}
	out := raw
	if len(ts.table.Columns) != len(ts.plan) {
		out = make([]any, len(ts.table.Columns))
	}
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
