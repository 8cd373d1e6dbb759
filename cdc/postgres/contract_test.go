package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/cdctest"
	"github.com/fluxo-cdc/fluxo/cdc/postgres"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// TestContract holds the PostgreSQL source to the cdc.Source contract, on
// one server shared by the cases.
func TestContract(t *testing.T) {
	p := testserver.PostgresT(t, testserver.PostgresOptions{})
	if err := p.Exec(context.Background(), "CREATE DATABASE contract"); err != nil {
		t.Fatal(err)
	}
	cdctest.RunSource(t, &harness{dsn: p.SuperuserDSN("contract")})
}

// harness is a cdctest.Harness on a PostgreSQL server: a fixture is a
// schema of database contract, with a slot and a publication of its own.
type harness struct {
	dsn string
	n   int // fixtures made so far
}

// Dialect implements cdctest.Dialected.
func (h *harness) Dialect() cdctest.Dialect {
	return cdctest.Dialect{Binary: "bytea", BinaryLiteral: func(b []byte) string { return fmt.Sprintf("'\\x%x'::bytea", b) }}
}

// Limits implements cdctest.Limited: the suite's tables have REPLICA
// IDENTITY DEFAULT, so updates carry no old row and deletes only its key.
func (h *harness) Limits() cdctest.Limits {
	return cdctest.Limits{KeyOnlyBefore: true}
}

// Fixture implements cdctest.Harness.
func (h *harness) Fixture(t *testing.T) cdctest.Fixture {
	h.n++
	f := &fixture{dsn: h.dsn, name: cdctest.FixtureName(h.n, t.Name())}
	f.exec(t, "CREATE SCHEMA "+f.name)
	t.Cleanup(func() { f.drop(t) })
	return f
}

// fixture is one schema of the harness's database; its slot and
// publication have its name.
type fixture struct {
	dsn  string
	name string
}

// Table implements cdctest.Fixture.
func (f *fixture) Table(name string) cdc.TableID { return cdc.TableID{Schema: f.name, Name: name} }

// Exec implements cdctest.Fixture: the statements run with the fixture's
// schema first on the search path.
func (f *fixture) Exec(t *testing.T, stmts ...string) {
	t.Helper()
	f.exec(t, append([]string{"SET search_path TO " + f.name}, stmts...)...)
}

// exec runs stmts on one connection.
func (f *fixture) exec(t *testing.T, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, f.dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close(context.Background())
	for _, q := range stmts {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("exec %q: %v", q, err)
		}
	}
}

// drop removes the slot (once its walsender let go of it), the publication
// and the schema.
func (f *fixture) drop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, f.dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close(context.Background())
	for {
		var left int
		err := c.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1
			AND (active OR pg_drop_replication_slot(slot_name) IS NULL)`, f.name).Scan(&left)
		if err == nil && left == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("drop slot %s: still in use after 10s (%v)", f.name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, q := range []string{"DROP PUBLICATION IF EXISTS " + f.name, "DROP SCHEMA " + f.name + " CASCADE"} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// Open implements cdctest.Fixture. Heartbeats and status updates come
// often, so that the cases meet empty commits and confirmed positions.
func (f *fixture) Open(t *testing.T, o cdctest.OpenOptions) cdc.Source {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	filter := schemaFilter{f.name, o.Tables}
	f.publish(t, filter)
	src, err := postgres.Open(ctx, postgres.Options{
		DSN: f.dsn, Slot: f.name, Publication: f.name, Filter: filter, ChunkRows: o.ChunkRows, Snapshots: o.Snapshots,
		SignalTable: f.signalTable(o.SignalTable),
		Snapshot:    o.Snapshot, Checkpoint: o.Checkpoint, Heartbeat: 2 * time.Second, StatusInterval: 100 * time.Millisecond, Health: o.Health,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return src
}

// Sever implements cdctest.Fixture: it terminates the walsender of the
// fixture's slot.
func (f *fixture) Sever(t *testing.T) {
	t.Helper()
	f.exec(t, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '"+f.name+"' AND active")
}

// signalTable is the id of the fixture's table name, or none.
func (f *fixture) signalTable(name string) cdc.TableID {
	if name == "" {
		return cdc.TableID{}
	}
	return f.Table(name)
}

// publish adds the tables filter captures to the fixture's publication
// when it exists, as an operator does before restarting fluxo with tables
// added to source.tables (fluxo creates a publication, never alters one).
func (f *fixture) publish(t *testing.T, filter schemaFilter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, f.dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close(context.Background())
	rows, err := c.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1
		AND EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)
		AND tablename NOT IN (SELECT tablename FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $1)`, f.name)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if filter.Match(f.name, n) {
			if _, err := c.Exec(ctx, "ALTER PUBLICATION "+f.name+" ADD TABLE "+f.name+"."+n); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// schemaFilter captures the tables of one schema: only those named, when
// any are.
type schemaFilter struct {
	schema string
	only   []string
}

// Match implements cdc.Filter.
func (f schemaFilter) Match(schema, table string) bool {
	return schema == f.schema && (f.only == nil || slices.Contains(f.only, table))
}

// ExcludedColumn implements cdc.Filter.
func (schemaFilter) ExcludedColumn(string, string, string) bool { return false }

// KeyColumns implements cdc.Filter.
func (schemaFilter) KeyColumns(string, string) []string { return nil }
