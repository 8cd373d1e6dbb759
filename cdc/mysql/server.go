package mysql

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Conn says how to reach the server.
type Conn struct {
	Host     string
	Port     uint16
	User     string
	Password string
	TLS      *tls.Config
}

func (c Conn) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))) }

// dial opens a client connection, translating the usual failures into errors
// that say what to fix.
func dial(ctx context.Context, c Conn) (*client.Conn, error) {
	var opts []client.Option
	if c.TLS != nil {
		opts = append(opts, func(conn *client.Conn) error { conn.SetTLSConfig(c.TLS); return nil })
	}
	conn, err := client.ConnectWithContext(ctx, c.addr(), c.User, c.Password, "", 10*time.Second, opts...)
	if err != nil {
		return nil, explainConnError(c, err)
	}
	// UTC timestamps, and CHAR values as the binlog has them (unpadded).
	if _, err := conn.Execute("SET time_zone = '+00:00', sql_mode = REPLACE(@@sql_mode, 'PAD_CHAR_TO_FULL_LENGTH', '')"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("mysql %s: set session time zone and sql_mode: %w", c.addr(), err)
	}
	return conn, nil
}

func explainConnError(c Conn, err error) error {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		switch me.Code {
		case gomysql.ER_ACCESS_DENIED_ERROR, gomysql.ER_DBACCESS_DENIED_ERROR:
			return &PermanentError{Err: fmt.Errorf("mysql %s: %w", c.addr(), err),
				Fix: fmt.Sprintf("check the user and password in source.dsn (user %q)", c.User)}
		}
		return fmt.Errorf("mysql %s: %w", c.addr(), err)
	}
	return fmt.Errorf("mysql %s unreachable: %w (is the server running and source.dsn's host:port right?)", c.addr(), err)
}

// PermanentError is a failure that retrying cannot fix; Fix says what will.
type PermanentError struct {
	Err error
	Fix string
}

func (e *PermanentError) Error() string { return e.Err.Error() + ": " + e.Fix }
func (e *PermanentError) Unwrap() error { return e.Err }

// serverInfo is what fluxo needs to know about the server.
type serverInfo struct {
	flavor      string // "mysql" or "mariadb"
	version     string
	identity    string // server_uuid (MySQL) or server_id=N (MariaDB)
	gtid        bool   // GTIDs usable for positions
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
	if logBin != "1" && !strings.EqualFold(logBin, "ON") {
		return si, &PermanentError{Err: errors.New("the binary log is off (log_bin=OFF)"),
			Fix: "start the server with --log-bin --binlog-format=ROW --binlog-row-image=FULL"}
	}
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
	if !strings.EqualFold(si.format, "ROW") {
		return &PermanentError{Err: fmt.Errorf("binlog_format is %s, fluxo needs ROW", si.format),
			Fix: "run SET GLOBAL binlog_format = 'ROW' and set binlog_format=ROW in the server's config (existing sessions keep the old format until they reconnect)"}
	}
	if si.rowImage != "" && !strings.EqualFold(si.rowImage, "FULL") {
		return &PermanentError{Err: fmt.Errorf("binlog_row_image is %s, fluxo needs FULL", si.rowImage),
			Fix: "run SET GLOBAL binlog_row_image = 'FULL' and set binlog_row_image=FULL in the server's config"}
	}
	return nil
}

// binlogPosition reads the server's current binlog file, offset and GTID set.
func binlogPosition(conn *client.Conn, si serverInfo) (file string, pos uint32, gtid string, err error) {
	r, err := conn.Execute("SHOW MASTER STATUS")
	if err != nil {
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
		return &PermanentError{Err: err, Fix: "GRANT " + priv + " ON *.* TO the fluxo user"}
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
	r, err := conn.Execute("SHOW GRANTS")
	if err != nil {
		return nil // cannot tell; the dump will say
	}
	defer r.Close()
	var grants []string
	for i := range r.Values {
		grants = append(grants, strings.ToUpper(cell(r, i, 0)))
	}
	for _, g := range grants {
		onAll := strings.Contains(g, " ON *.* ")
		if onAll && (strings.Contains(g, "ALL PRIVILEGES") || strings.Contains(g, "REPLICATION SLAVE") || strings.Contains(g, "REPLICATION REPLICA")) {
			return nil
		}
		if !strings.Contains(g, " ON ") { // a role grant: GRANT `role` TO `user`
			return nil
		}
	}
	return &PermanentError{Err: errors.New("the user lacks the REPLICATION SLAVE privilege needed to read the binlog"),
		Fix: "run GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the fluxo user (MariaDB 10.5+: also BINLOG MONITOR), plus SELECT on the captured tables"}
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
