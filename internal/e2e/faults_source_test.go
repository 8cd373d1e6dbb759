package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// TestSourceUnreachable cuts fluxo off its database (every connection
// closed, new ones refused) for longer than the first reconnect delays
// while a writer keeps committing on the database: the stream must back
// off, reconnect from its position and lose nothing.
func TestSourceUnreachable(t *testing.T) {
	forEachBackend(t, testSourceUnreachable)
}

func testSourceUnreachable(t *testing.T, e *env) {
	e.seedKV()
	p := testserver.ProxyT(t, e.sourceAddr())
	cfg := e.configVia(p.Addr(), e.superuser(), "")
	s := e.startStreamReady(cfg)
	w := e.startPacedWriter("kv", 9, 2*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	p.Cut()
	time.Sleep(1500 * time.Millisecond) // let the last acknowledged position be saved
	frozen, before := e.checkpointOf(cfg), w.progress()
	time.Sleep(3500 * time.Millisecond) // reconnect attempts after 0.2, 0.6, 1.4, 3.0 and 6.2 s
	if w.progress() == before {
		t.Fatal("the writer committed nothing while fluxo was cut off")
	}
	if exited, err := s.exited(); exited {
		t.Fatalf("stream exited while the source was unreachable: %v", err)
	}
	restore(t, p)
	back := time.Now()
	e.waitCheckpointPast(cfg, frozen, 20*time.Second)
	t.Logf("streaming again %s after the source came back", time.Since(back).Round(time.Millisecond))
	w.finish(t)
	recs := e.drain(e.topic("kv"), 2*time.Second)
	if err := s.stop(); err != nil {
		t.Fatalf("stream after the source came back: %v", err)
	}
	compareState(t, replay(recs), e.tableState("kv"))
}

// TestSourceHistoryLost: while fluxo is cut off, the history it has not
// read yet disappears (MariaDB purges the binlogs; PostgreSQL's slot is
// dropped). On reconnecting the stream must stop with the cause and the
// way to re-snapshot, and leave the checkpoint where it was.
func TestSourceHistoryLost(t *testing.T) {
	forEachBackend(t, testSourceHistoryLost)
}

func testSourceHistoryLost(t *testing.T, e *env) {
	e.seedKV()
	p := testserver.ProxyT(t, e.sourceAddr())
	cfg := e.configVia(p.Addr(), e.superuser(), "")
	s := e.startStreamReady(cfg)
	p.Cut()
	time.Sleep(1500 * time.Millisecond) // let the last acknowledged position be saved
	before := e.checkpointOf(cfg)
	e.insertRows("kv", 3001, 3010) // changes fluxo will never be able to read
	want := []string{"purged", "delete the checkpoint file"}
	if e.pg != nil {
		e.dropSlot(cfg.Source.Slot)
		want = []string{cfg.Source.Slot, "gone", "delete the checkpoint file"}
	} else {
		e.purgeBinlogs()
	}
	restore(t, p)
	err := s.waitExit(t, 30*time.Second)
	wantMention(t, err, want...)
	if after := e.checkpointOf(cfg); !sameCheckpoint(after, before) {
		t.Errorf("checkpoint moved from %s to %s", describeCP(before), describeCP(after))
	}
}

// TestSourceCredentials: a wrong password stops fluxo at once with the
// cause and the fix; a password changed while fluxo is disconnected stops
// it on reconnecting, without moving the checkpoint, and a restart with the
// new password resumes without loss.
func TestSourceCredentials(t *testing.T) {
	forEachBackend(t, testSourceCredentials)
}

func testSourceCredentials(t *testing.T, e *env) {
	e.passwordUser("pw-one")
	cause := "Access denied"
	if e.pg != nil {
		cause = "password authentication failed"
	}
	e.seedKV()
	t.Run("wrong password at start", func(t *testing.T) {
		cfg := e.configVia(e.sourceAddr(), "fluxo_pw", "not-the-password")
		start := time.Now()
		err := e.streamError(cfg)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("the refusal took %s: a wrong password must not be retried", d)
		}
		wantMention(t, err, cause, "check the user and password")
		if err != nil && strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("error %q shows the password", err)
		}
		if cp := e.checkpointOf(cfg); cp != nil {
			t.Errorf("a checkpoint was saved: %s", cp.Describe)
		}
	})
	t.Run("password changed while disconnected", func(t *testing.T) {
		p := testserver.ProxyT(t, e.sourceAddr())
		cfg := e.configVia(p.Addr(), "fluxo_pw", "pw-one")
		s := e.startStreamReady(cfg)
		p.Cut()
		time.Sleep(1500 * time.Millisecond)
		before := e.checkpointOf(cfg)
		e.setPassword("pw-two")
		e.insertRows("kv", 3001, 3010)
		restore(t, p)
		err := s.waitExit(t, 30*time.Second)
		wantMention(t, err, cause, "check the user and password")
		if after := e.checkpointOf(cfg); !sameCheckpoint(after, before) {
			t.Errorf("checkpoint moved from %s to %s", describeCP(before), describeCP(after))
		}
		cfg.Source.DSN = e.sourceDSN(p.Addr(), "fluxo_pw", "pw-two")
		s = e.startStream(cfg)
		e.waitCheckpointPast(cfg, before, 20*time.Second)
		recs := e.drain(e.topic("kv"), time.Second)
		if err := s.stop(); err != nil {
			t.Fatalf("restart with the new password: %v", err)
		}
		compareState(t, replay(recs), e.tableState("kv"))
	})
}

// sourceAddr is the database server's address.
func (e *env) sourceAddr() string {
	if e.pg != nil {
		return e.pg.Addr()
	}
	return e.db.Addr()
}

// superuser is the database's password-less superuser.
func (e *env) superuser() string {
	if e.pg != nil {
		return "postgres"
	}
	return "root"
}

// sourceDSN is the DSN of the test's database at addr (a proxy).
func (e *env) sourceDSN(addr, user, password string) string {
	if e.pg != nil {
		return strings.Replace(e.pg.DSN(user, password, e.dbName), e.pg.Addr(), addr, 1)
	}
	return strings.Replace(e.db.DSN(user, password, e.dbName), e.db.Addr(), addr, 1)
}

// configVia is e.config("") with the source reached at addr as user.
func (e *env) configVia(addr, user, password string) *config.Config {
	e.t.Helper()
	cfg := e.config("")
	cfg.Source.DSN = e.sourceDSN(addr, user, password)
	return cfg
}

// dropSlot drops the slot once its walsender is gone.
func (e *env) dropSlot(slot string) {
	e.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.pg.SuperuserDSN("postgres"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(ctx)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err = conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", slot); err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("drop slot %s: %v", slot, err)
		}
	}
}

// purgeBinlogs rotates the binlog and purges every older file, waiting
// for the dump threads of closed connections to let go of them.
func (e *env) purgeBinlogs() {
	e.t.Helper()
	c := e.conn()
	if _, err := c.Execute("FLUSH BINARY LOGS"); err != nil {
		e.t.Fatal(err)
	}
	r, err := c.Execute("SHOW MASTER STATUS")
	if err != nil {
		e.t.Fatal(err)
	}
	current, _ := r.GetString(0, 0)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := c.Execute("PURGE BINARY LOGS TO '" + current + "'"); err != nil {
			e.t.Fatal(err)
		}
		r, err := c.Execute("SHOW BINARY LOGS")
		if err != nil {
			e.t.Fatal(err)
		}
		if first, _ := r.GetString(0, 0); first == current {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("binlogs before %s are still there (in use?)", current)
		}
	}
}

// passwordUser creates (or resets) user fluxo_pw with password pw and every
// privilege fluxo needs; on PostgreSQL it also makes the server check its
// password (the test server trusts every local connection), until the test ends.
func (e *env) passwordUser(pw string) {
	e.t.Helper()
	if e.pg == nil {
		e.exec("DROP USER IF EXISTS 'fluxo_pw'@'%'")
		e.exec("CREATE USER 'fluxo_pw'@'%' IDENTIFIED BY '" + pw + "'")
		e.exec("GRANT ALL PRIVILEGES ON *.* TO 'fluxo_pw'@'%'")
		return
	}
	e.exec("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fluxo_pw') THEN CREATE ROLE fluxo_pw LOGIN SUPERUSER; END IF; END $$")
	e.setPassword(pw)
	e.checkPasswords("fluxo_pw")
}

// setPassword changes fluxo_pw's password.
func (e *env) setPassword(pw string) {
	e.t.Helper()
	if e.pg == nil {
		e.exec("ALTER USER 'fluxo_pw'@'%' IDENTIFIED BY '" + pw + "'")
		return
	}
	e.exec("ALTER ROLE fluxo_pw PASSWORD '" + pw + "'")
}

// checkPasswords puts scram-sha-256 lines for user in front of the
// server's pg_hba.conf and reloads it; the test's end restores the file.
func (e *env) checkPasswords(user string) {
	e.t.Helper()
	ctx := context.Background()
	path, err := e.pg.QueryValue(ctx, "SHOW hba_file")
	if err != nil {
		e.t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	lines := fmt.Sprintf("host all %[1]s 127.0.0.1/32 scram-sha-256\nhost replication %[1]s 127.0.0.1/32 scram-sha-256\n", user)
	if err := os.WriteFile(path, append([]byte(lines), old...), 0o600); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		os.WriteFile(path, old, 0o600)
		e.pg.Exec(context.Background(), "SELECT pg_reload_conf()")
	})
	if err := e.pg.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		e.t.Fatal(err)
	}
}

// restore reopens a cut proxy, failing the test if it cannot.
func restore(t *testing.T, p *testserver.Proxy) {
	t.Helper()
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
}
