package cdc

import "fmt"

// Snapshot modes (SPEC §6).
const (
	// SnapshotInitial snapshots every captured table incrementally on
	// first start, in chunks interleaved with the stream, which starts at
	// once.
	SnapshotInitial = "initial"
	// SnapshotNever streams from the current position.
	SnapshotNever = "never"
	// SnapshotInitialOnly snapshots incrementally, as SnapshotInitial does,
	// then ends the stream once every table is read.
	SnapshotInitialOnly = "initial_only"
	// SnapshotInitialConsistent reads every captured table at one cut
	// point (one consistent read) on first start, then streams from there.
	SnapshotInitialConsistent = "initial_consistent"
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

// ResolveKey returns the key of t as indexes into t.Columns: the configured
// key columns when there are any, else the primary key's columns, named in
// key order. A key column that is not captured is an error saying why.
func ResolveKey(t *Table, configured, primaryKey []string) ([]int, error) {
	names, what := primaryKey, "part of the primary key: key columns cannot be excluded (source.exclude_columns)"
	if len(configured) > 0 {
		names, what = configured, "named by source.key_columns, but the table does not have it (or source.exclude_columns removes it)"
	}
	key := make([]int, 0, len(names))
	for _, name := range names {
		i := t.ColumnIndex(name)
		if i < 0 {
			return nil, fmt.Errorf("column %s.%s is %s", t.ID, name, what)
		}
		key = append(key, i)
	}
	return key, nil
}
