package cdc

import "strconv"

// The change order: a source position rendered so that positions sort as
// strings in the order the source committed them. fluxo sink writes it as
// each change row's _position, and a full load's view records where its
// changes start (DumpInfo.ChangesFrom), so that a query can take the
// changes after a full load.

// BinlogOrder is the change order of row row of the binlog event at pos of
// file (the binlog is in commit order): "file:pos:row", fixed width.
func BinlogOrder(file string, pos, row int64) string {
	return string(AppendBinlogOrder(make([]byte, 0, len(file)+32), file, pos, row))
}

// AppendBinlogOrder appends BinlogOrder(file, pos, row) to b.
func AppendBinlogOrder(b []byte, file string, pos, row int64) []byte {
	b = appendPadded(append(append(b, file...), ':'), pos, 10, 20)
	return appendPadded(append(b, ':'), row, 10, 10)
}

// BinlogStart is the smallest change order of the events at or after pos
// of file.
func BinlogStart(file string, pos int64) string {
	return string(appendPadded(append([]byte(file), ':'), pos, 10, 20))
}

// WALOrder is the change order of a PostgreSQL change at lsn in the
// transaction that commits at commit: "commit:lsn", 16 hex digits each.
func WALOrder(commit, lsn uint64) string {
	return string(AppendWALOrder(make([]byte, 0, 33), commit, lsn))
}

// AppendWALOrder appends WALOrder(commit, lsn) to b.
func AppendWALOrder(b []byte, commit, lsn uint64) []byte {
	b = appendPadded(b, int64(commit), 16, 16)
	return appendPadded(append(b, ':'), int64(lsn), 16, 16)
}

// WALStart is the smallest change order of the transactions that commit at
// or after lsn.
func WALStart(lsn uint64) string { return string(appendPadded(nil, int64(lsn), 16, 16)) }

// appendPadded appends n in base (upper-case digits), zero-padded to width
// digits, as fmt's %0*d and %0*X do; base 16 renders n as unsigned.
func appendPadded(b []byte, n int64, base, width int) []byte {
	var digits []byte
	var buf [24]byte
	if base == 16 {
		digits = strconv.AppendUint(buf[:0], uint64(n), 16)
		for i, c := range digits {
			if c >= 'a' {
				digits[i] = c - 'a' + 'A'
			}
		}
	} else {
		if n < 0 {
			b, n, width = append(b, '-'), -n, width-1 // as %0*d: the sign counts in the width
		}
		digits = strconv.AppendUint(buf[:0], uint64(n), 10)
	}
	for i := len(digits); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, digits...)
}
