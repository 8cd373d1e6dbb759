package cdc

import "fmt"

// The change order: a source position rendered so that positions sort as
// strings in the order the source committed them. fluxo sink writes it as
// each change row's _position, and a full load's view records where its
// changes start (DumpInfo.ChangesFrom), so that a query can take the
// changes after a full load.

// BinlogOrder is the change order of row row of the binlog event at pos of
// file (the binlog is in commit order): "file:pos:row", fixed width.
func BinlogOrder(file string, pos, row int64) string {
	return fmt.Sprintf("%s:%020d:%010d", file, pos, row)
}

// BinlogStart is the smallest change order of the events at or after pos
// of file.
func BinlogStart(file string, pos int64) string { return fmt.Sprintf("%s:%020d", file, pos) }

// WALOrder is the change order of a PostgreSQL change at lsn in the
// transaction that commits at commit: "commit:lsn", 16 hex digits each.
func WALOrder(commit, lsn uint64) string { return fmt.Sprintf("%016X:%016X", commit, lsn) }

// WALStart is the smallest change order of the transactions that commit at
// or after lsn.
func WALStart(lsn uint64) string { return fmt.Sprintf("%016X", lsn) }
