package testserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"
)

const postgresInstallHint = "apt-get install -y postgresql"

// PostgresOptions configures StartPostgres. The zero value is ready to use.
type PostgresOptions struct {
	// ExtraArgs are appended to the postgres command line, e.g.
	// []string{"-c", "max_connections=20"}.
	ExtraArgs []string
	// Stdout, when not nil, receives the server log in addition to the
	// log file Dir/postgres.log.
	Stdout io.Writer
	// Parent is the directory in which Dir is created; "" means
	// os.TempDir(). When running as root every ancestor must be
	// searchable by the postgres system user.
	Parent string
	// StartTimeout bounds each (re)start until SELECT 1 works; 0 means 60 s.
	StartTimeout time.Duration
	// TimeZone is the server's timezone setting; "" means DefaultTimeZone.
	TimeZone string
}

// Postgres is a throwaway PostgreSQL server on 127.0.0.1:Port with
// wal_level=logical. Its sessions default to what production servers are
// often set to, not to the friendliest forms: a local timezone
// (PostgresOptions.TimeZone), DateStyle 'SQL, DMY' and IntervalStyle
// postgres_verbose, so that a client that relies on the defaults fails
// here too. The cluster is UTF8; tests create LATIN1 databases in it with
// ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0.
// Authentication is "trust": any password is accepted,
// and the superuser is postgres. When we run as root, the server runs as the
// postgres system user and Dir is owned by it.
//
// Start, Stop, Kill and Close must not be called concurrently; Exec and
// Query may.
type Postgres struct {
	// Port is the TCP port on 127.0.0.1; it stays the same across restarts.
	Port int
	// Dir holds data/ (the cluster), postgres.log and the Unix socket.
	Dir string

	opts   PostgresOptions
	binDir string
	cred   *syscall.Credential // nil: run as ourselves
	proc   *process
}

// findPostgres returns the directory holding postgres, initdb and psql,
// preferring the newest /usr/lib/postgresql/N/bin.
func findPostgres() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("testserver: postgres binaries not found: %s", postgresInstallHint)
}

// pgMajor extracts N from /usr/lib/postgresql/N/bin (0 if not a number).
func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// postgresCredential returns the postgres system user when we are root
// (initdb and postgres refuse to run as root) and nil otherwise.
func postgresCredential() (*syscall.Credential, error) {
	if !isRoot() {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("testserver: running as root needs the postgres system user (%s): %w", postgresInstallHint, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("testserver: postgres user ids: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// StartPostgres creates a fresh cluster with initdb and starts postgres on a
// free port of 127.0.0.1 with wal_level=logical. It returns once SELECT 1
// works over TCP. Call Close to stop the server and delete its files.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	binDir, err := findPostgres()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	dir, err := makePostgresDir(opts.Parent, cred)
	if err != nil {
		return nil, err
	}
	p := &Postgres{Dir: dir, opts: opts, binDir: binDir, cred: cred}
	if err := p.initdb(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	err = startWithRetry(func(port int) { p.Port = port }, func() error { return p.Start(ctx) })
	if err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return p, nil
}

// makePostgresDir creates Dir and hands it to the server's user.
func makePostgresDir(parent string, cred *syscall.Credential) (string, error) {
	dir, err := os.MkdirTemp(parent, "fluxo-pg-")
	if err != nil {
		return "", fmt.Errorf("testserver: %w", err)
	}
	if cred == nil {
		return dir, nil
	}
	err = os.Chown(dir, int(cred.Uid), int(cred.Gid))
	if err == nil {
		err = checkSearchable(filepath.Dir(dir), cred.Uid)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("testserver: %w", err)
	}
	return dir, nil
}

// checkSearchable verifies that uid may traverse dir and all its ancestors.
func checkSearchable(dir string, uid uint32) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		owner := ok && sys.Uid == uid
		if st.Mode()&0o001 == 0 && !(owner && st.Mode()&0o100 != 0) {
			return fmt.Errorf("directory %s is not searchable by the postgres user; use another Parent", d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (p *Postgres) dataDir() string { return filepath.Join(p.Dir, "data") }

// LogPath returns the path of the server log file.
func (p *Postgres) LogPath() string { return filepath.Join(p.Dir, "postgres.log") }

// command prepares a postgres-suite binary to run as the server's user.
func (p *Postgres) command(cmd *exec.Cmd) *exec.Cmd {
	cmd.Dir = p.Dir
	cmd.Env = cleanEnv([]string{"PG", "LC_", "LANG"}, "LANG=C")
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd
}

// initdb creates the cluster in Dir/data.
func (p *Postgres) initdb(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, filepath.Join(p.binDir, "initdb"),
		"-D", p.dataDir(), "-A", "trust", "-U", "postgres",
		"--no-sync", "-E", "UTF8", "--locale=C")
	if err := runLogged(p.command(cmd), p.LogPath()); err != nil {
		return fmt.Errorf("testserver: initdb: %w", err)
	}
	return nil
}

// serverArgs builds the postgres command line.
func (p *Postgres) serverArgs() []string {
	args := []string{
		"-D", p.dataDir(),
		"-p", portString(p.Port),
		"-k", p.Dir,
		"-c", "listen_addresses=" + loopback,
		"-c", "wal_level=logical",
		"-c", "max_wal_senders=10",
		"-c", "max_replication_slots=10",
		"-c", "fsync=off", // survives Kill, not an OS crash
		"-c", "shared_buffers=64MB",
		"-c", "timezone=" + cmp.Or(p.opts.TimeZone, DefaultTimeZone),
		"-c", "DateStyle=SQL, DMY",
		"-c", "IntervalStyle=postgres_verbose",
	}
	return append(args, p.opts.ExtraArgs...)
}

// Start starts the server again on the same port and data directory after
// Stop or Kill (after Kill it runs crash recovery). It returns once SELECT 1
// works.
func (p *Postgres) Start(ctx context.Context) error {
	if p.proc.running() {
		return fmt.Errorf("testserver: postgres on port %d is already running", p.Port)
	}
	cmd := p.command(exec.Command(filepath.Join(p.binDir, "postgres"), p.serverArgs()...))
	proc, err := startProcess(cmd, p.LogPath(), p.opts.Stdout)
	if err != nil {
		return fmt.Errorf("testserver: start postgres: %w", err)
	}
	p.proc = proc
	ctx, cancel := withTimeout(ctx, p.opts.StartTimeout)
	defer cancel()
	if err := waitReady(ctx, proc, p.ping); err != nil {
		proc.kill()
		return fmt.Errorf("testserver: postgres on port %d: %w\n%s", p.Port, err, logTail(p.LogPath()))
	}
	return nil
}

// ping checks that the port accepts connections and SELECT 1 works.
func (p *Postgres) ping(ctx context.Context) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", p.Addr())
	if err != nil {
		return err
	}
	c.Close()
	return p.Exec(ctx, "SELECT 1")
}

// Stop shuts the server down with a fast shutdown (SIGINT, like pg_ctl -m
// fast) and waits for it to exit; if ctx ends first the server is killed.
// Stopping a stopped server is a no-op.
func (p *Postgres) Stop(ctx context.Context) error {
	if err := p.proc.stop(ctx, syscall.SIGINT); err != nil {
		return fmt.Errorf("testserver: stop postgres: %w", err)
	}
	return nil
}

// Kill kills the postmaster and all its children with SIGKILL, like a
// crash, and waits until they are gone.
func (p *Postgres) Kill() {
	p.proc.kill()
}

// Close stops the server (killing it after 20 s) and removes Dir.
func (p *Postgres) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := p.Stop(ctx)
	return errors.Join(err, os.RemoveAll(p.Dir))
}

// Addr returns "127.0.0.1:Port".
func (p *Postgres) Addr() string { return net.JoinHostPort(loopback, portString(p.Port)) }

// DSN returns postgres://user:password@127.0.0.1:Port/db?sslmode=disable;
// the password part is left out when password is empty.
func (p *Postgres) DSN(user, password, db string) string {
	return dsn("postgres", user, password, p.Addr(), db, "sslmode=disable")
}

// SuperuserDSN returns the DSN of the superuser postgres for database db.
func (p *Postgres) SuperuserDSN(db string) string { return p.DSN("postgres", "", db) }
