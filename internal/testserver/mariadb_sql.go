package testserver

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Exec runs one or more SQL statements as root over TCP with the mariadb
// command-line client (no database is selected: qualify names or start with
// USE). Each ? outside quotes is replaced by the next arg as an SQL literal;
// supported args are nil, string, []byte, bool, integers, floats and
// time.Time. Execution stops at the first failing statement.
func (m *MariaDB) Exec(ctx context.Context, query string, args ...any) error {
	q, err := interpolate(query, args)
	if err != nil {
		return err
	}
	_, err = m.run(ctx, q, false)
	return err
}

// Query runs SQL like Exec and returns, as text, the rows of the last
// statement that produced a result set (so "SET @a = 1; SELECT @a" works).
// Values that are not valid XML text (binary data) make it fail; select
// HEX(col) instead.
func (m *MariaDB) Query(ctx context.Context, query string, args ...any) (*Result, error) {
	q, err := interpolate(query, args)
	if err != nil {
		return nil, err
	}
	out, err := m.run(ctx, q, true)
	if err != nil {
		return nil, err
	}
	return parseMariaXML(out)
}

// QueryValue runs Query and returns the first column of the first row
// (NULL as ""); no rows is an error.
func (m *MariaDB) QueryValue(ctx context.Context, query string, args ...any) (string, error) {
	r, err := m.Query(ctx, query, args...)
	if err != nil {
		return "", err
	}
	return r.first()
}

// run feeds sql to the mariadb client on stdin and returns its stdout.
func (m *MariaDB) run(ctx context.Context, sql string, asXML bool) ([]byte, error) {
	args := []string{
		"--no-defaults", "--protocol=TCP", "--host=" + loopback,
		"--port=" + portString(m.Port), "--user=root",
		"--default-character-set=utf8mb4", "--connect-timeout=5", "--batch",
	}
	if asXML {
		args = append(args, "--xml")
	}
	cmd := exec.CommandContext(ctx, m.bins.client, args...)
	cmd.Env = cleanEnv([]string{"MYSQL", "MARIADB"})
	cmd.Stdin = strings.NewReader(sql)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("testserver: mariadb: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// mariaField is one <field name="c">value</field> of the client's --xml
// output; NULL is <field name="c" xsi:nil="true" />.
type mariaField struct {
	Name  string `xml:"name,attr"`
	Nil   string `xml:"nil,attr"`
	Value string `xml:",chardata"`
}

type mariaRow struct {
	Fields []mariaField `xml:"field"`
}

type mariaResultSet struct {
	Rows []mariaRow `xml:"row"`
}

// parseMariaXML converts the client's --xml output (one <resultset> per
// statement that produced a result set) into a Result holding the rows of
// the last one.
func parseMariaXML(out []byte) (*Result, error) {
	res := &Result{}
	dec := xml.NewDecoder(bytes.NewReader(out))
	for {
		var rs mariaResultSet
		err := dec.Decode(&rs)
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return nil, fmt.Errorf("testserver: parse mariadb xml output: %w", err)
		}
		res = &Result{}
		for _, row := range rs.Rows {
			res.addMariaRow(row)
		}
	}
}

func (r *Result) addMariaRow(row mariaRow) {
	if r.Columns == nil {
		for _, f := range row.Fields {
			r.Columns = append(r.Columns, f.Name)
		}
	}
	vals := make([]sql.NullString, len(row.Fields))
	for i, f := range row.Fields {
		vals[i] = sql.NullString{String: f.Value, Valid: f.Nil != "true"}
	}
	r.Rows = append(r.Rows, vals)
}
