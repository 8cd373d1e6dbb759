package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// dbServer says how to reach the MariaDB test server and how it identifies.
type dbServer struct {
	Host     string
	Port     uint16
	Identity string // "server_id=N", as fluxo's checkpoints name it
	Pid      int    // mariadbd's process id, for its CPU time
}

// parseResult is what the parse-only pass read.
type parseResult struct {
	Ops     opCounts
	Txs     int // XID events
	Elapsed time.Duration
	RSS     rssStats
	CPU     []time.Duration // this process, broker, mariadbd, the rest of the machine
}

// syncerConfig is the BinlogSyncer configuration fluxo's source uses
// (cdc/mysql/stream.go), so that the parse-only pass decodes the same way.
func syncerConfig(db dbServer, serverID uint32) replication.BinlogSyncerConfig {
	return replication.BinlogSyncerConfig{
		ServerID: serverID, Flavor: gomysql.MariaDBFlavor, Host: db.Host, Port: db.Port, User: "root",
		ParseTime: true, HeartbeatPeriod: 10 * time.Second, ReadTimeout: 30 * time.Second,
		DisableRetrySync: true, Logger: slog.New(slog.DiscardHandler), EventCacheCount: 1024,
	}
}

// parseOnly reads the binlog from start to end with go-mysql alone,
// counting row changes, and times it.
func parseOnly(ctx context.Context, db dbServer, start, end binlogPos, pids []int) (parseResult, error) {
	var res parseResult
	gset, err := gomysql.ParseGTIDSet(gomysql.MariaDBFlavor, start.GTID)
	if err != nil {
		return res, err
	}
	rss, cpu := startRSS(100*time.Millisecond), startCPU(pids...)
	t0 := time.Now()
	syncer := replication.NewBinlogSyncer(syncerConfig(db, 9100))
	defer syncer.Close()
	streamer, err := syncer.StartSyncGTID(gset)
	if err == nil {
		err = countUntil(ctx, streamer, end, &res)
	}
	res.Elapsed, res.CPU, res.RSS = time.Since(t0), cpu.Used(), rss.Stop()
	return res, err
}

// countUntil reads events until the one that ends at end, counting rows
// and transactions into res.
func countUntil(ctx context.Context, s *replication.BinlogStreamer, end binlogPos, res *parseResult) error {
	file := ""
	for {
		ev, err := s.GetEvent(ctx)
		if err != nil {
			return fmt.Errorf("parse-only: %w", err)
		}
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			file = string(e.NextLogName)
		case *replication.XIDEvent:
			res.Txs++
		case *replication.RowsEvent:
			countRows(ev.Header.EventType, len(e.Rows), &res.Ops)
		}
		if file == end.File && ev.Header.LogPos >= end.Pos {
			return nil
		}
	}
}

// countRows adds the row changes of a rows event of type t holding n row
// images (two per update).
func countRows(t replication.EventType, n int, c *opCounts) {
	switch t {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		c.Inserts += int64(n)
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
		replication.PARTIAL_UPDATE_ROWS_EVENT, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
		c.Updates += int64(n / 2)
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		c.Deletes += int64(n)
	}
}
