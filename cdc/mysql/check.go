package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/fluxo-cdc/fluxo/cdc"
	"net"
)

// PreflightOptions configure Preflight; the fields mean what they mean in
// Options.
type PreflightOptions struct {
	Conn       Conn
	ServerID   uint32
	Filter     Filter
	Snapshot   string
	Checkpoint []byte
	// ConnectTimeout bounds connecting and logging in (default 10s); the
	// context bounds the whole run.
	ConnectTimeout time.Duration
}

// checkNames are the checks Preflight reports, in order; those after a
// failed connection are reported as skipped.
var checkNames = []string{"source.connect", "source.binlog", "source.binlog_format", "source.binlog_row_image",
	"source.binlog_row_metadata", "source.gtid", "source.server_id", "source.replication", "source.binlog_status",
	"source.reload", "source.tables", "source.select", "source.keys"}

// preflight is one run of Preflight.
type preflight struct {
	o       PreflightOptions
	conn    *client.Conn
	si      serverInfo
	account string // 'user'@'host' as the server knows the session
	grants  []string
	checks  []cdc.Check
}

// Preflight runs the source checks of `fluxo check`, with the functions
// Open runs at start, and returns them with the captured tables (nil when
// they could not be listed). ctx bounds the whole run: give it a deadline.
func Preflight(ctx context.Context, o PreflightOptions) ([]cdc.Check, []cdc.TableID) {
	p := &preflight{o: o}
	if p.o.ConnectTimeout <= 0 {
		p.o.ConnectTimeout = 10 * time.Second
	}
	if !p.connect(ctx) {
		return p.checks, nil
	}
	defer p.conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		p.conn.Conn.Conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { interrupt(p.conn) })
	defer stop()
	p.settings()
	p.serverID()
	p.privileges()
	ids := p.tables()
	if ids != nil {
		p.selectable(ids)
		p.keys(ids)
	}
	if o.Checkpoint != nil {
		p.resume()
	}
	return p.checks, ids
}

func (p *preflight) add(name, status, detail, fix string, sql ...string) {
	p.checks = append(p.checks, cdc.Check{Name: name, Status: status, Detail: detail, Fix: fix, SQL: sql})
}

// fail adds a failed check from err, using a cdc.PermanentError's fix.
func (p *preflight) fail(name string, err error, sql ...string) {
	var pe *cdc.PermanentError
	if errors.As(err, &pe) {
		p.add(name, cdc.CheckFail, pe.Err.Error(), pe.Fix, sql...)
		return
	}
	p.add(name, cdc.CheckFail, err.Error(), "")
}

// connect dials the server and reads its settings; on failure the other
// checks are reported as skipped.
func (p *preflight) connect(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, p.o.ConnectTimeout)
	defer cancel()
	conn, err := dial(cctx, p.o.Conn)
	if err == nil {
		p.conn = conn
		p.si, err = readServerInfo(conn)
	}
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		p.connectFailed(cctx, err)
		for _, n := range checkNames[1:] {
			p.add(n, cdc.CheckSkip, "needs source.connect", "")
		}
		return false
	}
	user, _ := queryString(conn, "SELECT CURRENT_USER()")
	p.account = quoteAccount(user)
	p.add("source.connect", cdc.CheckOK, fmt.Sprintf("%s %s at %s as %s", p.si.flavor, p.si.version, p.o.Conn.addr(), p.account), "")
	return true
}

func (p *preflight) connectFailed(ctx context.Context, err error) {
	var pe *cdc.PermanentError
	switch {
	case errors.As(err, &pe):
		user := quoteAccount(p.o.Conn.User + "@%")
		p.add("source.connect", cdc.CheckFail, pe.Err.Error(), pe.Fix+"; if the user does not exist for this client host, create it: CREATE USER "+user+
			" IDENTIFIED BY '...'; GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO "+user+";")
	case ctx.Err() != nil || timedOut(err):
		p.add("source.connect", cdc.CheckFail, fmt.Sprintf("mysql %s did not answer in time: %v", p.o.Conn.addr(), err),
			"check that the server runs, that source.dsn's host:port is right and that no firewall drops the connection")
	default:
		p.add("source.connect", cdc.CheckFail, err.Error(), "start the server, or correct the host and port in source.dsn")
	}
}

// timedOut reports whether err is a network timeout (a server or firewall
// that drops packets).
func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// settings checks the binlog settings with serverInfo's checks.
func (p *preflight) settings() {
	si := p.si
	if err := si.checkLogBin(); err != nil {
		p.fail("source.binlog", err)
	} else {
		p.add("source.binlog", cdc.CheckOK, "log_bin is on", "")
	}
	if err := si.checkFormat(); err != nil {
		p.setting("source.binlog_format", err, "binlog_format", "ROW")
	} else {
		p.add("source.binlog_format", cdc.CheckOK, si.format, "")
	}
	if err := si.checkRowImage(); err != nil {
		p.setting("source.binlog_row_image", err, "binlog_row_image", "FULL")
	} else {
		p.add("source.binlog_row_image", cdc.CheckOK, orNA(si.rowImage), "")
	}
	switch {
	case si.rowMetadata == "":
		p.add("source.binlog_row_metadata", cdc.CheckWarn, "the server has no binlog_row_metadata (MySQL before 8.0.1, MariaDB before 10.5): "+
			"column names come from information_schema, which is wrong for rows written before an ALTER TABLE",
			"upgrade the server, or avoid ALTER TABLE on captured tables while fluxo is behind")
	case !strings.EqualFold(si.rowMetadata, "FULL"):
		sql := "SET GLOBAL binlog_row_metadata = 'FULL';"
		p.add("source.binlog_row_metadata", cdc.CheckWarn, si.rowMetadata+": column names come from information_schema, "+
			"which is wrong for rows written before an ALTER TABLE", "run "+sql+" and set binlog_row_metadata=FULL in the server's config", sql)
	default:
		p.add("source.binlog_row_metadata", cdc.CheckOK, si.rowMetadata, "")
	}
	p.gtid()
}

// setting adds a failed server setting, with the SET GLOBAL that fixes it.
func (p *preflight) setting(name string, err error, variable, want string) {
	sql := fmt.Sprintf("SET GLOBAL %s = '%s';", variable, want)
	var pe *cdc.PermanentError
	errors.As(err, &pe)
	p.add(name, cdc.CheckFail, pe.Err.Error(), fmt.Sprintf("run %s and set %s=%s in the server's config "+
		"(sessions already open keep the old value until they reconnect)", sql, variable, want), sql)
}

func (p *preflight) gtid() {
	switch {
	case p.si.flavor == gomysql.MariaDBFlavor:
		p.add("source.gtid", cdc.CheckOK, "MariaDB GTIDs", "")
	case p.si.gtid:
		p.add("source.gtid", cdc.CheckOK, "gtid_mode is ON", "")
	default:
		p.add("source.gtid", cdc.CheckWarn, "gtid_mode is not ON: positions are binlog file and offset only, so fluxo cannot follow a failover to a replica",
			"SET GLOBAL enforce_gtid_consistency = ON, then gtid_mode to OFF_PERMISSIVE, ON_PERMISSIVE and ON in turn, and set both in the server's config")
	}
}

// serverID warns when another replica registered with fluxo's server id.
func (p *preflight) serverID() {
	id := fmt.Sprint(p.o.ServerID)
	r, err := p.conn.Execute("SHOW SLAVE HOSTS")
	if err != nil {
		p.add("source.server_id", cdc.CheckOK, id+" (other replicas not listed: SHOW SLAVE HOSTS is not allowed)", "")
		return
	}
	defer r.Close()
	for i := range r.Values {
		if cell(r, i, 0) == id {
			p.add("source.server_id", cdc.CheckWarn, "a replica with server_id "+id+" is connected (a fluxo stream with this config already running, or another replica): "+
				"two readers with one server_id disconnect each other", "stop the other reader, or give this config its own source.server_id")
			return
		}
	}
	p.add("source.server_id", cdc.CheckOK, id, "")
}

// privileges checks REPLICATION SLAVE, the binlog position (REPLICATION
// CLIENT) and RELOAD.
func (p *preflight) privileges() {
	p.grants = readGrants(p.conn)
	if err := checkReplicationGrant(p.conn); err != nil {
		sql := "GRANT REPLICATION SLAVE ON *.* TO " + p.account + ";"
		p.add("source.replication", cdc.CheckFail, "the user lacks REPLICATION SLAVE, needed to read the binlog", "run "+sql, sql)
	} else if has, _ := hasGlobalPrivilege(p.grants, "REPLICATION SLAVE", "REPLICATION REPLICA"); has {
		p.add("source.replication", cdc.CheckOK, "REPLICATION SLAVE granted", "")
	} else {
		p.add("source.replication", cdc.CheckOK, "not visible in SHOW GRANTS (granted through a role?): the binlog dump will tell", "")
	}
	file, pos, gtid, err := binlogPosition(p.conn, p.si)
	var pe *cdc.PermanentError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case err != nil:
		// MariaDB 10.5+ calls it BINLOG MONITOR and accepts the old name.
		sql := "GRANT REPLICATION CLIENT ON *.* TO " + p.account + ";"
		p.add("source.binlog_status", cdc.CheckFail, "SHOW MASTER STATUS failed: "+err.Error()+" (fluxo reads the binlog position and the binlog list with it)", "run "+sql, sql)
	default:
		detail := fmt.Sprintf("binlog at %s:%d", file, pos)
		if gtid != "" {
			detail += ", GTIDs " + gtid
		}
		p.add("source.binlog_status", cdc.CheckOK, detail, "")
	}
	p.reload()
}

// reload checks RELOAD: MySQL's stream snapshot takes a global read lock
// with it; fluxo fullload reads one consistent view with it.
func (p *preflight) reload() {
	has, known := hasGlobalPrivilege(p.grants, "RELOAD")
	switch {
	case has:
		p.add("source.reload", cdc.CheckOK, "RELOAD granted", "")
		return
	case !known:
		p.add("source.reload", cdc.CheckOK, "not visible in SHOW GRANTS (granted through a role?)", "")
		return
	}
	sql := "GRANT RELOAD ON *.* TO " + p.account + ";"
	if p.si.flavor == gomysql.MySQLFlavor && p.snapshotDue() {
		p.add("source.reload", cdc.CheckFail, "the user lacks RELOAD: the consistent snapshot takes a brief global read lock (FLUSH TABLES WITH READ LOCK) to read its binlog position",
			"run "+sql+" (or set snapshot.mode: initial, whose incremental snapshot takes no lock)", sql)
		return
	}
	p.add("source.reload", cdc.CheckWarn, "the user lacks RELOAD: fluxo fullload then reads each table in its own snapshot (per-table consistency, one chunk per table)",
		"run "+sql+" for one consistent view of every table and parallel chunks", sql)
}

// snapshotDue reports whether the next fluxo stream takes a consistent
// snapshot (incremental ones take no lock).
func (p *preflight) snapshotDue() bool {
	if p.o.Checkpoint == nil {
		return p.o.Snapshot == cdc.SnapshotInitialConsistent
	}
	pos, err := ParsePosition(p.o.Checkpoint)
	return err == nil && !pos.SnapshotDone
}

// tables lists the captured tables.
func (p *preflight) tables() []cdc.TableID {
	ids, err := listTables(p.conn, p.o.Filter)
	switch {
	case err != nil:
		p.fail("source.tables", err)
		p.add("source.select", cdc.CheckSkip, "needs source.tables", "")
		p.add("source.keys", cdc.CheckSkip, "needs source.tables", "")
		return nil
	case len(ids) == 0:
		p.add("source.tables", cdc.CheckWarn, "no table the user can see matches source.tables: fluxo would stream nothing",
			"check source.tables and source.exclude_tables (db.table, globs allowed), and the user's SELECT grants")
	default:
		p.add("source.tables", cdc.CheckOK, describeTables(ids), "")
	}
	return ids
}

// describeTables names the first few tables of ids and counts the rest.
func describeTables(ids []cdc.TableID) string {
	names := make([]string, 0, 5)
	for _, id := range ids[:min(len(ids), 5)] {
		names = append(names, id.String())
	}
	s := fmt.Sprintf("%d captured: %s", len(ids), strings.Join(names, ", "))
	if len(ids) > len(names) {
		s += ", ..."
	}
	return s
}

// selectable checks SELECT on each table; the fix grants it per database.
func (p *preflight) selectable(ids []cdc.TableID) {
	var denied []string
	dbs := map[string]bool{}
	for _, id := range ids {
		r, err := p.conn.Execute("SELECT 1 FROM " + quoteIdent(id.Schema) + "." + quoteIdent(id.Name) + " LIMIT 0")
		if err != nil {
			denied = append(denied, id.String())
			dbs[id.Schema] = true
			continue
		}
		r.Close()
	}
	if len(denied) == 0 {
		p.add("source.select", cdc.CheckOK, fmt.Sprintf("SELECT on all %d tables", len(ids)), "")
		return
	}
	var sql []string
	for db := range dbs {
		sql = append(sql, "GRANT SELECT ON "+quoteIdent(db)+".* TO "+p.account+";")
	}
	sort.Strings(sql)
	p.add("source.select", cdc.CheckFail, "no SELECT on "+strings.Join(denied, ", ")+" (needed for the snapshot and the column types)",
		"run "+strings.Join(sql, " "), sql...)
}

// keys derives each table's schema as the stream does: a bad
// source.key_columns fails, a table without a key is a warning.
func (p *preflight) keys(ids []cdc.TableID) {
	var keyless, bad []string
	log := slog.New(slog.DiscardHandler)
	for _, id := range ids {
		descs, pk, err := descsFromInfoSchema(p.conn, id)
		if err != nil {
			continue // reported by source.select
		}
		ts, err := buildTable(id, descs, pk, p.o.Filter, log)
		switch {
		case err != nil:
			bad = append(bad, err.Error())
		case len(ts.table.Key) == 0:
			keyless = append(keyless, id.String())
		}
	}
	switch {
	case len(bad) > 0:
		p.add("source.keys", cdc.CheckFail, strings.Join(bad, "; "), "correct source.key_columns / source.exclude_columns")
	case len(keyless) > 0:
		p.add("source.keys", cdc.CheckWarn, "no primary key: "+strings.Join(keyless, ", ")+" (their records get a null key and all go to partition 0)",
			"add a primary key, or name key columns in source.key_columns")
	default:
		p.add("source.keys", cdc.CheckOK, "every table has a key", "")
	}
}

// resume checks that the server can resume from the checkpoint.
func (p *preflight) resume() {
	pos, err := ParsePosition(p.o.Checkpoint)
	if err != nil {
		p.add("source.resume", cdc.CheckFail, err.Error(), "restore the checkpoint file from a backup, or delete it to take a new snapshot")
		return
	}
	failover, err := verifyResume(p.conn, p.si, pos)
	switch {
	case err != nil:
		p.fail("source.resume", err)
	case failover:
		p.add("source.resume", cdc.CheckWarn, fmt.Sprintf("the checkpoint was taken on server %s, this is %s; it has executed every checkpointed transaction, so fluxo resumes here (failover)",
			pos.ServerID, p.si.identity), "none if this is a failover; otherwise point source.dsn at the original server")
	default:
		p.add("source.resume", cdc.CheckOK, "the server still has the binlog from "+pos.String(), "")
	}
}

// quoteAccount turns CURRENT_USER()'s user@host into 'user'@'host'.
func quoteAccount(s string) string {
	user, host := s, "%"
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		user, host = s[:i], s[i+1:]
	}
	q := func(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }
	return q(user) + "@" + q(host)
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}
