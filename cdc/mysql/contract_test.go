package mysql_test

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/cdctest"
	"github.com/fluxo-cdc/fluxo/cdc/mysql"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// TestContract holds the MySQL/MariaDB source to the cdc.Source contract,
// on one MariaDB server shared by the cases.
func TestContract(t *testing.T) {
	m := testserver.MariaDBT(t, testserver.MariaDBOptions{})
	cdctest.RunSource(t, &harness{m: m})
}

// harness is a cdctest.Harness on a MariaDB server: a fixture is a
// database, with a server id of its own.
type harness struct {
	m *testserver.MariaDB
	n int // fixtures made so far
}

// knownBugs are the contract cases this source fails, by subtest name,
// with the bug: they are skipped, saying so, until it is fixed. Empty: a
// bug found goes here with its case until the fix lands.
var knownBugs = map[string]string{}

// Fixture implements cdctest.Harness; a case of knownBugs is skipped.
func (h *harness) Fixture(t *testing.T) cdctest.Fixture {
	if bug, ok := knownBugs[path.Base(t.Name())]; ok {
		t.Skip("BUG: " + bug)
	}
	h.n++
	f := &fixture{m: h.m, db: cdctest.FixtureName(h.n, t.Name()), serverID: uint32(9000 + h.n)}
	f.exec(t, "", "CREATE DATABASE `"+f.db+"`")
	t.Cleanup(func() { f.exec(t, "", "DROP DATABASE IF EXISTS `"+f.db+"`") })
	return f
}

// fixture is one database of the harness's server.
type fixture struct {
	m        *testserver.MariaDB
	db       string
	serverID uint32
}

// Table implements cdctest.Fixture.
func (f *fixture) Table(name string) cdc.TableID { return cdc.TableID{Schema: f.db, Name: name} }

// Exec implements cdctest.Fixture.
func (f *fixture) Exec(t *testing.T, stmts ...string) {
	t.Helper()
	f.exec(t, f.db, stmts...)
}

// exec runs stmts on one root connection to database db ("": none).
func (f *fixture) exec(t *testing.T, db string, stmts ...string) {
	t.Helper()
	c, err := client.Connect(f.m.Addr(), "root", "", db)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	for _, q := range append([]string{"SET NAMES utf8mb4"}, stmts...) {
		if _, err := c.Execute(q); err != nil {
			t.Fatalf("exec %q: %v", q, err)
		}
	}
}

// Open implements cdctest.Fixture.
func (f *fixture) Open(t *testing.T, o cdctest.OpenOptions) cdc.Source {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, err := mysql.Open(ctx, mysql.Options{
		Conn:     mysql.Conn{Host: "127.0.0.1", Port: uint16(f.m.Port), User: "root"},
		ServerID: f.serverID, Filter: dbFilter{f.db, o.Tables}, Snapshot: o.Snapshot, Checkpoint: o.Checkpoint, ChunkRows: o.ChunkRows, Snapshots: o.Snapshots,
		SignalTable: f.signalTable(o.SignalTable), Health: o.Health,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return src
}

// Sever implements cdctest.Fixture: it kills every binlog dump thread of
// the server (the cases run one at a time, so there is the fixture's
// source's only).
func (f *fixture) Sever(t *testing.T) {
	t.Helper()
	c, err := client.Connect(f.m.Addr(), "root", "", "")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	r, err := c.Execute("SELECT id FROM information_schema.processlist WHERE command LIKE 'Binlog Dump%'")
	if err != nil {
		t.Fatalf("list dump threads: %v", err)
	}
	for i := range r.Values {
		id, _ := r.GetInt(i, 0)
		if _, err := c.Execute(fmt.Sprintf("KILL %d", id)); err != nil {
			t.Logf("kill dump thread %d: %v", id, err)
		}
	}
}

// signalTable is the id of the fixture's table name, or none.
func (f *fixture) signalTable(name string) cdc.TableID {
	if name == "" {
		return cdc.TableID{}
	}
	return f.Table(name)
}

// dbFilter captures the tables of one database: only those named, when
// any are.
type dbFilter struct {
	db   string
	only []string
}

// Match implements cdc.Filter.
func (f dbFilter) Match(schema, table string) bool {
	return schema == f.db && (f.only == nil || slices.Contains(f.only, table))
}

// ExcludedColumn implements cdc.Filter.
func (dbFilter) ExcludedColumn(string, string, string) bool { return false }

// KeyColumns implements cdc.Filter.
func (dbFilter) KeyColumns(string, string) []string { return nil }
