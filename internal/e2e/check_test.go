package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/mysql"
	"github.com/fluxo-cdc/fluxo/internal/command"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// checkRun is the outcome of one run of the checks.
type checkRun struct {
	t     *testing.T
	lines []cdc.Check
	out   string // as printed
}

// runCheck runs every check on cfg, as `fluxo check` does.
func runCheck(t *testing.T, cfg *config.Config) checkRun {
	t.Helper()
	lines := command.RunChecks(context.Background(), cfg, command.CheckTimeout)
	var b bytes.Buffer
	command.PrintChecks(&b, lines)
	t.Logf("fluxo check:\n%s", b.String())
	return checkRun{t: t, lines: lines, out: b.String()}
}

// line returns the named line, failing the test when there is none.
func (r checkRun) line(name string) cdc.Check {
	r.t.Helper()
	for _, l := range r.lines {
		if l.Name == name {
			return l
		}
	}
	r.t.Fatalf("no %s line in:\n%s", name, r.out)
	return cdc.Check{}
}

// printed is the line as fluxo check prints it.
func (r checkRun) printed(name string) string {
	r.t.Helper()
	for _, l := range strings.Split(r.out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == name {
			return l
		}
	}
	r.t.Fatalf("no %s line printed in:\n%s", name, r.out)
	return ""
}

// want checks a line's status and that its printed form mentions each of
// contains.
func (r checkRun) want(name, status string, contains ...string) {
	r.t.Helper()
	l := r.line(name)
	if l.Status != status {
		r.t.Fatalf("%s is %s, want %s:\n%s", name, l.Status, status, r.out)
	}
	p := r.printed(name)
	for _, c := range contains {
		if !strings.Contains(p, c) {
			r.t.Errorf("%s line lacks %q: %s", name, c, p)
		}
	}
}

// allOK fails unless every line is ok but those named in except.
func (r checkRun) allOK(except ...string) {
	r.t.Helper()
	for _, l := range r.lines {
		if l.Status != cdc.CheckOK && !contains(except, l.Name) {
			r.t.Errorf("%s is %s, want ok:\n%s", l.Name, l.Status, r.out)
		}
	}
}

// hidden fails when the output shows secret.
func (r checkRun) hidden(secret string) {
	r.t.Helper()
	if strings.Contains(r.out, secret) {
		r.t.Errorf("the output shows the secret %q:\n%s", secret, r.out)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// fixSQL returns the statements of the named lines, checking that each
// has some and that they are printed verbatim.
func (r checkRun) fixSQL(names ...string) []string {
	r.t.Helper()
	var out []string
	for _, n := range names {
		l := r.line(n)
		if len(l.SQL) == 0 {
			r.t.Fatalf("%s gives no statement to run:\n%s", n, r.out)
		}
		for _, q := range l.SQL {
			if !strings.Contains(r.printed(n), q) {
				r.t.Errorf("%s does not print its statement %q", n, q)
			}
		}
		out = append(out, l.SQL...)
	}
	return out
}

// TestCheckMySQL breaks a MariaDB setup one way at a time: fluxo check must
// name the problem with the statement that fixes it, and pass once that
// statement has run.
func TestCheckMySQL(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t1 (id INT PRIMARY KEY, v INT)")
	e.exec("CREATE TABLE t2 (id INT PRIMARY KEY, v INT)")
	cfg := e.checkConfig()
	t.Run("healthy", func(t *testing.T) {
		r := runCheck(t, cfg)
		r.allOK()
		r.want("source.tables", cdc.CheckOK, e.dbName+".t1", e.dbName+".t2")
		r.want("kafka.topics", cdc.CheckOK, "none of the 2 topic(s) exists yet")
		if err := command.Check(context.Background(), cfg, new(bytes.Buffer), false); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
	for _, tc := range []struct {
		name, breakSQL, restore, line, status, found string
	}{
		{"statement binlog", "SET GLOBAL binlog_format = 'STATEMENT'", "SET GLOBAL binlog_format = 'ROW'", "source.binlog_format", cdc.CheckFail, "binlog_format is STATEMENT"},
		{"minimal row image", "SET GLOBAL binlog_row_image = 'MINIMAL'", "SET GLOBAL binlog_row_image = 'FULL'", "source.binlog_row_image", cdc.CheckFail, "binlog_row_image is MINIMAL"},
		{"minimal row metadata", "SET GLOBAL binlog_row_metadata = 'MINIMAL'", "SET GLOBAL binlog_row_metadata = 'FULL'", "source.binlog_row_metadata", cdc.CheckWarn, "MINIMAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(func() { e.exec(tc.restore) })
			e.exec(tc.breakSQL)
			r := runCheck(t, cfg)
			r.want(tc.line, tc.status, tc.found, "fix: run SET GLOBAL")
			r.allOK(tc.line)
			err := command.Check(context.Background(), cfg, new(bytes.Buffer), false)
			if blocking := tc.status == cdc.CheckFail; blocking != errors.Is(err, command.ErrChecksFailed) {
				t.Errorf("Check returned %v for a %s line", err, tc.status)
			}
			for _, q := range r.fixSQL(tc.line) {
				e.exec(q)
			}
			runCheck(t, cfg).allOK()
		})
	}
	t.Run("missing privileges", func(t *testing.T) { testCheckMySQLGrants(t, e) })
	t.Run("privileges through a role", func(t *testing.T) {
		for _, q := range []string{"DROP USER IF EXISTS 'chkr'@'%'", "DROP ROLE IF EXISTS fluxo_r", "CREATE ROLE fluxo_r",
			"GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO fluxo_r",
			"CREATE USER 'chkr'@'%' IDENTIFIED BY 'pw'", "GRANT fluxo_r TO 'chkr'@'%'", "SET DEFAULT ROLE fluxo_r FOR 'chkr'@'%'"} {
			e.exec(q)
		}
		t.Cleanup(func() { e.exec("DROP USER IF EXISTS 'chkr'@'%'"); e.exec("DROP ROLE IF EXISTS fluxo_r") })
		c := *cfg
		c.Source.DSN = "mysql://chkr:pw@" + e.db.Addr() + "/"
		runCheck(t, &c).allOK()
	})
	t.Run("keyless table", func(t *testing.T) {
		e.exec("CREATE TABLE nokey (v INT)")
		t.Cleanup(func() { e.exec("DROP TABLE nokey") })
		runCheck(t, cfg).want("source.keys", cdc.CheckWarn, e.dbName+".nokey", "source.key_columns")
		keyed := e.configSource("  key_columns:\n    "+e.dbName+".nokey: [v]\n", "")
		runCheck(t, keyed).want("source.keys", cdc.CheckOK)
		bad := e.configSource("  key_columns:\n    "+e.dbName+".nokey: [nope]\n", "")
		runCheck(t, bad).want("source.keys", cdc.CheckFail, "nope", "source.key_columns")
	})
	t.Run("named table missing", func(t *testing.T) {
		named := e.config("")
		named.Source.Tables = []string{e.dbName + ".t1", e.dbName + ".gone", e.dbName + ".t*"}
		r := runCheck(t, named)
		r.want("source.named_tables", cdc.CheckWarn, e.dbName+".gone", "correct source.tables")
		if strings.Contains(r.printed("source.named_tables"), e.dbName+".t1") {
			t.Errorf("t1 exists: %s", r.printed("source.named_tables"))
		}
	})
	t.Run("bad connection", func(t *testing.T) {
		for _, tc := range []struct{ name, dsn, want string }{
			{"wrong password", "mysql://root:sekret-wrong@" + e.db.Addr() + "/", "check the user and password"},
			{"closed port", fmt.Sprintf("mysql://root@127.0.0.1:%d/", testserver.ClosedPort(t)), "unreachable"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := *cfg
				c.Source.DSN = tc.dsn
				start := time.Now()
				r := runCheck(t, &c)
				if d := time.Since(start); d > command.CheckTimeout {
					t.Errorf("took %s", d)
				}
				r.want("source.connect", cdc.CheckFail, tc.want)
				r.want("source.binlog_format", cdc.CheckSkip, "needs source.connect")
				r.hidden("sekret-wrong")
			})
		}
	})
	t.Run("checkpoint", func(t *testing.T) { testCheckMySQLCheckpoint(t, e, cfg) })
	t.Run("stream running", func(t *testing.T) {
		c := e.checkConfig()
		s := e.startStreamReady(c)
		r := runCheck(t, c)
		r.want("source.server_id", cdc.CheckWarn, "a replica with server_id 9001 is connected", "source.server_id")
		r.want("checkpoint", cdc.CheckOK, "saved")
		r.want("source.resume", cdc.CheckOK)
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
		os.Remove(c.Checkpoint.Path)
	})
}

// testCheckMySQLGrants: a user with SELECT on one table only.
func testCheckMySQLGrants(t *testing.T, e *env) {
	e.exec("DROP USER IF EXISTS 'chk'@'%'")
	e.exec("CREATE USER 'chk'@'%' IDENTIFIED BY 'sekret-pw-1'")
	t.Cleanup(func() { e.exec("DROP USER IF EXISTS 'chk'@'%'") })
	e.exec("GRANT SELECT ON `" + e.dbName + "`.t1 TO 'chk'@'%'")
	e.exec("GRANT INSERT ON `" + e.dbName + "`.t2 TO 'chk'@'%'")
	cfg := e.checkConfig()
	cfg.Source.DSN = "mysql://chk:sekret-pw-1@" + e.db.Addr() + "/" + e.dbName
	r := runCheck(t, cfg)
	r.hidden("sekret-pw-1")
	r.want("source.connect", cdc.CheckOK, "'chk'@'%'")
	r.want("source.replication", cdc.CheckFail, "GRANT REPLICATION SLAVE ON *.* TO 'chk'@'%';")
	r.want("source.binlog_status", cdc.CheckFail, "GRANT REPLICATION CLIENT ON *.* TO 'chk'@'%';")
	r.want("source.reload", cdc.CheckWarn, "per-table", "GRANT RELOAD ON *.* TO 'chk'@'%';")
	r.want("source.select", cdc.CheckFail, e.dbName+".t2", "GRANT SELECT ON `"+e.dbName+"`.* TO 'chk'@'%';")
	if strings.Contains(r.printed("source.select"), e.dbName+".t1,") {
		t.Errorf("t1 is readable: %s", r.printed("source.select"))
	}
	for _, q := range r.fixSQL("source.replication", "source.binlog_status", "source.reload", "source.select") {
		e.exec(q)
	}
	runCheck(t, cfg).allOK()
}

// testCheckMySQLCheckpoint: a checkpoint the server can resume from, then
// one whose binlog is gone.
func testCheckMySQLCheckpoint(t *testing.T, e *env, cfg *config.Config) {
	ctx := context.Background()
	res, err := e.db.Query(ctx, "SHOW MASTER STATUS")
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("SHOW MASTER STATUS: %v %v", res, err)
	}
	id, err := e.db.QueryValue(ctx, "SELECT @@server_id")
	if err != nil {
		t.Fatal(err)
	}
	gtid, err := e.db.QueryValue(ctx, "SELECT @@gtid_binlog_pos")
	if err != nil {
		t.Fatal(err)
	}
	var pos uint32
	fmt.Sscan(res.Rows[0][1].String, &pos)
	save := func(p *mysql.Position) { saveCheckpoint(t, cfg, cdc.ConnectorMySQL, p) }
	t.Cleanup(func() { os.Remove(cfg.Checkpoint.Path) })
	good := &mysql.Position{Flavor: "mariadb", ServerID: "server_id=" + id, GTIDSet: gtid, File: res.Rows[0][0].String, Offset: pos, SnapshotDone: true}
	save(good)
	r := runCheck(t, cfg)
	r.allOK()
	r.want("checkpoint", cdc.CheckOK, "saved")
	r.want("source.resume", cdc.CheckOK, good.File)
	save(&mysql.Position{Flavor: "mariadb", ServerID: "server_id=" + id, File: "gone.000001", Offset: 4, SnapshotDone: true})
	runCheck(t, cfg).want("source.resume", cdc.CheckFail, "purged", "delete the checkpoint file")
	os.Remove(cfg.Checkpoint.Path) // the fix
	r = runCheck(t, cfg)
	r.allOK()
	r.want("checkpoint", cdc.CheckOK, "none saved")
}

// checkConfig is e.config with a bronze target, so that every check runs.
func (e *env) checkConfig() *config.Config {
	e.t.Helper()
	return e.config("bronze:\n  url: file://" + filepath.Join(e.dir, "bronze") + "\n")
}

// TestCheckCommand runs the fluxo binary: exit 0 when streaming can start,
// 1 with the failing line otherwise, and --json for scripts.
func TestCheckCommand(t *testing.T) {
	bin, err := fluxoBinary()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.exec("CREATE TABLE t1 (id INT PRIMARY KEY)")
	e.config("")
	path := filepath.Join(e.dir, "fluxo.yaml")
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"check", "-c", path}, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String() + errOut.String(), code
	}
	out, code := run()
	if code != 0 || !strings.Contains(out, "fluxo stream can start") {
		t.Fatalf("healthy setup: exit %d:\n%s", code, out)
	}
	e.exec("SET GLOBAL binlog_format = 'MIXED'")
	t.Cleanup(func() { e.exec("SET GLOBAL binlog_format = 'ROW'") })
	out, code = run()
	if code != 1 || !strings.Contains(out, "FAIL  source.binlog_format") || !strings.Contains(out, "would not start") {
		t.Fatalf("broken setup: exit %d:\n%s", code, out)
	}
	out, code = run("--json")
	var lines []cdc.Check
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "]")+1]), &lines); err != nil || code != 1 {
		t.Fatalf("--json: exit %d, %v:\n%s", code, err, out)
	}
	r := checkRun{t: t, lines: lines, out: out}
	if l := r.line("source.binlog_format"); l.Status != cdc.CheckFail || len(l.SQL) != 1 || l.SQL[0] != "SET GLOBAL binlog_format = 'ROW';" {
		t.Errorf("--json line: %+v", l)
	}
}
