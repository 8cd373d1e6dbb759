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
		return nil, nil, fmt.Errorf("table %s not found in information_schema (dropped, or no SELECT privilege on it): %w", id, cdc.ErrTableGone)
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
	} else {
		d.Charset = charset
	}
	return d
}

// parseMembers extracts the members of an enum or set COLUMN_TYPE such as
// enum('a','b c'). The server doubles a quote inside a member and escapes
// backslash, NUL, newline, CR and ^Z with a backslash (append_unescaped in
// sql_show.cc).
func parseMembers(columnType string) []string {
	open := strings.IndexByte(columnType, '(')
	if open < 0 {
		return nil
	}
	s := columnType[open+1:]
	var out []string
	for strings.HasPrefix(s, "'") {
		var m string
		m, s = parseMember(s[1:])
		out = append(out, m)
		s = strings.TrimPrefix(s, ",")
	}
	return out
}

// memberEscapes maps the character after a backslash to what it stands for.
var memberEscapes = map[byte]byte{'0': 0, 'n': '\n', 'r': '\r', 'Z': 0x1a, '\\': '\\', '\'': '\''}

// parseMember reads one quoted member whose opening quote is consumed and
// returns it with the rest of s after the closing quote.
func parseMember(s string) (member, rest string) {
	var b strings.Builder
	for len(s) > 0 {
		c := s[0]
		switch {
		case c == '\'' && len(s) > 1 && s[1] == '\'':
			b.WriteByte('\'')
			s = s[2:]
		case c == '\'':
			return b.String(), s[1:]
		case c == '\\' && len(s) > 1:
			if e, ok := memberEscapes[s[1]]; ok {
				b.WriteByte(e)
			} else {
				b.WriteByte(s[1])
			}
			s = s[2:]
		default:
			b.WriteByte(c)
			s = s[1:]
		}
	}
	return b.String(), ""
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

// decorate copies what only information_schema knows onto binlog-derived
// descriptions (see copyDeclared).
func decorate(conn *client.Conn, id cdc.TableID, descs []colDesc) error {
	info, _, err := descsFromInfoSchema(conn, id)
	if err != nil {
		return err
	}
	copyDeclared(info, descs)
	return nil
}

// copyDeclared copies from known descriptions (information_schema, or a
// saved schema) onto binlog-derived descs, by column name: the declared
// type, MariaDB's JSON mark, the character set and the enum/set members
// (the table map spells them in the column's charset, unconverted) when
// the base types match, and the real type of a MariaDB UUID/INET6/INET4,
// which the table map calls BINARY(n).
func copyDeclared(known, descs []colDesc) {
	byName := make(map[string]colDesc, len(known))
	for _, d := range known {
		byName[d.Name] = d
	}
	for i := range descs {
		d, ok := byName[descs[i].Name]
		switch {
		case !ok:
		case d.Base == descs[i].Base:
			descs[i].ColumnType, descs[i].JSON, descs[i].Charset = d.ColumnType, d.JSON, d.Charset
			if len(d.Members) == len(descs[i].Members) {
				descs[i].Members = d.Members
			}
		case isFixedBinaryOf(d, descs[i]):
			descs[i].Base, descs[i].ColumnType = d.Base, d.ColumnType
		}
	}
}

// isFixedBinaryOf reports whether info describes a MariaDB fixed-binary
// type (UUID, INET6, INET4) that the binlog describes as bin, a BINARY(n)
// of the same size.
func isFixedBinaryOf(info, bin colDesc) bool {
	n := fixedBinaryLength(info.Base)
	return n > 0 && bin.Base == "binary" && bin.Length == n
}
