package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/checkpoint"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// TestPGBadInput: each PostgreSQL setup mistake stops fluxo with an error
// naming the cause and the fix, and nothing is checkpointed.
func TestPGBadInput(t *testing.T) {
	e := newPGEnv(t)
	e.exec("CREATE TABLE a (id INT PRIMARY KEY)")
	e.exec("CREATE TABLE b (id INT PRIMARY KEY)")
	e.exec("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'norepl') THEN CREATE ROLE norepl LOGIN; END IF; END $$")
	e.exec("GRANT SELECT ON ALL TABLES IN SCHEMA public TO norepl")
	tests := []struct {
		name  string
		setup func(cfgSlot string)
		user  string
		want  []string
	}{
		{name: "role without REPLICATION", user: "norepl", want: []string{"REPLICATION", "ALTER ROLE"}},
		{name: "publication misses a table", setup: func(string) {
			e.exec("CREATE PUBLICATION fluxo_t FOR TABLE a")
		}, want: []string{`does not include "public"."b"`, "ALTER PUBLICATION"}},
		{name: "table without replica identity", setup: func(string) {
			e.exec("DROP PUBLICATION IF EXISTS fluxo_t")
			e.exec("CREATE TABLE nokey (v INT)")
		}, want: []string{"public.nokey", "REPLICA IDENTITY FULL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.config("")
			if tc.setup != nil {
				tc.setup(cfg.Source.Slot)
			}
			if tc.user != "" {
				cfg.Source.DSN = e.pg.DSN(tc.user, "", e.dbName)
			}
			err := e.streamError(cfg)
			if err == nil {
				t.Fatal("stream started; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if cp, _ := checkpoint.NewFile(cfg.Checkpoint.Path, cfg.Name).Load(context.Background()); cp != nil {
				t.Errorf("a checkpoint was saved: %s", cp.Describe)
			}
		})
	}
}

// TestPGSlotProblems: a dropped slot and a slot moved past the checkpoint
// by someone else are refused on restart, with the way to re-snapshot.
func TestPGSlotProblems(t *testing.T) {
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"dropped slot", "SELECT pg_drop_replication_slot('%s')", "is gone"},
		{"slot ahead of the checkpoint", "SELECT pg_replication_slot_advance('%s', pg_current_wal_lsn())", "ahead of the checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPGEnv(t)
			e.seedKV()
			cfg := e.config("")
			s := e.startStreamReady(cfg)
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}
			e.exec("UPDATE kv SET v = v + 1")
			e.exec(strings.ReplaceAll(tc.sql, "%s", cfg.Source.Slot))
			err := e.streamError(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "delete the checkpoint file") {
				t.Fatalf("error %v: want %q and how to re-snapshot", err, tc.want)
			}
		})
	}
}

// TestPGWalLevel: a server without wal_level=logical is refused with the
// setting that fixes it.
func TestPGWalLevel(t *testing.T) {
	testserver.Require(t, "postgres")
	pg := testserver.PostgresT(t, testserver.PostgresOptions{ExtraArgs: []string{"-c", "wal_level=replica"}})
	e := newPGEnv(t)
	e.pg = pg
	if err := pg.Exec(context.Background(), "CREATE DATABASE "+e.dbName); err != nil {
		t.Fatal(err)
	}
	err := e.streamError(e.config(""))
	if err == nil || !strings.Contains(err.Error(), "wal_level is replica") || !strings.Contains(err.Error(), "ALTER SYSTEM SET wal_level = logical") {
		t.Fatalf("error %v: want one naming wal_level and the fix", err)
	}
}

// TestPGOtherServer: a checkpoint taken on one server is refused on another
// (a different system identifier), even when a slot of that name exists.
func TestPGOtherServer(t *testing.T) {
	e := newPGEnv(t)
	e.seedKV()
	cfg := e.config("")
	s := e.startStreamReady(cfg)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	other := testserver.PostgresT(t, testserver.PostgresOptions{})
	ctx := context.Background()
	if err := other.Exec(ctx, "CREATE DATABASE "+e.dbName); err != nil {
		t.Fatal(err)
	}
	if err := other.ExecDB(ctx, e.dbName, "CREATE TABLE kv (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(32) NOT NULL); SELECT pg_create_logical_replication_slot('"+cfg.Source.Slot+"', 'pgoutput')"); err != nil {
		t.Fatal(err)
	}
	cfg.Source.DSN = other.DSN("postgres", "", e.dbName)
	err := e.streamError(cfg)
	if err == nil || !strings.Contains(err.Error(), "belongs to server") || !strings.Contains(err.Error(), "delete the checkpoint file") {
		t.Fatalf("error %v: want a refusal naming the other server and how to re-snapshot", err)
	}
}
