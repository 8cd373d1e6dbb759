package mysql

import (
	"context"
	"fmt"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

// Lag is how far a checkpoint is behind its server.
type Lag struct {
	// Server is the server's current binlog file:offset and GTID set.
	File    string
	Offset  uint32
	GTIDSet string
	// SameServer is false when the checkpoint was taken on another server
	// (or flavour); the figures below are then unknown (-1).
	SameServer bool
	// Bytes is the binlog written after the checkpoint, or -1 when unknown
	// (the checkpoint's file was purged or rotated away).
	Bytes int64
	// Transactions is the number of GTIDs executed after the checkpoint, or
	// -1 when unknown (GTIDs off, or sets that do not compare).
	Transactions int64
}

// ReadLag connects to c and measures how far the checkpoint (a Position
// saved with MarshalBinary) is behind the server.
func ReadLag(ctx context.Context, c Conn, checkpoint []byte) (Lag, error) {
	p, err := ParsePosition(checkpoint)
	if err != nil {
		return Lag{}, err
	}
	conn, err := dial(ctx, c)
	if err != nil {
		return Lag{}, err
	}
	defer conn.Close()
	si, err := readServerInfo(conn)
	if err != nil {
		return Lag{}, err
	}
	lag := Lag{Bytes: -1, Transactions: -1}
	if lag.File, lag.Offset, lag.GTIDSet, err = binlogPosition(conn, si); err != nil {
		return lag, err
	}
	lag.SameServer = p.Flavor == si.flavor && p.ServerID == si.identity
	if !lag.SameServer {
		return lag, nil
	}
	if lag.Bytes, err = binlogBytesBetween(conn, p.File, p.Offset, lag.File, lag.Offset); err != nil {
		return lag, err
	}
	lag.Transactions = gtidsBehind(si.flavor, p.GTIDSet, lag.GTIDSet)
	return lag, nil
}

// binlogBytesBetween sums the binlog bytes from file:off to toFile:toOff,
// or returns -1 when file is no longer listed.
func binlogBytesBetween(conn *client.Conn, file string, off uint32, toFile string, toOff uint32) (int64, error) {
	if file == toFile {
		return max(int64(toOff)-int64(off), 0), nil
	}
	r, err := conn.Execute("SHOW BINARY LOGS")
	if err != nil {
		return -1, explainPrivilege(err, "REPLICATION CLIENT (MySQL) or BINLOG MONITOR (MariaDB)")
	}
	defer r.Close()
	var n int64
	counting := false
	for i := range r.Values {
		name := cell(r, i, 0)
		size, _ := r.GetInt(i, 1)
		switch {
		case name == file:
			counting, n = true, size-int64(off)
		case name == toFile && counting:
			return n + int64(toOff), nil
		case counting:
			n += size
		}
	}
	return -1, nil
}

// gtidsBehind counts the transactions in cur that are not in cp, or -1
// when that is not computable.
func gtidsBehind(flavor, cp, cur string) int64 {
	if cp == "" || cur == "" {
		return -1
	}
	if flavor == gomysql.MariaDBFlavor {
		return mariadbBehind(cp, cur)
	}
	have, err1 := gomysql.ParseMysqlGTIDSet(cur)
	want, err2 := gomysql.ParseMysqlGTIDSet(cp)
	if err1 != nil || err2 != nil || !have.Contain(want) {
		return -1
	}
	return countGTIDs(*have.(*gomysql.MysqlGTIDSet)) - countGTIDs(*want.(*gomysql.MysqlGTIDSet))
}

func countGTIDs(s gomysql.MysqlGTIDSet) int64 {
	var n int64
	for _, tags := range s {
		for _, ivs := range tags {
			for _, iv := range ivs {
				n += iv.Stop - iv.Start // Stop is exclusive
			}
		}
	}
	return n
}

// mariadbBehind sums, per replication domain, how far cur's sequence
// number is past cp's.
func mariadbBehind(cp, cur string) int64 {
	have, err1 := gomysql.ParseMariadbGTIDSet(cur)
	want, err2 := gomysql.ParseMariadbGTIDSet(cp)
	if err1 != nil || err2 != nil {
		return -1
	}
	var n int64
	for d, g := range have.(*gomysql.MariadbGTIDSet).Sets {
		var from uint64
		if w, ok := want.(*gomysql.MariadbGTIDSet).Sets[d]; ok {
			from = w.SequenceNumber
		}
		if g.SequenceNumber < from {
			return -1
		}
		n += int64(g.SequenceNumber - from)
	}
	return n
}

// String describes the lag for fluxo status.
func (l Lag) String() string {
	switch {
	case !l.SameServer:
		return "unknown: the server is not the one the checkpoint was taken on"
	case l.Bytes == 0:
		return "none: the checkpoint is at the server's current binlog position"
	}
	s := "unknown binlog bytes (the checkpoint's binlog file is gone)"
	if l.Bytes > 0 {
		s = fmt.Sprintf("%d binlog bytes", l.Bytes)
	}
	switch {
	case l.Transactions == 1:
		s += ", 1 transaction"
	case l.Transactions >= 0:
		s += fmt.Sprintf(", %d transactions", l.Transactions)
	}
	return s + " behind"
}
