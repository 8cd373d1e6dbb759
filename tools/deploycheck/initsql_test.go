package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// dbPassword is what the tests give the init scripts as FLUXO_DB_PASSWORD:
// quotes and a backslash, which the scripts must not interpolate as SQL.
const dbPassword = `it's a "p@ss" \word`

// servers starts a throwaway PostgreSQL and MariaDB (internal/testserver's, never
// the machine's) at the same time.
func servers(t *testing.T) (*testserver.Postgres, *testserver.MariaDB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		wg    sync.WaitGroup
		pg    *testserver.Postgres
		my    *testserver.MariaDB
		pgErr error
		myErr error
	)
	wg.Add(2)
	go func() { defer wg.Done(); pg, pgErr = testserver.StartPostgres(ctx, testserver.PostgresOptions{}) }()
	go func() { defer wg.Done(); my, myErr = testserver.StartMariaDB(ctx, testserver.MariaDBOptions{}) }()
	wg.Wait()
	if pg != nil {
		t.Cleanup(func() { pg.Close() })
	}
	if my != nil {
		t.Cleanup(func() { my.Close() })
	}
	if pgErr != nil || myErr != nil {
		t.Fatalf("start servers: postgres: %v; mariadb: %v", pgErr, myErr)
	}
	return pg, my
}

// TestInitSQL runs the init scripts the containers run on first start, as
// the images' entrypoints do (psql -v ON_ERROR_STOP=1 in POSTGRES_DB; the
// mysql client as root), and checks that they give fluxo what it needs:
// the role or user with its privileges, readable tables with a primary
// key, and on PostgreSQL the publication fluxo's config expects.
func TestInitSQL(t *testing.T) {
	t.Setenv("FLUXO_DB_PASSWORD", dbPassword)
	pg, my := servers(t)
	ctx := context.Background()
	root := repoRoot(t)

	t.Run("compose postgres", func(t *testing.T) {
		sql := readFile(t, filepath.Join(root, "deploy/examples/postgres-init.sql"))
		cfg := readFile(t, filepath.Join(root, "deploy/examples/inventory.yaml"))
		checkPostgresInit(t, pg, "inventory", sql, cfg)
	})
	t.Run("kubernetes sidecar", func(t *testing.T) {
		f := &findings{}
		set := loadKube(f, filepath.Join(root, kubeDir), kubeDir)
		wantNone(t, f.problems)
		initCM, fluxoCM := set.configMaps["orders-db-init"], set.configMaps["fluxo-orders"]
		if initCM == nil || fluxoCM == nil {
			t.Fatal("ConfigMaps orders-db-init and fluxo-orders not found")
		}
		checkPostgresInit(t, pg, "orders", initCM.Data["10-fluxo.sql"], fluxoCM.Data["fluxo.yaml"])
	})
	t.Run("compose mysql", func(t *testing.T) {
		// MariaDB stands in for MySQL 8 here: the script is plain SQL that
		// both accept, and the privilege names are checked below.
		if err := my.Exec(ctx, readFile(t, filepath.Join(root, "deploy/examples/mysql-init.sql"))); err != nil {
			t.Fatal(err)
		}
		got := queryValue(t, func(q string) (string, error) { return my.QueryValue(ctx, q) },
			`SELECT GROUP_CONCAT(PRIVILEGE_TYPE ORDER BY PRIVILEGE_TYPE) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = "'fluxo'@'%'"`)
		for _, p := range []string{"SELECT", "RELOAD", "REPLICATION SLAVE", "BINLOG MONITOR"} {
			if !strings.Contains(got, p) {
				t.Errorf("fluxo's privileges %q lack %s", got, p)
			}
		}
		rows := queryValue(t, func(q string) (string, error) { return my.QueryValue(ctx, q) }, "SELECT COUNT(*) FROM shop.orders")
		if rows == "0" {
			t.Error("shop.orders is empty")
		}
	})
}

// checkPostgresInit runs sql in a new database db and checks it against the
// fluxo config cfgYAML (loaded with fluxo's config package).
func checkPostgresInit(t *testing.T, pg *testserver.Postgres, db, sql, cfgYAML string) {
	t.Helper()
	ctx := context.Background()
	if err := pg.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	// The role is cluster-wide: drop it with the database for the next script.
	defer func() {
		if err := pg.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE); DROP ROLE IF EXISTS fluxo"); err != nil {
			t.Error(err)
		}
	}()
	if err := pg.ExecDB(ctx, db, sql); err != nil {
		t.Fatalf("init script: %v", err)
	}
	cfg, err := loadFluxoConfig(db+".yaml", []byte(cfgYAML), "stream", mapEnv(map[string]string{"FLUXO_DB_PASSWORD": dbPassword}))
	if err != nil {
		t.Fatal(err)
	}
	q := func(query string) string {
		return queryValue(t, func(q string) (string, error) {
			r, err := pg.QueryDB(ctx, db, q)
			if err != nil {
				return "", err
			}
			if len(r.Rows) == 0 || len(r.Rows[0]) == 0 {
				return "", nil
			}
			return r.Rows[0][0].String, nil
		}, query)
	}
	if got := q("SELECT rolcanlogin AND rolreplication FROM pg_roles WHERE rolname = 'fluxo'"); got != "t" {
		t.Errorf("role fluxo: LOGIN REPLICATION = %q", got)
	}
	want := "SCRAM-SHA-256$"
	if got := q("SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = 'fluxo'"); got != want {
		t.Errorf("role fluxo's password: %q, want a %s hash", got, want)
	}
	pub := "SELECT puballtables AND pubviaroot FROM pg_publication WHERE pubname = '" + cfg.Source.Publication + "'"
	if got := q(pub); got != "t" {
		t.Errorf("publication %s (fluxo's default for name %s): FOR ALL TABLES with publish_via_partition_root = %q", cfg.Source.Publication, cfg.Name, got)
	}
	tables := "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
	if got := q("SELECT count(*) " + tables + " AND has_table_privilege('fluxo', c.oid, 'SELECT')"); got == "0" {
		t.Error("fluxo can SELECT no table in public")
	}
	if got := q("SELECT count(*) " + tables + " AND (NOT has_table_privilege('fluxo', c.oid, 'SELECT') OR NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))"); got != "0" {
		t.Errorf("%s tables in public are unreadable by fluxo or have no primary key", got)
	}
}

func queryValue(t *testing.T, query func(string) (string, error), q string) string {
	t.Helper()
	v, err := query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
