package testserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

const mariadbInstallHint = "apt-get install -y mariadb-server"

// MariaDBOptions configures StartMariaDB. The zero value is ready to use.
type MariaDBOptions struct {
	// ServerID is the server_id of the server; 0 means 1.
	ServerID uint32
	// BinlogFormat is the binlog_format; "" means ROW.
	BinlogFormat string
	// ExtraArgs are appended to the mariadbd command line and so override
	// the defaults, e.g. "--gtid-strict-mode=1".
	ExtraArgs []string
	// Stdout, when not nil, receives the server log in addition to the
	// log file Dir/mariadb.log.
	Stdout io.Writer
	// Parent is the directory in which Dir is created; "" means
	// os.TempDir(). Keep it short: the Unix socket lives in Dir.
	Parent string
	// StartTimeout bounds each (re)start until SELECT 1 works; 0 means 60 s.
	StartTimeout time.Duration
	// TimeZone is the server's system time zone (its TZ); "" means
	// DefaultTimeZone.
	TimeZone string
}

// DefaultTimeZone is the system time zone of the test database servers
// unless options say otherwise: a zone behind UTC, with daylight saving time
// in its past, as production servers run in local time.
const DefaultTimeZone = "America/Sao_Paulo"

// MariaDB is a throwaway MariaDB server listening on 127.0.0.1:Port with the
// binlog enabled (ROW format, FULL row image and row metadata). Everything
// else is as a production server has it out of the box: the factory
// character set latin1 (MariaDB up to 11.5, MySQL 5.7) and a local system
// time zone (MariaDBOptions.TimeZone), so that tests meet what users run.
//
// The user root has an empty password and may connect from anywhere
// (root@localhost, root@127.0.0.1 and root@'%'). Start, Stop, Kill and Close
// must not be called concurrently; Exec and Query may.
type MariaDB struct {
	// Port is the TCP port on 127.0.0.1; it stays the same across restarts.
	Port int
	// Dir holds everything: data/ (datadir, binlog files binlog.NNNNNN),
	// mariadb.log (server log) and mysqld.sock.
	Dir string

	opts MariaDBOptions
	bins mariadbBins
	proc *process
}

type mariadbBins struct{ server, install, client string }

// findMariaDB locates mariadbd, mariadb-install-db and the mariadb client.
func findMariaDB() (mariadbBins, error) {
	dirs := []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}
	var b mariadbBins
	var err error
	if b.server, err = findBinary([]string{"mariadbd", "mysqld"}, dirs...); err != nil {
		return b, fmt.Errorf("testserver: %w: %s", err, mariadbInstallHint)
	}
	if b.install, err = findBinary([]string{"mariadb-install-db", "mysql_install_db"}, dirs...); err != nil {
		return b, fmt.Errorf("testserver: %w: %s", err, mariadbInstallHint)
	}
	if b.client, err = findBinary([]string{"mariadb", "mysql"}, dirs...); err != nil {
		return b, fmt.Errorf("testserver: %w: %s", err, mariadbInstallHint)
	}
	return b, nil
}

// StartMariaDB creates a fresh data directory, initialises it with
// mariadb-install-db and starts mariadbd on a free port of 127.0.0.1. It
// returns once SELECT 1 works over TCP. Call Close to stop the server and
// delete its files.
func StartMariaDB(ctx context.Context, opts MariaDBOptions) (*MariaDB, error) {
	bins, err := findMariaDB()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(opts.Parent, "fluxo-mariadb-")
	if err != nil {
		return nil, fmt.Errorf("testserver: %w", err)
	}
	m := &MariaDB{Dir: dir, opts: opts, bins: bins}
	if err := m.install(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	err = startWithRetry(func(p int) { m.Port = p }, func() error { return m.Start(ctx) })
	if err == nil {
		err = m.Exec(ctx, rootAnyHostSQL)
	}
	if err != nil {
		return nil, errors.Join(err, m.Close())
	}
	return m, nil
}

// rootAnyHostSQL lets root connect from any host without password; it is
// kept out of the binlog so CDC tests see only their own events.
const rootAnyHostSQL = `SET sql_log_bin = 0;
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
SET sql_log_bin = 1;`

func (m *MariaDB) dataDir() string { return filepath.Join(m.Dir, "data") }

// LogPath returns the path of the server log file.
func (m *MariaDB) LogPath() string { return filepath.Join(m.Dir, "mariadb.log") }

// install runs mariadb-install-db on the empty data directory.
func (m *MariaDB) install(ctx context.Context) error {
	args := []string{
		"--no-defaults",
		"--datadir=" + m.dataDir(),
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		"--skip-name-resolve",
		"--innodb-log-file-size=48M",
		"--innodb-buffer-pool-size=64M",
	}
	if isRoot() {
		args = append(args, "--user=root")
	}
	cmd := exec.CommandContext(ctx, m.bins.install, args...)
	cmd.Dir = m.Dir
	if err := runLogged(cmd, m.LogPath()); err != nil {
		return fmt.Errorf("testserver: mariadb-install-db: %w", err)
	}
	return nil
}

// serverArgs builds the mariadbd command line.
func (m *MariaDB) serverArgs() []string {
	id, format := m.opts.ServerID, m.opts.BinlogFormat
	if id == 0 {
		id = 1
	}
	if format == "" {
		format = "ROW"
	}
	args := []string{
		"--no-defaults",
		"--datadir=" + m.dataDir(),
		"--log-bin=" + filepath.Join(m.dataDir(), "binlog"),
		"--binlog-format=" + format,
		"--binlog-row-image=FULL",
		"--binlog-row-metadata=FULL",
		"--server-id=" + strconv.FormatUint(uint64(id), 10),
		"--port=" + portString(m.Port),
		"--bind-address=" + loopback,
		"--socket=" + filepath.Join(m.Dir, "mysqld.sock"),
		"--pid-file=" + filepath.Join(m.Dir, "mysqld.pid"),
		"--tmpdir=" + m.Dir, // not the shared /tmp, which other tests clean up
		"--innodb-buffer-pool-size=64M",
		"--innodb-log-file-size=48M",
		"--innodb-flush-log-at-trx-commit=2", // survives Kill, not an OS crash
		"--skip-name-resolve",
		"--max-allowed-packet=256M",
	}
	if isRoot() {
		args = append(args, "--user=root")
	}
	return append(args, m.opts.ExtraArgs...)
}

// Start starts the server again on the same port and data directory after
// Stop or Kill (InnoDB runs crash recovery after Kill). It returns once
// SELECT 1 works.
func (m *MariaDB) Start(ctx context.Context) error {
	if m.proc.running() {
		return fmt.Errorf("testserver: mariadb on port %d is already running", m.Port)
	}
	cmd := exec.Command(m.bins.server, m.serverArgs()...)
	cmd.Dir = m.Dir
	cmd.Env = append(os.Environ(), "TZ="+cmp.Or(m.opts.TimeZone, DefaultTimeZone))
	p, err := startProcess(cmd, m.LogPath(), m.opts.Stdout)
	if err != nil {
		return fmt.Errorf("testserver: start mariadbd: %w", err)
	}
	m.proc = p
	ctx, cancel := withTimeout(ctx, m.opts.StartTimeout)
	defer cancel()
	if err := waitReady(ctx, p, m.ping); err != nil {
		p.kill()
		return fmt.Errorf("testserver: mariadb on port %d: %w\n%s", m.Port, err, logTail(m.LogPath()))
	}
	return nil
}

// ping checks that the port accepts connections and SELECT 1 works.
func (m *MariaDB) ping(ctx context.Context) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", m.Addr())
	if err != nil {
		return err
	}
	c.Close()
	_, err = m.run(ctx, "SELECT 1", false)
	return err
}

// Stop shuts the server down gracefully (SIGTERM) and waits for it to exit;
// if ctx ends first the server is killed. Stopping a stopped server is a no-op.
func (m *MariaDB) Stop(ctx context.Context) error {
	if err := m.proc.stop(ctx, syscall.SIGTERM); err != nil {
		return fmt.Errorf("testserver: stop mariadb: %w", err)
	}
	return nil
}

// Kill kills the server with SIGKILL, like a crash, and waits until it is gone.
func (m *MariaDB) Kill() {
	m.proc.kill()
}

// Close stops the server (killing it after 20 s) and removes Dir.
func (m *MariaDB) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := m.Stop(ctx)
	return errors.Join(err, os.RemoveAll(m.Dir))
}

// Addr returns "127.0.0.1:Port".
func (m *MariaDB) Addr() string { return net.JoinHostPort(loopback, portString(m.Port)) }

// DSN returns mysql://user:password@127.0.0.1:Port/db; the password part is
// left out when password is empty, and the path when db is empty.
func (m *MariaDB) DSN(user, password, db string) string {
	return dsn("mysql", user, password, m.Addr(), db, "")
}

// RootDSN returns the DSN of root (empty password) for database db.
func (m *MariaDB) RootDSN(db string) string { return m.DSN("root", "", db) }

// dsn builds a URL-style DSN with user info and path escaped.
func dsn(scheme, user, password, host, db, query string) string {
	u := url.URL{Scheme: scheme, Host: host, RawQuery: query}
	if password == "" {
		u.User = url.User(user)
	} else {
		u.User = url.UserPassword(user, password)
	}
	if db != "" {
		u.Path = "/" + db
	}
	return u.String()
}
