// Package testserver starts throwaway servers for integration tests and demos:
// MariaDB and PostgreSQL (real binaries, run as child processes), a fake
// Kafka cluster (kfake) and a fake Schema Registry (srfake).
//
// Every server listens on a free port on 127.0.0.1 only; the system servers on
// 3306/5432 are never touched. Database servers keep their files in a fresh
// temporary directory that Close removes.
//
// Non-test code may import this package: it does not import "testing". The
// helpers in tb.go (MariaDBT, PostgresT, KafkaT, RegistryT, Require) take the
// small TB interface, which *testing.T and *testing.B satisfy.
package testserver

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// loopback is the only address the test servers listen on and the only
// address its clients connect to.
const loopback = "127.0.0.1"

// defaultStartTimeout bounds how long a database server may take to accept
// queries after it was launched.
const defaultStartTimeout = 60 * time.Second

// Kinds accepted by Available and Require.
const (
	KindMariaDB  = "mariadb"
	KindPostgres = "postgres"
	KindKafka    = "kafka"
	KindRegistry = "registry"
)

// FreePort returns a TCP port on 127.0.0.1 that was free when it was checked.
// Another process may take it before it is used, so callers that bind it
// should be ready to retry.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		return 0, fmt.Errorf("testserver: find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Available reports whether the servers of the given kind can be started on
// this machine: nil means yes, otherwise the error says what is missing and
// how to install it. kind is one of KindMariaDB, KindPostgres, KindDuckDB,
// KindKafka and KindRegistry; the last two are in-process fakes and always
// available.
func Available(kind string) error {
	switch kind {
	case KindMariaDB:
		_, err := findMariaDB()
		return err
	case KindPostgres:
		if _, err := findPostgres(); err != nil {
			return err
		}
		_, err := postgresCredential()
		return err
	case KindKafka, KindRegistry:
		return nil
	case KindDuckDB:
		return DuckDBAvailable()
	}
	return fmt.Errorf("testserver: unknown server kind %q", kind)
}

// Result is the outcome of a query run through a command-line client. Every
// value is in the text form the client printed; NULL has Valid false.
type Result struct {
	// Columns holds the column names. For MariaDB it is empty when the
	// query returned no rows.
	Columns []string
	// Rows holds one slice per row, in column order.
	Rows [][]sql.NullString
}

// first returns the first column of the first row, NULL as "".
func (r *Result) first() (string, error) {
	if len(r.Rows) == 0 || len(r.Rows[0]) == 0 {
		return "", fmt.Errorf("testserver: query returned no rows")
	}
	return r.Rows[0][0].String, nil
}

// findBinary returns the first of names found in PATH or in dirs.
func findBinary(names []string, dirs ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, d := range dirs {
			p := d + "/" + n
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s not found", strings.Join(names, "/"))
}

// cleanEnv returns the process environment without the variables whose
// names start with one of prefixes (e.g. PGHOST), plus extra.
func cleanEnv(prefixes []string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !hasAnyPrefix(kv, prefixes) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// isRoot reports whether we run with uid 0.
func isRoot() bool { return os.Geteuid() == 0 }

// portString formats a port for command lines.
func portString(p int) string { return strconv.Itoa(p) }

// startWithRetry picks a free port and calls start, retrying with another
// port when the chosen one was taken in the meantime.
func startWithRetry(setPort func(int), start func() error) error {
	var err error
	for range 3 {
		port, perr := FreePort()
		if perr != nil {
			return perr
		}
		setPort(port)
		if err = start(); err == nil || !strings.Contains(err.Error(), "already in use") {
			return err
		}
	}
	return err
}
