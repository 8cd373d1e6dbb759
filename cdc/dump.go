package cdc

import (
	"context"
	"errors"
)

// ErrTableGone reports that a table disappeared (was dropped or renamed)
// while a full load was reading it.
var ErrTableGone = errors.New("table no longer exists")

// Dumper is a read-only view of a source for a full load (SPEC §7). It needs
// only SELECT: no binlog or replication privilege.
type Dumper interface {
	// Tables returns the tables the filter captures, in a stable order, with
	// their schemas and how they can be split into chunks. Excluded columns
	// are absent from the schemas.
	Tables(ctx context.Context) ([]DumpTable, error)
	// Read streams the rows of chunk c to fn, in no particular order. It may
	// be called concurrently; calls beyond the view's parallelism wait for a
	// free connection. row holds one value per column of the chunk's table,
	// typed as the column's Kind prescribes, and is valid only during the
	// call: fn must copy what it keeps. An error from fn stops the read and
	// is returned unwrapped. A value the Kind cannot hold is an error naming
	// the table, column and value. A table that no longer exists is an error
	// wrapping ErrTableGone.
	Read(ctx context.Context, c Chunk, fn func(row []any) error) error
	// Info describes the view's consistency and source position, for the
	// manifest.
	Info() DumpInfo
	// Close ends the view's transactions and closes its connections.
	Close() error
}

// Consistency levels of a Dumper's view, as the manifest records them.
const (
	// ConsistencySnapshot: every table is read from one PostgreSQL exported
	// snapshot shared by all connections.
	ConsistencySnapshot = "snapshot"
	// ConsistencyGlobal: MySQL consistent-snapshot transactions started
	// together under a brief global read lock.
	ConsistencyGlobal = "global"
	// ConsistencyPerTable: each table is consistent in itself (read in one
	// transaction), but tables are read at different points.
	ConsistencyPerTable = "per-table"
)

// DumpInfo describes a Dumper's view.
type DumpInfo struct {
	// Consistency is one of the Consistency constants.
	Consistency string `json:"consistency"`
	// Position is the source position the view corresponds to, when known:
	// a PostgreSQL LSN ("0/16B3748"), a MySQL binlog "file:pos" and GTID set.
	Position string `json:"position,omitempty"`
	// Snapshot is the PostgreSQL exported snapshot name, if any.
	Snapshot string `json:"snapshot,omitempty"`
	// ChangesFrom is where the changes after the view start, in the change
	// order fluxo sink writes as _position (BinlogStart, WALStart); empty
	// when the position is unknown.
	ChangesFrom string `json:"changes_from,omitempty"`
}

// SplitKind says how a table can be split into chunks.
type SplitKind uint8

const (
	// SplitNone: the table is read in one chunk (no primary key, a key that
	// is not a single integer column, or a per-table consistent view).
	SplitNone SplitKind = iota
	// SplitKey: the primary key is a single integer column (int64 range);
	// chunks are ranges of it.
	SplitKey
	// SplitPages: PostgreSQL heap pages; chunks are CTID page ranges, valid
	// only within the view that planned them.
	SplitPages
)

// DumpTable describes one table of a Dumper's view.
type DumpTable struct {
	Table *Table
	// EstimatedRows is the server's estimate of the row count (statistics),
	// or 0 when unknown.
	EstimatedRows int64
	// Split says how Read accepts chunks of this table.
	Split SplitKind
	// KeyMin and KeyMax are the least and greatest key in the view, for
	// SplitKey; Empty reports a table without rows (then both are 0).
	KeyMin, KeyMax int64
	Empty          bool
	// KeyColumn is the index into Table.Columns of the split key, for SplitKey.
	KeyColumn int
	// Pages is the number of heap pages in the view, for SplitPages.
	Pages int64
}

// Chunk is one part of a table to read. The zero ranges read the whole table.
type Chunk struct {
	Table TableID
	// Lo and Hi bound the split key, both inclusive, for a SplitKey table;
	// nil is unbounded.
	Lo, Hi *int64
	// FirstPage and EndPage bound the heap pages [FirstPage, EndPage) of a
	// SplitPages table; EndPage 0 means to the end of the table.
	FirstPage, EndPage int64
}
