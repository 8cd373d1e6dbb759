package config

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/mask"
)

// TableFilter decides which tables and columns are captured and which
// columns key a table without a primary key. Build one with
// Source.TableFilter. Names are matched case-sensitively with path.Match
// globs ('*', '?', '[...]'), the schema (database) and table parts
// separately.
type TableFilter struct {
	include, exclude []tablePattern
	columns          []columnPattern
	masks            []maskPattern       // exact patterns first, then globs
	keys             map[string][]string // exact "db.table" keys
	keyGlobs         []keyGlob           // glob keys, longest first
}

type tablePattern struct{ schema, table string }

func (p tablePattern) match(schema, table string) bool {
	return glob(p.schema, schema) && glob(p.table, table)
}

type columnPattern struct {
	table  tablePattern
	column string
}

type keyGlob struct {
	pattern tablePattern
	columns []string
}

// TableFilter compiles the source's table and column patterns. It fails if a
// pattern does not have the db.table (or db.table.column) shape or is a
// malformed glob; Parse has already checked this for a parsed Config.
func (s Source) TableFilter() (*TableFilter, error) {
	var errs []error
	for _, e := range s.patternErrors() {
		errs = append(errs, errors.New(e.msg))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s.buildFilter(), nil
}

// Match reports whether schema.table is captured: it matches an include
// pattern and no exclude pattern. The system schemas (mysql,
// information_schema, performance_schema, sys, pg_catalog) are captured only
// when an include pattern names the schema without a glob; so an empty
// include list, or "*.*", means every table outside them.
func (f *TableFilter) Match(schema, table string) bool {
	return f.included(schema, table) && !slices.ContainsFunc(f.exclude, func(p tablePattern) bool {
		return p.match(schema, table)
	})
}

func (f *TableFilter) included(schema, table string) bool {
	if len(f.include) == 0 {
		return !isSystemSchema(schema)
	}
	for _, p := range f.include {
		if p.match(schema, table) && (!isGlob(p.schema) || !isSystemSchema(schema)) {
			return true
		}
	}
	return false
}

// ExcludedColumn reports whether schema.table.column matches an
// exclude_columns pattern, so that it is never read.
func (f *TableFilter) ExcludedColumn(schema, table, column string) bool {
	return slices.ContainsFunc(f.columns, func(p columnPattern) bool {
		return p.table.match(schema, table) && glob(p.column, column)
	})
}

// maskPattern is one entry of source.mask_columns.
type maskPattern struct {
	columnPattern
	action mask.Action
}

// MaskColumn implements mask.Rules: the action of the first entry of
// source.mask_columns that matches (exact names before globs), or "".
func (f *TableFilter) MaskColumn(schema, table, column string) mask.Action {
	for _, p := range f.masks {
		if p.table.match(schema, table) && glob(p.column, column) {
			return p.action
		}
	}
	return ""
}

// globRank orders exact column patterns (0) before globs (1).
func globRank(p columnPattern) int {
	if isGlob(p.table.schema + "." + p.table.table + "." + p.column) {
		return 1
	}
	return 0
}

// Masking reports whether source.mask_columns masks anything.
func (f *TableFilter) Masking() bool { return len(f.masks) > 0 }

// KeyColumns returns the key_columns configured for schema.table, or nil.
// An exact key wins over glob keys; among glob keys the longest (most
// specific) wins, then the first in sorted order. The result is a copy.
func (f *TableFilter) KeyColumns(schema, table string) []string {
	if cols, ok := f.keys[schema+"."+table]; ok {
		return slices.Clone(cols)
	}
	for _, g := range f.keyGlobs {
		if g.pattern.match(schema, table) {
			return slices.Clone(g.columns)
		}
	}
	return nil
}

// buildFilter compiles patterns that patternErrors accepted.
func (s Source) buildFilter() *TableFilter {
	f := &TableFilter{keys: map[string][]string{}}
	for _, p := range s.Tables {
		f.include = append(f.include, toTable(strings.Split(p, ".")))
	}
	for _, p := range s.ExcludeTables {
		f.exclude = append(f.exclude, toTable(strings.Split(p, ".")))
	}
	for _, p := range s.ExcludeColumns {
		parts := strings.Split(p, ".")
		f.columns = append(f.columns, columnPattern{toTable(parts), parts[2]})
	}
	for _, k := range sortedKeys(s.MaskColumns) {
		p := maskPattern{columnPattern{toTable(strings.Split(k, ".")), strings.Split(k, ".")[2]}, mask.Action(s.MaskColumns[k])}
		f.masks = append(f.masks, p)
	}
	slices.SortStableFunc(f.masks, func(a, b maskPattern) int { return globRank(a.columnPattern) - globRank(b.columnPattern) })
	for _, k := range sortedKeys(s.KeyColumns) {
		if isGlob(k) {
			g := keyGlob{toTable(strings.Split(k, ".")), s.KeyColumns[k]}
			f.keyGlobs = append(f.keyGlobs, g)
		} else {
			f.keys[k] = s.KeyColumns[k]
		}
	}
	slices.SortStableFunc(f.keyGlobs, func(a, b keyGlob) int {
		return len(b.pattern.schema+b.pattern.table) - len(a.pattern.schema+a.pattern.table)
	})
	return f
}

func toTable(parts []string) tablePattern { return tablePattern{parts[0], parts[1]} }

// fieldMsg is a validation message about one key.
type fieldMsg struct{ key, msg string }

// patternErrors checks the shape of every table and column pattern and the
// key_columns lists.
func (s Source) patternErrors() []fieldMsg {
	unit := "database"
	if s.Connector() == cdc.ConnectorPostgres {
		unit = "schema"
	}
	var out []fieldMsg
	check := func(key string, pats []string, parts int, shape string) {
		for _, p := range pats {
			if err := checkPattern(p, parts); err != nil {
				out = append(out, fieldMsg{key, fmt.Sprintf("%s: %q %v; write %s (globs * and ? allowed)", key, p, err, shape)})
			}
		}
	}
	check("source.tables", s.Tables, 2, unit+".table")
	check("source.exclude_tables", s.ExcludeTables, 2, unit+".table")
	check("source.exclude_columns", s.ExcludeColumns, 3, unit+".table.column")
	check("source.mask_columns", sortedKeys(s.MaskColumns), 3, unit+".table.column")
	for _, k := range sortedKeys(s.KeyColumns) {
		check("source.key_columns", []string{k}, 2, unit+".table")
		out = append(out, keyListErrors(k, s.KeyColumns[k])...)
	}
	if len(out) == 0 {
		out = s.excludedKeyErrors()
	}
	return out
}

func checkPattern(p string, parts int) error {
	split := strings.Split(p, ".")
	if len(split) != parts || slices.Contains(split, "") {
		return fmt.Errorf("does not have %d dot-separated parts", parts)
	}
	for _, part := range split {
		if _, err := path.Match(part, ""); err != nil {
			return errors.New("is a malformed glob")
		}
	}
	return nil
}

func keyListErrors(table string, cols []string) []fieldMsg {
	const key = "source.key_columns"
	if len(cols) == 0 {
		return []fieldMsg{{key, fmt.Sprintf("%s: %s needs at least one column, e.g. %s: [id]", key, table, table)}}
	}
	var out []fieldMsg
	for i, c := range cols {
		switch {
		case c == "":
			out = append(out, fieldMsg{key, fmt.Sprintf("%s: %s has an empty column name", key, table)})
		case slices.Contains(cols[:i], c):
			out = append(out, fieldMsg{key, fmt.Sprintf("%s: %s lists column %q twice", key, table, c)})
		}
	}
	return out
}

// excludedKeyErrors reports key columns that exclude_columns removes.
func (s Source) excludedKeyErrors() []fieldMsg {
	f := s.buildFilter()
	var out []fieldMsg
	for _, k := range sortedKeys(s.KeyColumns) {
		schema, table, _ := strings.Cut(k, ".")
		for _, c := range s.KeyColumns[k] {
			if !isGlob(k) && f.ExcludedColumn(schema, table, c) {
				out = append(out, fieldMsg{"source.key_columns", fmt.Sprintf(
					"source.key_columns: %s.%s is also excluded by source.exclude_columns; a key column must be read", k, c)})
			}
		}
	}
	return out
}

func glob(pattern, name string) bool {
	ok, _ := path.Match(pattern, name)
	return ok
}

func isGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

func isSystemSchema(s string) bool {
	switch s {
	case "mysql", "information_schema", "performance_schema", "sys", "pg_catalog":
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// SignalTableID is source.signal_table as a table id (zero when unset).
func (s Source) SignalTableID() (cdc.TableID, error) {
	if s.SignalTable == "" {
		return cdc.TableID{}, nil
	}
	parts := strings.Split(s.SignalTable, ".")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" || strings.ContainsAny(s.SignalTable, "*?") {
		return cdc.TableID{}, fmt.Errorf("source.signal_table %q: name one table as db.table (schema.table for PostgreSQL), without globs", s.SignalTable)
	}
	return cdc.TableID{Schema: parts[0], Name: parts[1]}, nil
}
