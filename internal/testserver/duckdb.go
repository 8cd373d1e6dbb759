package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// KindDuckDB names the DuckDB query harness (node plus the npm package
// pinned in tools/duckdb), an independent reader for the files fluxo writes.
// See DuckDBAvailable.
const KindDuckDB = "duckdb"

// duckDBInstall is the command that installs the harness's npm packages,
// from the repository root.
const duckDBInstall = "npm ci --prefix tools/duckdb"

// DuckDB runs SQL through tools/duckdb/query.mjs: every query gets a fresh
// in-memory DuckDB in a new node process, with extension autoloading and
// autoinstalling off (Parquet support is built in), so nothing is
// downloaded at query time.
type DuckDB struct {
	// Node is the node binary.
	Node string
	// Script is the absolute path of query.mjs.
	Script string
}

var duckDBProbe struct {
	once sync.Once
	db   *DuckDB
	err  error
}

// FindDuckDB locates node and the harness and checks, once per process, that
// it answers a trivial query. The error says what is missing and how to
// install it.
func FindDuckDB() (*DuckDB, error) {
	duckDBProbe.once.Do(func() {
		duckDBProbe.db, duckDBProbe.err = findDuckDB()
	})
	return duckDBProbe.db, duckDBProbe.err
}

// DuckDBAvailable reports whether DuckDB queries can run here: nil means
// yes, otherwise the error says what is missing and how to install it.
func DuckDBAvailable() error {
	_, err := FindDuckDB()
	return err
}

func findDuckDB() (*DuckDB, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node not found in PATH (install Node.js >= 20, then run %q)", duckDBInstall)
	}
	dir, err := duckDBDir()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api", "package.json")); err != nil {
		return nil, fmt.Errorf("npm package @duckdb/node-api not installed in %s (run %q in the repository root)", dir, duckDBInstall)
	}
	d := &DuckDB{Node: node, Script: filepath.Join(dir, "query.mjs")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rows, err := d.Query(ctx, "SELECT 42 AS answer")
	if err != nil {
		return nil, err
	}
	if len(rows) != 1 || fmt.Sprint(rows[0]["answer"]) != "42" {
		return nil, fmt.Errorf("testserver: duckdb: probe query returned %v", rows)
	}
	return d, nil
}

// duckDBDir returns the repository's tools/duckdb directory.
func duckDBDir() (string, error) { return toolDir("duckdb", "query.mjs") }

// toolDir returns the repository's tools/<name> directory, which holds
// marker: next to this source file's package, or else found by walking up
// from the working directory (for binaries built with -trimpath).
func toolDir(name, marker string) (string, error) {
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "..", "tools", name))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			candidates = append(candidates, filepath.Join(d, "tools", name))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, c := range candidates {
		if _, err := os.Stat(filepath.Join(c, marker)); err == nil {
			return filepath.Clean(c), nil
		}
	}
	return "", fmt.Errorf("tools/%s/%s not found (run from within the fluxo repository)", name, marker)
}

// Query runs sql (one or more statements separated by ';') and returns the
// rows of the last statement, one map per row keyed by column name (DuckDB
// deduplicates repeated names as "a", "a:1"). Values are as tools/duckdb/
// query.mjs renders them, decoded with json.Decoder.UseNumber:
//
//   - NULL: nil; BOOLEAN: bool
//   - 8- to 32-bit integers: json.Number; BIGINT, UBIGINT, HUGEINT: string
//   - FLOAT, DOUBLE: json.Number, or the string "NaN", "Infinity",
//     "-Infinity" or "-0"
//   - DECIMAL: exact decimal text, e.g. "-12.340"
//   - VARCHAR, UUID: string; BLOB: lowercase hex string
//   - DATE "2006-01-02" (proleptic Gregorian, astronomical year numbering:
//     "0000-12-31" is 1 BC, "-0044-03-15" is 45 BC), TIME "15:04:05.999999"
//     (fraction without trailing zeros), TIMESTAMP "2006-01-02 15:04:05.999999",
//     TIMESTAMPTZ the same in UTC with a "+00" suffix; "infinity"/"-infinity"
//   - LIST, ARRAY: []any; STRUCT: map[string]any
//
// Relative paths in sql are resolved against the working directory.
func (d *DuckDB) Query(ctx context.Context, sql string) ([]map[string]any, error) {
	cmd := exec.CommandContext(ctx, d.Node, d.Script)
	cmd.Stdin = strings.NewReader(sql)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("testserver: duckdb: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	var rows []map[string]any
	for {
		var row map[string]any
		if err := dec.Decode(&row); err == io.EOF {
			return rows, nil
		} else if err != nil {
			return nil, fmt.Errorf("testserver: duckdb: decode output: %w", err)
		}
		rows = append(rows, row)
	}
}

// DuckDBQuery runs sql through the harness found by FindDuckDB; see
// (*DuckDB).Query.
func DuckDBQuery(ctx context.Context, sql string) ([]map[string]any, error) {
	d, err := FindDuckDB()
	if err != nil {
		return nil, fmt.Errorf("testserver: duckdb not available: %w", err)
	}
	return d.Query(ctx, sql)
}

// DuckDBT skips the test when the DuckDB harness is not available (failing
// it instead under CI, like Require) and returns it.
func DuckDBT(t TB) *DuckDB {
	t.Helper()
	d, err := FindDuckDB()
	if err != nil {
		if InCI() {
			t.Fatalf("testserver: %s is required when CI=true: %v", KindDuckDB, err)
		}
		t.Skipf("testserver: %s not available: %v", KindDuckDB, err)
	}
	return d
}

// DuckDBString returns s as a single-quoted SQL string literal in the
// standard syntax DuckDB uses (quotes doubled, no backslash escapes), e.g.
// for a file path in read_parquet(...).
func DuckDBString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
