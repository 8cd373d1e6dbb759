package testserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Exec runs one or more SQL statements in database postgres as the
// superuser, over TCP with psql. Execution stops at the first error.
func (p *Postgres) Exec(ctx context.Context, sql string) error {
	return p.ExecDB(ctx, "postgres", sql)
}

// ExecDB is Exec in database db.
func (p *Postgres) ExecDB(ctx context.Context, db, sql string) error {
	_, err := p.psql(ctx, db, strings.NewReader(sql), "-f", "-")
	return err
}

// Query runs a single statement in database postgres and returns its rows
// as text (a multi-statement string yields unparseable output).
func (p *Postgres) Query(ctx context.Context, sql string) (*Result, error) {
	return p.QueryDB(ctx, "postgres", sql)
}

// QueryDB is Query in database db.
func (p *Postgres) QueryDB(ctx context.Context, db, sql string) (*Result, error) {
	null := nullSentinel()
	out, err := p.psql(ctx, db, nil, "--csv", "-P", "null="+null, "-c", sql)
	if err != nil {
		return nil, err
	}
	return parsePsqlCSV(out, null)
}

// QueryValue runs Query and returns the first column of the first row
// (NULL as ""); no rows is an error.
func (p *Postgres) QueryValue(ctx context.Context, sql string) (string, error) {
	r, err := p.Query(ctx, sql)
	if err != nil {
		return "", err
	}
	return r.first()
}

// psql runs psql against the server as user postgres and returns stdout.
func (p *Postgres) psql(ctx context.Context, db string, stdin *strings.Reader, args ...string) ([]byte, error) {
	base := []string{
		"-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", loopback, "-p", portString(p.Port), "-U", "postgres", "-d", db,
	}
	cmd := exec.CommandContext(ctx, filepath.Join(p.binDir, "psql"), append(base, args...)...)
	cmd.Env = cleanEnv([]string{"PG"}, "PGCONNECT_TIMEOUT=5", "PGAPPNAME=fluxo-testserver", "PGCLIENTENCODING=UTF8")
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("testserver: psql: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// nullSentinel returns a random string that psql prints for NULL, so that
// NULL and the empty string can be told apart in CSV output.
func nullSentinel() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "NULL-" + hex.EncodeToString(b)
}

// parsePsqlCSV turns psql --csv output (header line, then rows) into a Result.
func parsePsqlCSV(out []byte, null string) (*Result, error) {
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("testserver: parse psql csv output: %w", err)
	}
	res := &Result{}
	if len(recs) == 0 {
		return res, nil
	}
	res.Columns = recs[0]
	for _, rec := range recs[1:] {
		vals := make([]sql.NullString, len(rec))
		for i, v := range rec {
			if v != null {
				vals[i] = sql.NullString{String: v, Valid: true}
			}
		}
		res.Rows = append(res.Rows, vals)
	}
	return res, nil
}
