package mysql

import (
	"fmt"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// binaryCollation is the collation id of the binary character set.
const binaryCollation = 63

// colDesc is a column described the same way whether it comes from a binlog
// table map or from information_schema, so that both paths derive the very
// same cdc.Column.
type colDesc struct {
	Name       string   `json:"name"`
	Base       string   `json:"base"` // information_schema DATA_TYPE spelling: int, varchar, ...
	Unsigned   bool     `json:"unsigned,omitempty"`
	Binary     bool     `json:"binary,omitempty"` // binary character set (binary, varbinary, blob)
	Length     int      `json:"length,omitempty"` // bit: bits; binary(n): bytes
	Precision  int      `json:"precision,omitempty"`
	Scale      int      `json:"scale,omitempty"`
	Members    []string `json:"members,omitempty"` // enum and set members
	Nullable   bool     `json:"nullable,omitempty"`
	ColumnType string   `json:"column_type,omitempty"` // information_schema COLUMN_TYPE, when known
	JSON       bool     `json:"json,omitempty"`        // MariaDB: longtext with a json_valid check
	Charset    string   `json:"charset,omitempty"`     // character set of text, from information_schema
}

// descsFromTableMap describes the columns of a table map event. ok is false
// when the event lacks the column names (binlog_row_metadata=MINIMAL).
func descsFromTableMap(tm *replication.TableMapEvent) (descs []colDesc, pk []int, ok bool) {
	names := tm.ColumnNameString()
	if len(names) != int(tm.ColumnCount) {
		return nil, nil, false
	}
	unsigned := tm.UnsignedMap()
	collations := tm.CollationMap()
	enums, sets := tm.EnumStrValueMap(), tm.SetStrValueMap()
	descs = make([]colDesc, tm.ColumnCount)
	for i := range descs {
		d := descFromBinlogType(tm.ColumnType[i], tm.ColumnMeta[i])
		d.Name = names[i]
		d.Unsigned = unsigned[i]
		if c, ok := collations[i]; ok {
			d.Binary = c == binaryCollation
		}
		d.Binary = fixBinaryBase(&d)
		if d.Base == "enum" {
			d.Members = enums[i]
		} else if d.Base == "set" {
			d.Members = sets[i]
		}
		_, d.Nullable = tm.Nullable(i)
		descs[i] = d
	}
	for _, k := range tm.PrimaryKey {
		pk = append(pk, int(k))
	}
	return descs, pk, true
}

// plainBase is the type name of binlog types that need no metadata.
var plainBase = map[byte]string{
	gomysql.MYSQL_TYPE_TINY: "tinyint", gomysql.MYSQL_TYPE_SHORT: "smallint", gomysql.MYSQL_TYPE_INT24: "mediumint",
	gomysql.MYSQL_TYPE_LONG: "int", gomysql.MYSQL_TYPE_LONGLONG: "bigint", gomysql.MYSQL_TYPE_FLOAT: "float",
	gomysql.MYSQL_TYPE_DOUBLE: "double", gomysql.MYSQL_TYPE_TIMESTAMP: "timestamp", gomysql.MYSQL_TYPE_TIMESTAMP2: "timestamp",
	gomysql.MYSQL_TYPE_DATETIME: "datetime", gomysql.MYSQL_TYPE_DATETIME2: "datetime", gomysql.MYSQL_TYPE_DATE: "date",
	gomysql.MYSQL_TYPE_TIME: "time", gomysql.MYSQL_TYPE_TIME2: "time", gomysql.MYSQL_TYPE_YEAR: "year",
	gomysql.MYSQL_TYPE_ENUM: "enum", gomysql.MYSQL_TYPE_SET: "set", gomysql.MYSQL_TYPE_JSON: "json",
}

// descFromBinlogType maps a binlog column type and its metadata.
func descFromBinlogType(tp byte, meta uint16) colDesc {
	if base, ok := plainBase[tp]; ok {
		return colDesc{Base: base}
	}
	switch tp {
	case gomysql.MYSQL_TYPE_NEWDECIMAL:
		return colDesc{Base: "decimal", Precision: int(meta >> 8), Scale: int(meta & 0xff)}
	case gomysql.MYSQL_TYPE_BIT:
		return colDesc{Base: "bit", Length: int(meta>>8)*8 + int(meta&0xff)}
	case gomysql.MYSQL_TYPE_GEOMETRY:
		return colDesc{Base: "geometry", Binary: true}
	case gomysql.MYSQL_TYPE_BLOB:
		return colDesc{Base: [...]string{"blob", "tinyblob", "blob", "mediumblob", "longblob"}[min(int(meta), 4)]}
	case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING:
		return colDesc{Base: "varchar", Length: int(meta)}
	case gomysql.MYSQL_TYPE_STRING:
		return stringDesc(meta)
	}
	return colDesc{Base: fmt.Sprintf("type%d", tp)}
}

// stringDesc decodes MYSQL_TYPE_STRING metadata, which also encodes ENUM and
// SET columns.
func stringDesc(meta uint16) colDesc {
	if meta < 256 {
		return colDesc{Base: "char", Length: int(meta)}
	}
	b0, b1 := byte(meta>>8), byte(meta&0xff)
	if b0&0x30 != 0x30 {
		return colDesc{Base: "char", Length: int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)}
	}
	switch b0 {
	case gomysql.MYSQL_TYPE_ENUM:
		return colDesc{Base: "enum"}
	case gomysql.MYSQL_TYPE_SET:
		return colDesc{Base: "set"}
	}
	return colDesc{Base: "char", Length: int(b1)}
}

// fixBinaryBase gives character types their information_schema spelling:
// binary/varbinary for the binary charset, text for non-binary blobs. It
// returns d.Binary.
func fixBinaryBase(d *colDesc) bool {
	switch {
	case d.Binary && d.Base == "char":
		d.Base = "binary"
	case d.Binary && d.Base == "varchar":
		d.Base = "varbinary"
	case !d.Binary && strings.HasSuffix(d.Base, "blob"):
		d.Base = strings.TrimSuffix(d.Base, "blob") + "text"
	}
	return d.Binary
}

// isGeometry reports whether base is a spatial type, whose values are a
// 4-byte SRID followed by WKB.
func isGeometry(base string) bool {
	switch base {
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
		"geometrycollection", "geomcollection":
		return true
	}
	return false
}

// isText reports whether base is a character type whose values are text.
func isText(d colDesc) bool {
	switch d.Base {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		return true
	case "tinyblob", "blob", "mediumblob", "longblob":
		return !d.Binary
	}
	return false
}

// column derives the cdc.Column of d.
func (d colDesc) column() cdc.Column {
	c := cdc.Column{Name: d.Name, Type: d.typeString(), Optional: d.Nullable}
	switch d.Base {
	case "tinyint", "smallint", "mediumint", "year":
		c.Kind = cdc.KindInt32
	case "int":
		c.Kind = cdc.KindInt32
		if d.Unsigned {
			c.Kind = cdc.KindInt64
		}
	case "bigint":
		c.Kind = cdc.KindInt64
		if d.Unsigned {
			c.Kind = cdc.KindUint64
		}
	case "decimal":
		c.Kind, c.Precision, c.Scale = cdc.KindDecimal, d.Precision, d.Scale
	case "float":
		c.Kind = cdc.KindFloat32
	case "double":
		c.Kind = cdc.KindFloat64
	case "bit":
		c.Kind = cdc.KindBytes
		if d.Length == 1 {
			c.Kind = cdc.KindBool
		}
	case "date":
		c.Kind = cdc.KindDate
	case "datetime":
		c.Kind = cdc.KindLocalTimestampMicros
	case "timestamp":
		c.Kind = cdc.KindTimestampMicros
	case "time":
		c.Kind = cdc.KindDurationMicros
	case "enum":
		c.Kind, c.SemanticName = cdc.KindString, "io.debezium.data.Enum"
	case "set":
		c.Kind, c.SemanticName = cdc.KindString, "io.debezium.data.EnumSet"
	case "json":
		c.Kind, c.SemanticName = cdc.KindString, "io.debezium.data.Json"
	case "uuid":
		c.Kind = cdc.KindUUID
	case "inet6", "inet4":
		c.Kind = cdc.KindString
	default:
		c.Kind = cdc.KindBytes
		if isText(d) {
			c.Kind = cdc.KindString
			if d.JSON {
				c.SemanticName = "io.debezium.data.Json"
			}
		}
	}
	return c
}

// typeString is the declared type, from information_schema when known.
func (d colDesc) typeString() string {
	if d.ColumnType != "" {
		return d.ColumnType
	}
	var s string
	switch d.Base {
	case "decimal":
		s = fmt.Sprintf("decimal(%d,%d)", d.Precision, d.Scale)
	case "bit", "binary":
		s = fmt.Sprintf("%s(%d)", d.Base, d.Length)
	case "enum", "set":
		q := make([]string, len(d.Members))
		for i, m := range d.Members {
			q[i] = "'" + strings.ReplaceAll(m, "'", "''") + "'"
		}
		s = d.Base + "(" + strings.Join(q, ",") + ")"
	default:
		s = d.Base
	}
	if d.Unsigned {
		s += " unsigned"
	}
	return s
}
