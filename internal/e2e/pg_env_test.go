package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// sharedPG is one PostgreSQL for the package's tests; each test uses its own
// database (and slot) in it.
var sharedPG struct {
	once sync.Once
	pg   *testserver.Postgres
	err  error
}

// newPGEnv is newEnv for PostgreSQL.
func newPGEnv(t *testing.T) *env {
	t.Helper()
	return newPGEnvEncoding(t, "")
}

// newPGEnvEncoding is newPGEnv with the test's database in encoding enc
// (LATIN1, WIN1252, ...); "" means the cluster's UTF8.
func newPGEnvEncoding(t *testing.T, enc string) *env {
	t.Helper()
	testserver.Require(t, "postgres")
	sharedPG.once.Do(func() {
		sharedPG.pg, sharedPG.err = testserver.StartPostgres(context.Background(), testserver.PostgresOptions{})
	})
	if sharedPG.err != nil {
		t.Fatalf("start postgres: %v", sharedPG.err)
	}
	e := &env{t: t, pg: sharedPG.pg, dir: t.TempDir(), schemas: new(sync.Map)}
	e.dbName = "pg_" + strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	if len(e.dbName) > 50 {
		e.dbName = e.dbName[:50]
	}
	ctx := context.Background()
	e.pg.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'fluxo_"+e.dbName+"'")
	if err := e.pg.Exec(ctx, "DROP DATABASE IF EXISTS "+e.dbName+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	create := "CREATE DATABASE " + e.dbName
	if enc != "" {
		create += " ENCODING '" + enc + "' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
	}
	if err := e.pg.Exec(ctx, create); err != nil {
		t.Fatal(err)
	}
	pgDropSlotAtEnd(e)
	e.kafka, e.brokers = testserver.KafkaT(t)
	_, e.regURL = testserver.RegistryT(t)
	return e
}

// pgDropSlotAtEnd drops the test's replication slot when the test ends,
// after its streams stopped (cleanups run last in, first out, so newPGEnv
// registers it first): the shared server has room for 10 slots.
func pgDropSlotAtEnd(e *env) {
	t, slot := e.t, "fluxo_"+e.dbName
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, e.pg.DSN("postgres", "", "postgres"))
		if err != nil {
			t.Logf("drop slot %s: %v", slot, err)
			return
		}
		defer conn.Close(context.Background())
		for ctx.Err() == nil { // the walsender may hold the slot a moment longer
			var left int
			err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1
				AND (active OR pg_drop_replication_slot(slot_name) IS NULL)`, slot).Scan(&left)
			if err == nil && left == 0 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("slot %s is still in use after 10s; not dropped", slot)
	})
}

// clientDSN is the DSN of the test's own connections to its PostgreSQL
// database: UTF-8 text whatever the database's encoding, as a Go
// application sets it (fluxo's configs use the plain DSN, to prove that
// fluxo sets it itself).
func (e *env) clientDSN() string {
	return e.pg.DSN("postgres", "", e.dbName) + "&client_encoding=UTF8"
}

// pgConn opens a connection to the test's PostgreSQL database.
func (e *env) pgConn() *pgx.Conn {
	e.t.Helper()
	c, err := pgx.Connect(context.Background(), e.clientDSN())
	if err != nil {
		e.t.Fatalf("connect: %v", err)
	}
	e.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func (e *env) pgExec(q string, args ...any) {
	e.t.Helper()
	c, err := pgx.Connect(context.Background(), e.clientDSN())
	if err != nil {
		e.t.Fatalf("connect: %v", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), q, args...); err != nil {
		e.t.Fatalf("exec %q: %v", q, err)
	}
}
