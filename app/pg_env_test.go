package app

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fluxo-cdc/fluxo/sandbox"
)

// sharedPG is one PostgreSQL for the package's tests; each test uses its own
// database (and slot) in it.
var sharedPG struct {
	once sync.Once
	pg   *sandbox.Postgres
	err  error
}

// newPGEnv is newEnv for PostgreSQL.
func newPGEnv(t *testing.T) *env {
	t.Helper()
	sandbox.Require(t, "postgres")
	sharedPG.once.Do(func() {
		sharedPG.pg, sharedPG.err = sandbox.StartPostgres(context.Background(), sandbox.PostgresOptions{})
	})
	if sharedPG.err != nil {
		t.Fatalf("start postgres: %v", sharedPG.err)
	}
	e := &env{t: t, pg: sharedPG.pg, dir: t.TempDir()}
	e.dbName = "pg_" + strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	if len(e.dbName) > 50 {
		e.dbName = e.dbName[:50]
	}
	ctx := context.Background()
	e.pg.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'fluxo_"+e.dbName+"'")
	if err := e.pg.Exec(ctx, "DROP DATABASE IF EXISTS "+e.dbName+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	if err := e.pg.Exec(ctx, "CREATE DATABASE "+e.dbName); err != nil {
		t.Fatal(err)
	}
	e.kafka, e.brokers = sandbox.KafkaT(t)
	_, e.regURL = sandbox.RegistryT(t)
	return e
}

// pgConn opens a connection to the test's PostgreSQL database.
func (e *env) pgConn() *pgx.Conn {
	e.t.Helper()
	c, err := pgx.Connect(context.Background(), e.pg.DSN("postgres", "", e.dbName))
	if err != nil {
		e.t.Fatalf("connect: %v", err)
	}
	e.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func (e *env) pgExec(q string, args ...any) {
	e.t.Helper()
	c, err := pgx.Connect(context.Background(), e.pg.DSN("postgres", "", e.dbName))
	if err != nil {
		e.t.Fatalf("connect: %v", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), q, args...); err != nil {
		e.t.Fatalf("exec %q: %v", q, err)
	}
}
