package mysql

import (
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

// TestDescFromBinlogType covers the metadata encodings of the binlog's
// column types, including ENUM and SET hidden in MYSQL_TYPE_STRING.
func TestDescFromBinlogType(t *testing.T) {
	tests := []struct {
		tp     byte
		meta   uint16
		base   string
		length int
	}{
		{gomysql.MYSQL_TYPE_LONG, 0, "int", 0},
		{gomysql.MYSQL_TYPE_TIMESTAMP2, 6, "timestamp", 0},
		{gomysql.MYSQL_TYPE_NEWDECIMAL, 65<<8 | 30, "decimal", 0},
		{gomysql.MYSQL_TYPE_BIT, 1<<8 | 2, "bit", 10},
		{gomysql.MYSQL_TYPE_BLOB, 3, "mediumblob", 0},
		{gomysql.MYSQL_TYPE_VARCHAR, 1020, "varchar", 1020},
		{gomysql.MYSQL_TYPE_STRING, uint16(gomysql.MYSQL_TYPE_STRING)<<8 | 8, "char", 8},
		{gomysql.MYSQL_TYPE_STRING, uint16(gomysql.MYSQL_TYPE_ENUM)<<8 | 1, "enum", 0},
		{gomysql.MYSQL_TYPE_STRING, uint16(gomysql.MYSQL_TYPE_SET)<<8 | 2, "set", 0},
		{gomysql.MYSQL_TYPE_STRING, 0xce<<8 | 0xfc, "char", 1020}, // char(255) utf8mb4: length bits 8-9 XORed into b0
	}
	for _, tc := range tests {
		t.Run(tc.base, func(t *testing.T) {
			d := descFromBinlogType(tc.tp, tc.meta)
			if d.Base != tc.base || d.Length != tc.length {
				t.Errorf("type %d meta %#x: %s(%d), want %s(%d)", tc.tp, tc.meta, d.Base, d.Length, tc.base, tc.length)
			}
		})
	}
}
