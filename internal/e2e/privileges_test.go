package e2e

import (
	"testing"
	"time"
)

// TestLeastPrivilege: the default snapshot (incremental) needs nothing the
// stream does not: MariaDB without RELOAD (SELECT, REPLICATION SLAVE and
// BINLOG MONITOR only), PostgreSQL without CREATE anywhere (REPLICATION and
// SELECT, the publication made by an administrator). A writer commits while
// the tables are read; the topic then replays to the table, every read
// incremental.
func TestLeastPrivilege(t *testing.T) {
	forEachBackend(t, testLeastPrivilege)
}

func testLeastPrivilege(t *testing.T, e *env) {
	e.seedKV()
	e.exec("CREATE TABLE IF NOT EXISTS zz_ready (id INT PRIMARY KEY)")
	const user, pw = "fluxo_least", "least-pw-1"
	if e.pg != nil {
		e.exec(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fluxo_least') THEN
			CREATE ROLE fluxo_least LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END $$`)
		e.exec("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
		e.exec("REVOKE CREATE, TEMPORARY ON DATABASE " + e.dbName + " FROM PUBLIC")
		e.exec("GRANT SELECT ON ALL TABLES IN SCHEMA public TO fluxo_least")
		e.exec("CREATE PUBLICATION fluxo_least FOR TABLE kv, zz_ready")
	} else {
		e.exec("DROP USER IF EXISTS 'fluxo_least'@'%'")
		e.exec("CREATE USER 'fluxo_least'@'%' IDENTIFIED BY '" + pw + "'")
		e.exec("GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'fluxo_least'@'%'")
	}
	cfg := e.config("snapshot:\n  chunk_rows: 32\n")
	cfg.Source.DSN = e.sourceDSN(e.sourceAddr(), user, pw)
	if e.pg != nil {
		cfg.Source.Publication = "fluxo_least"
	}
	w := e.startPacedWriter("kv", 21, 2*time.Millisecond)
	s := e.startStreamReady(cfg)
	e.waitSnapshotDone(cfg)
	w.finish(t)
	recs := e.drain(e.topic("kv"), 3*time.Second)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	compareState(t, replay(recs), e.tableState("kv"))
	checkIncrementalReads(t, recs, nil)
}
