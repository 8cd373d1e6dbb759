package mysql

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/liveconn"
	"os"
)

// Conn says how to reach the server.
type Conn struct {
	Host     string
	Port     uint16
	User     string
	Password string
	TLS      *tls.Config
	// ReadTimeout is how long a connection may go without progress before
	// it is taken as lost (source.read_timeout; 0: never): see liveconn.
	ReadTimeout time.Duration
}

// dialer dials the connections of c, guarded against silent peers.
func (c Conn) dialer() liveconn.Dialer {
	return liveconn.Dialer{Timeout: c.ReadTimeout, ConnectTimeout: handshakeTimeout}
}

// handshakeTimeout bounds connecting and logging in.
const handshakeTimeout = 10 * time.Second

func (c Conn) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))) }

// dial opens a client connection, translating the usual failures into errors
// that say what to fix.
func dial(ctx context.Context, c Conn) (*client.Conn, error) {
	var opts []client.Option
	if c.TLS != nil {
		opts = append(opts, func(conn *client.Conn) error { conn.SetTLSConfig(c.TLS); return nil })
	}
	var raw net.Conn
	var stop func() bool
	var deadline time.Time
	dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := c.dialer().DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// The handshake reads without a deadline of its own: a server that
		// accepts and never answers would block forever.
		deadline = time.Now().Add(handshakeTimeout)
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		nc.SetDeadline(deadline)
		raw, stop = nc, context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
		return nc, nil
	}
	conn, err := client.ConnectWithDialer(ctx, "", c.addr(), c.User, c.Password, "", dialer, opts...)
	if stop != nil {
		stop()
	}
	if err != nil {
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			// go-mysql keeps only the text of the network error: say
			// again, typed, that the server did not answer in time.
			err = fmt.Errorf("%w (%w)", err, os.ErrDeadlineExceeded)
		}
		return nil, explainConnError(c, err)
	}
	raw.SetDeadline(time.Time{})
	if _, err := conn.Execute(sessionSetup); err != nil {
		conn.Close()
		return nil, fmt.Errorf("mysql %s: set session character set, time zone and sql_mode: %w", c.addr(), err)
	}
	return conn, nil
}

// sessionSetup fixes what the text of values depends on, on every
// connection: text in utf8mb4 whatever the column's character set and the
// server's defaults (the server converts; without SET NAMES a MariaDB that
// does not know the handshake's collation answers in its own default
// character set, latin1 on a factory-default server), TIMESTAMP values in
// UTC, and CHAR values as the binlog has them (unpadded).
const sessionSetup = "SET NAMES utf8mb4, time_zone = '+00:00', " +
	"sql_mode = REPLACE(@@sql_mode, 'PAD_CHAR_TO_FULL_LENGTH', '')"

func explainConnError(c Conn, err error) error {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		switch me.Code {
		case gomysql.ER_ACCESS_DENIED_ERROR, gomysql.ER_DBACCESS_DENIED_ERROR:
			return &cdc.PermanentError{Err: fmt.Errorf("mysql %s: %w", c.addr(), err),
				Fix: fmt.Sprintf("check the user and password in source.dsn (user %q)", c.User)}
		}
		return fmt.Errorf("mysql %s: %w", c.addr(), err)
	}
	return fmt.Errorf("mysql %s unreachable: %w (is the server running and source.dsn's host:port right?)", c.addr(), err)
}

// serverInfo is what fluxo needs to know about the server.
type serverInfo struct {
	flavor      string // "mysql" or "mariadb"
	version     string
	identity    string // server_uuid (MySQL) or server_id=N (MariaDB)
	gtid        bool   // GTIDs usable for positions
	logBin      bool   // the binary log is on
	format      string
	rowImage    string
	rowMetadata string // FULL, MINIMAL, or "" when the server has no such setting
}

func queryString(conn *client.Conn, q string) (string, error) {
	r, err := conn.Execute(q)
	if err != nil {
		return "", err
	}
	defer r.Close()
	if r.Resultset == nil || len(r.Values) == 0 {
		return "", nil
	}
	s, err := r.GetString(0, 0)
	return strings.Clone(s), err
}

func readServerInfo(conn *client.Conn) (serverInfo, error) {
	var si serverInfo
	var err error
	if si.version, err = queryString(conn, "SELECT @@version"); err != nil {
		return si, fmt.Errorf("read server version: %w", err)
	}
	si.flavor = gomysql.MySQLFlavor
	if strings.Contains(strings.ToLower(si.version), "mariadb") {
		si.flavor = gomysql.MariaDBFlavor
	}
	logBin, err := queryString(conn, "SELECT @@log_bin")
	if err != nil {
		return si, fmt.Errorf("read log_bin: %w", err)
	}
	si.logBin = logBin == "1" || strings.EqualFold(logBin, "ON")
	si.format, _ = queryString(conn, "SELECT @@binlog_format")
	si.rowImage, _ = queryString(conn, "SELECT @@binlog_row_image")
	si.rowMetadata, _ = queryString(conn, "SELECT @@binlog_row_metadata") // absent before MySQL 8.0.1 / MariaDB 10.5
	if si.flavor == gomysql.MariaDBFlavor {
		id, err := queryString(conn, "SELECT @@server_id")
		si.identity, si.gtid = "server_id="+id, true
		return si, err
	}
	if si.identity, err = queryString(conn, "SELECT @@server_uuid"); err != nil {
		return si, fmt.Errorf("read server_uuid: %w", err)
	}
	mode, _ := queryString(conn, "SELECT @@gtid_mode")
	si.gtid = strings.EqualFold(mode, "ON")
	return si, nil
}

// check returns the first server setting that prevents streaming.
func (si serverInfo) check() error {
	for _, c := range []func() error{si.checkLogBin, si.checkFormat, si.checkRowImage} {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

func (si serverInfo) checkLogBin() error {
	if !si.logBin {
		return &cdc.PermanentError{Err: errors.New("the binary log is off (log_bin=OFF)"),
			Fix: "start the server with --log-bin --binlog-format=ROW --binlog-row-image=FULL"}
	}
	return nil
}

func (si serverInfo) checkFormat() error {
	if !strings.EqualFold(si.format, "ROW") {
		return &cdc.PermanentError{Err: fmt.Errorf("binlog_format is %s, fluxo needs ROW", si.format),
			Fix: "run SET GLOBAL binlog_format = 'ROW' and set binlog_format=ROW in the server's config (existing sessions keep the old format until they reconnect)"}
	}
	return nil
}

func (si serverInfo) checkRowImage() error {
	if si.rowImage != "" && !strings.EqualFold(si.rowImage, "FULL") {
		return &cdc.PermanentError{Err: fmt.Errorf("binlog_row_image is %s, fluxo needs FULL", si.rowImage),
			Fix: "run SET GLOBAL binlog_row_image = 'FULL' and set binlog_row_image=FULL in the server's config"}
	}
	return nil
}

// binlogPosition reads the server's current binlog file, offset and GTID set.
func binlogPosition(conn *client.Conn, si serverInfo) (file string, pos uint32, gtid string, err error) {
	r, err := conn.Execute("SHOW MASTER STATUS")
	if errorCode(err) == gomysql.ER_PARSE_ERROR {
		r, err = conn.Execute("SHOW BINARY LOG STATUS") // MySQL 8.4
	}
	if err != nil {
		return "", 0, "", explainPrivilege(err, "REPLICATION CLIENT (MySQL) or BINLOG MONITOR (MariaDB)")
	}
	defer r.Close()
	if len(r.Values) == 0 {
		return "", 0, "", errors.New("SHOW MASTER STATUS returned nothing: is log_bin on?")
	}
	file = cell(r, 0, 0)
	p, _ := r.GetUint(0, 1)
	switch {
	case si.flavor == gomysql.MariaDBFlavor:
		gtid, err = queryString(conn, "SELECT @@gtid_binlog_pos")
	case si.gtid:
		gtid, err = queryString(conn, "SELECT @@gtid_executed")
	}
	return file, uint32(p), strings.ReplaceAll(gtid, "\n", ""), err
}

func explainPrivilege(err error, priv string) error {
	var me *gomysql.MyError
	if errors.As(err, &me) && (me.Code == gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR || me.Code == gomysql.ER_ACCESS_DENIED_ERROR ||
		me.Code == gomysql.ER_DBACCESS_DENIED_ERROR || me.Code == gomysql.ER_TABLEACCESS_DENIED_ERROR) {
		return &cdc.PermanentError{Err: err, Fix: "GRANT " + priv + " ON *.* TO the fluxo user"}
	}
	return err
}

// cell returns a result cell as a string that outlives the result (go-mysql
// recycles result buffers on Close).
func cell(r *gomysql.Result, row, col int) string {
	s, _ := r.GetString(row, col)
	return strings.Clone(s)
}

// checkReplicationGrant fails when SHOW GRANTS proves the user lacks
// REPLICATION SLAVE. Grants through roles cannot be told apart this way, so
// a role grant passes (the binlog dump then reports the missing privilege).
func checkReplicationGrant(conn *client.Conn) error {
	if has, known := hasGlobalPrivilege(readGrants(conn), "REPLICATION SLAVE", "REPLICATION REPLICA"); has || !known {
		return nil
	}
	return &cdc.PermanentError{Err: errors.New("the user lacks the REPLICATION SLAVE privilege needed to read the binlog"),
		Fix: "run GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the fluxo user (MariaDB 10.5+: also BINLOG MONITOR), plus SELECT on the captured tables"}
}

// readGrants returns the current user's SHOW GRANTS lines in upper case,
// or nil when the server does not tell.
func readGrants(conn *client.Conn) []string {
	r, err := conn.Execute("SHOW GRANTS")
	if err != nil {
		return nil
	}
	defer r.Close()
	grants := make([]string, 0, len(r.Values))
	for i := range r.Values {
		grants = append(grants, strings.ToUpper(cell(r, i, 0)))
	}
	return grants
}

// hasGlobalPrivilege reports whether grants give one of privs (or ALL
// PRIVILEGES) ON *.*. known is false when that cannot be told: no grants
// read, or a role granted to the user (GRANT `role` TO `user`).
func hasGlobalPrivilege(grants []string, privs ...string) (has, known bool) {
	known = grants != nil
	for _, g := range grants {
		list, on, ok := strings.Cut(strings.TrimPrefix(g, "GRANT "), " ON ")
		if !ok {
			known = false
			continue
		}
		if !strings.HasPrefix(on, "*.* ") {
			continue
		}
		for _, p := range strings.Split(list, ",") {
			p = strings.TrimSpace(p)
			if p == "ALL PRIVILEGES" || p == "ALL" || slices.Contains(privs, p) {
				return true, true
			}
		}
	}
	return false, known
}

// dropMeta closes the metadata connection after another connection to the
// server was lost: it went the same network path, so it is suspect too, and
// finding out by a ping would stall the stream for up to the read timeout.
func (s *Source) dropMeta() {
	if s.meta != nil {
		s.meta.Close()
		s.meta = nil
	}
}

// metaConn returns the connection for information_schema look-ups,
// reconnecting when the server went away since its last use.
func (s *Source) metaConn() (*client.Conn, error) {
	if s.meta != nil {
		if err := s.meta.Ping(); err == nil {
			return s.meta, nil
		}
		s.meta.Close()
		s.meta = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := dial(ctx, s.opts.Conn)
	if err != nil {
		return nil, err
	}
	s.meta = conn
	return conn, nil
}

// decorate copies declared column types from information_schema onto
// binlog-derived descriptions, over a live metadata connection.
func (s *Source) decorate(id cdc.TableID, descs []colDesc) error {
	conn, err := s.metaConn()
	if err != nil {
		return err
	}
	return decorate(conn, id, descs)
}
