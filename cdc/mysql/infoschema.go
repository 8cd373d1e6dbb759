package mysql

import (
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/fluxo-cdc/fluxo/cdc"
)

const columnsQuery = `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE,
	COALESCE(NUMERIC_PRECISION, 0), COALESCE(NUMERIC_SCALE, 0), COALESCE(CHARACTER_SET_NAME, ''),
	COALESCE(CHARACTER_OCTET_LENGTH, 0)
	FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`

const pkQuery = `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
	WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`

// jsonChecksQuery finds MariaDB JSON columns (longtext with json_valid).
const jsonChecksQuery = `SELECT CONSTRAINT_NAME FROM information_schema.CHECK_CONSTRAINTS
	WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? AND CHECK_CLAUSE LIKE 'json_valid(%'`

// descsFromInfoSchema describes a table from information_schema.
func descsFromInfoSchema(conn *client.Conn, id cdc.TableID) ([]colDesc, []int, error) {
	r, err := conn.Execute(columnsQuery, id.Schema, id.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("read columns of %s: %w", id, explainPrivilege(err, "SELECT"))
	}
	defer r.Close()
	if len(r.Values) == 0 {
		return nil, nil, fmt.Errorf("table %s not found in information_schema (dropped, or no SELECT privilege on it)", id)
	}
	descs := make([]colDesc, len(r.Values))
	for i := range r.Values {
		descs[i] = infoDesc(r, i)
	}
	if err := markJSON(conn, id, descs); err != nil {
		return nil, nil, err
	}
	pk, err := primaryKey(conn, id, descs)
	return descs, pk, err
}

func infoDesc(r interface {
	GetString(row, col int) (string, error)
	GetInt(row, col int) (int64, error)
}, i int) colDesc {
	str := func(c int) string { s, _ := r.GetString(i, c); return strings.Clone(s) }
	num := func(c int) int { n, _ := r.GetInt(i, c); return int(n) }
	d := colDesc{Name: str(0), Base: strings.ToLower(str(1)), ColumnType: str(2), Nullable: str(3) == "YES"}
	d.Unsigned = strings.Contains(strings.ToLower(d.ColumnType), "unsigned")
	charset := str(6)
	if isGeometry(d.Base) {
		// The binlog knows only MYSQL_TYPE_GEOMETRY: describe every spatial
		// type as geometry so both paths agree (COLUMN_TYPE keeps "point").
		d.Base = "geometry"
	}
	switch d.Base {
	case "decimal":
		d.Precision, d.Scale = num(4), num(5)
	case "bit":
		d.Length = num(4)
	case "binary":
		d.Length, d.Binary = num(7), true
	case "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry":
		d.Binary = true
	case "enum", "set":
		d.Members = parseMembers(d.ColumnType)
	}
	if charset == "binary" {
		d.Binary = true
	}
	return d
}

// parseMembers extracts the members of "enum('a','it”s')".
func parseMembers(columnType string) []string {
	open := strings.IndexByte(columnType, '(')
	if open < 0 {
		return nil
	}
	s := columnType[open+1:]
	var out []string
	for {
		if !strings.HasPrefix(s, "'") {
			return out
		}
		s = s[1:]
		var b strings.Builder
		for len(s) > 0 {
			if s[0] == '\'' {
				if len(s) > 1 && s[1] == '\'' {
					b.WriteByte('\'')
					s = s[2:]
					continue
				}
				s = s[1:]
				break
			}
			b.WriteByte(s[0])
			s = s[1:]
		}
		out = append(out, b.String())
		s = strings.TrimPrefix(s, ",")
	}
}

func markJSON(conn *client.Conn, id cdc.TableID, descs []colDesc) error {
	r, err := conn.Execute(jsonChecksQuery, id.Schema, id.Name)
	if err != nil {
		return nil // MySQL before 8.0.16 has no CHECK_CONSTRAINTS; nothing to mark
	}
	defer r.Close()
	for i := range r.Values {
		name := cell(r, i, 0)
		for j := range descs {
			if descs[j].Name == name && isText(descs[j]) {
				descs[j].JSON = true
			}
		}
	}
	return nil
}

func primaryKey(conn *client.Conn, id cdc.TableID, descs []colDesc) ([]int, error) {
	r, err := conn.Execute(pkQuery, id.Schema, id.Name)
	if err != nil {
		return nil, fmt.Errorf("read primary key of %s: %w", id, err)
	}
	defer r.Close()
	var pk []int
	for i := range r.Values {
		name := cell(r, i, 0)
		for j := range descs {
			if descs[j].Name == name {
				pk = append(pk, j)
			}
		}
	}
	return pk, nil
}

// decorate copies the declared column types (and MariaDB's JSON marks) from
// information_schema onto binlog-derived descriptions whose name and base
// type match.
func decorate(conn *client.Conn, id cdc.TableID, descs []colDesc) error {
	info, _, err := descsFromInfoSchema(conn, id)
	if err != nil {
		return err
	}
	byName := make(map[string]colDesc, len(info))
	for _, d := range info {
		byName[d.Name] = d
	}
	for i := range descs {
		d, ok := byName[descs[i].Name]
		switch {
		case !ok:
		case d.Base == descs[i].Base:
			descs[i].ColumnType, descs[i].JSON = d.ColumnType, d.JSON
		case isFixedBinaryOf(d, descs[i]):
			descs[i].Base, descs[i].ColumnType = d.Base, d.ColumnType
		}
	}
	return nil
}

// isFixedBinaryOf reports whether info describes a MariaDB fixed-binary
// type (UUID, INET6, INET4) that the binlog describes as bin, a BINARY(n)
// of the same size.
func isFixedBinaryOf(info, bin colDesc) bool {
	n := fixedBinaryLength(info.Base)
	return n > 0 && bin.Base == "binary" && bin.Length == n
}
