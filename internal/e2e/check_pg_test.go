package e2e

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/postgres"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// TestCheckPostgres breaks a PostgreSQL setup one way at a time: fluxo
// check must name the problem with the statement that fixes it, and pass
// once that statement has run.
func TestCheckPostgres(t *testing.T) {
	e := newPGEnv(t)
	e.exec("CREATE TABLE a (id INT PRIMARY KEY, v INT)")
	e.exec("CREATE TABLE b (id INT PRIMARY KEY, v INT)")
	cfg := e.checkConfig()
	t.Run("healthy", func(t *testing.T) {
		r := runCheck(t, cfg)
		r.allOK()
		r.want("source.publication", cdc.CheckOK, "fluxo stream creates it")
		r.want("source.slot", cdc.CheckOK, "fluxo stream creates it")
	})
	t.Run("unprivileged role", func(t *testing.T) {
		e.exec("CREATE ROLE chk LOGIN PASSWORD 'sekret-pg-1'")
		t.Cleanup(func() {
			e.exec("DROP PUBLICATION IF EXISTS fluxo_t")
			e.exec("DROP OWNED BY chk")
			e.exec("DROP ROLE chk")
		})
		c := *cfg
		c.Source.DSN = e.pg.DSN("chk", "sekret-pg-1", e.dbName)
		r := runCheck(t, &c)
		r.hidden("sekret-pg-1")
		r.want("source.replication_role", cdc.CheckFail, `ALTER ROLE "chk" REPLICATION;`)
		r.want("source.replication_connection", cdc.CheckSkip)
		r.want("source.select", cdc.CheckFail, `GRANT SELECT ON "public"."a", "public"."b" TO "chk";`)
		r.want("source.publication", cdc.CheckFail, "does not own", `CREATE PUBLICATION "fluxo_t" FOR TABLE "public"."a", "public"."b"`)
		for _, q := range r.fixSQL("source.replication_role", "source.select", "source.publication") {
			e.exec(q)
		}
		r = runCheck(t, &c)
		r.allOK()
		r.want("source.publication", cdc.CheckOK, "publishes all 2 tables")
	})
	t.Run("keyless table", func(t *testing.T) {
		e.exec("CREATE TABLE nokey (v INT)")
		t.Cleanup(func() { e.exec("DROP TABLE nokey") })
		r := runCheck(t, cfg)
		r.want("source.replica_identity", cdc.CheckFail, "public.nokey", `ALTER TABLE "public"."nokey" REPLICA IDENTITY FULL;`)
		for _, q := range r.fixSQL("source.replica_identity") {
			e.exec(q)
		}
		runCheck(t, cfg).allOK()
	})
	t.Run("publication misses a table", func(t *testing.T) {
		e.exec("CREATE PUBLICATION fluxo_t FOR TABLE a")
		t.Cleanup(func() { e.exec("DROP PUBLICATION fluxo_t") })
		r := runCheck(t, cfg)
		r.want("source.publication", cdc.CheckFail, `does not include "public"."b"`, `ALTER PUBLICATION "fluxo_t" ADD TABLE "public"."b";`)
		for _, q := range r.fixSQL("source.publication") {
			e.exec(q)
		}
		runCheck(t, cfg).allOK()
	})
	t.Run("checkpoint and slot", func(t *testing.T) { testCheckPGCheckpoint(t, e) })
	t.Run("stream running", func(t *testing.T) {
		c := e.checkConfig()
		s := e.startStreamReady(c)
		r := runCheck(t, c)
		r.want("source.slot", cdc.CheckWarn, "is in use by process", "source.slot")
		r.want("source.resume", cdc.CheckOK)
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
		os.Remove(c.Checkpoint.Path)
		e.exec("DROP PUBLICATION fluxo_t")
		e.exec("DROP TABLE zz_ready")
	})
	t.Run("wrong database", func(t *testing.T) {
		c := *cfg
		c.Source.DSN = e.pg.DSN("postgres", "", "nosuchdb")
		r := runCheck(t, &c)
		r.want("source.connect", cdc.CheckFail, "does not exist")
		r.want("source.wal_level", cdc.CheckSkip, "needs source.connect")
	})
}

// testCheckPGCheckpoint: a checkpoint its slot can resume from, then the
// slot dropped.
func testCheckPGCheckpoint(t *testing.T, e *env) {
	ctx := context.Background()
	cfg := e.checkConfig()
	slot := cfg.Source.Slot
	e.exec("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')")
	sys, err := e.pg.QueryValue(ctx, "SELECT system_identifier::text FROM pg_control_system()")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.pg.Query(ctx, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '"+slot+"'")
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("slot: %v %v", res, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.Rows[0][0].String)
	if err != nil {
		t.Fatal(err)
	}
	saveCheckpoint(t, cfg, cdc.ConnectorPostgres, &postgres.Position{SystemID: sys, Slot: slot, LSN: lsn, SnapshotDone: true})
	t.Cleanup(func() { os.Remove(cfg.Checkpoint.Path) })
	r := runCheck(t, cfg)
	r.allOK()
	r.want("source.slot", cdc.CheckOK, "exists, confirmed up to "+lsn.String())
	r.want("source.resume", cdc.CheckOK, lsn.String())
	e.exec("SELECT pg_drop_replication_slot('" + slot + "')")
	runCheck(t, cfg).want("source.resume", cdc.CheckFail, "is gone", "delete the checkpoint file")
	os.Remove(cfg.Checkpoint.Path) // the fix
	r = runCheck(t, cfg)
	r.allOK()
	r.want("checkpoint", cdc.CheckOK, "none saved")
}

// TestCheckPGServerSettings: a server without wal_level=logical, and one
// without a free replication slot, are reported with the statement that
// fixes them. The test server sets wal_level on the command line, which ALTER
// SYSTEM cannot override, so the test runs that statement but cannot
// restart into it; dropping the slot that is in the way passes.
func TestCheckPGServerSettings(t *testing.T) {
	testserver.Require(t, "postgres")
	pg := testserver.PostgresT(t, testserver.PostgresOptions{ExtraArgs: []string{"-c", "wal_level=replica", "-c", "max_replication_slots=1"}})
	e := newPGEnv(t)
	e.pg = pg
	if err := pg.Exec(context.Background(), "CREATE DATABASE "+e.dbName); err != nil {
		t.Fatal(err)
	}
	e.exec("CREATE TABLE a (id INT PRIMARY KEY)")
	e.exec("SELECT pg_create_physical_replication_slot('standby1')")
	r := runCheck(t, e.checkConfig())
	r.want("source.wal_level", cdc.CheckFail, "wal_level is replica", "ALTER SYSTEM SET wal_level = logical;", "restart")
	r.want("source.replication_slots", cdc.CheckFail, "1 of max_replication_slots 1 used", "inactive: standby1",
		"pg_drop_replication_slot", "ALTER SYSTEM SET max_replication_slots = 2;")
	r.allOK("source.wal_level", "source.replication_slots")
	for _, q := range r.fixSQL("source.wal_level", "source.replication_slots") {
		e.exec(q) // accepted; takes effect on a restart
	}
	e.exec("SELECT pg_drop_replication_slot('standby1')")
	r = runCheck(t, e.checkConfig())
	r.want("source.replication_slots", cdc.CheckOK, "0 of max_replication_slots 1 used")
}
