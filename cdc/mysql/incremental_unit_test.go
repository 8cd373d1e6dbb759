package mysql

import (
	"fmt"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

func TestBinlogPointOrder(t *testing.T) {
	tests := []struct {
		p, q binlogPoint
		want bool
	}{
		{binlogPoint{"binlog.000001", 100}, binlogPoint{"binlog.000001", 200}, true},
		{binlogPoint{"binlog.000001", 200}, binlogPoint{"binlog.000001", 200}, false},
		{binlogPoint{"binlog.000009", 900}, binlogPoint{"binlog.000010", 4}, true},
		{binlogPoint{"binlog.000010", 4}, binlogPoint{"binlog.000009", 900}, false},
		{binlogPoint{"binlog.999999", 4}, binlogPoint{"binlog.1000000", 4}, true}, // past six digits
	}
	for _, tc := range tests {
		if got := tc.p.before(tc.q); got != tc.want {
			t.Errorf("%v before %v = %v, want %v", tc.p, tc.q, got, tc.want)
		}
	}
}

func TestChunkQuery(t *testing.T) {
	cols := []colDesc{{Name: "x", Base: "int"}, {Name: "a", Base: "int"}, {Name: "b", Base: "varchar"}, {Name: "c", Base: "datetime"}}
	table := func(key ...int) *tableReader {
		ts, err := buildTable(cdc.TableID{Schema: "db", Name: "t"}, cols, key, excludeX{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return newTableReader(ts, "CAST(%s AS DOUBLE)")
	}
	tests := []struct {
		name  string
		tr    *tableReader
		after []any
		q     string
	}{
		{"first chunk", table(1), nil, "SELECT `a`, `b`, CAST(`c` AS CHAR) FROM `db`.`t` ORDER BY `a` LIMIT 10"},
		{"next chunk", table(1), []any{int64(-5)}, "SELECT `a`, `b`, CAST(`c` AS CHAR) FROM `db`.`t` WHERE `a` > -5 ORDER BY `a` LIMIT 10"},
		{"composite key, text in its collation", table(2, 1), []any{"k'\\", int64(3)},
			"SELECT `a`, `b`, CAST(`c` AS CHAR) FROM `db`.`t` WHERE (`b` > _utf8mb4 X'6b275c' OR (`b` = _utf8mb4 X'6b275c' AND `a` > 3)) ORDER BY `b`, `a` LIMIT 10"},
		{"three columns, a datetime as its text", table(1, 2, 3), []any{int64(1), "x", []byte("2024-01-02 03:04:05")},
			"SELECT `a`, `b`, CAST(`c` AS CHAR) FROM `db`.`t` WHERE (`a` > 1 OR (`a` = 1 AND (`b` > _utf8mb4 X'78' OR (`b` = _utf8mb4 X'78' AND `c` > '2024-01-02 03:04:05')))) ORDER BY `a`, `b`, `c` LIMIT 10"},
		{"no key: the whole table", table(), nil, "SELECT `a`, `b`, CAST(`c` AS CHAR) FROM `db`.`t`"},
	}
	for _, tc := range tests {
		q, err := chunkQuery(tc.tr, tc.after, 10)
		if err != nil || q != tc.q {
			t.Errorf("%s:\n got %s (%v)\nwant %s", tc.name, q, err, tc.q)
		}
	}
}

// TestKeyLiteral: each kind of key value as a literal the server converts
// back to the same key, whatever the sql_mode.
func TestKeyLiteral(t *testing.T) {
	tests := []struct {
		v    any
		d    colDesc
		want string
	}{
		{int64(-7), colDesc{Base: "int"}, "-7"},
		{uint64(18446744073709551615), colDesc{Base: "bigint", Unsigned: true}, "18446744073709551615"},
		{"é'a", colDesc{Base: "varchar"}, "_utf8mb4 X'c3a92761'"},
		{[]byte{0, 0xff}, colDesc{Base: "varbinary"}, "X'00ff'"},
		{[]byte("12.50"), colDesc{Base: "decimal"}, "'12.50'"},
		{"0b1e7c1c-5a1e-4f5e-9b1a-3c2d1e0f9a8b", colDesc{Base: "uuid"}, "'0b1e7c1c-5a1e-4f5e-9b1a-3c2d1e0f9a8b'"},
		{[]byte(`a'b`), colDesc{Base: "enum"}, "_utf8mb4 X'612762'"},
	}
	for _, tc := range tests {
		if got, err := keyLiteral(tc.v, tc.d); err != nil || got != tc.want {
			t.Errorf("keyLiteral(%#v, %s) = %s, %v; want %s", tc.v, tc.d.Base, got, err, tc.want)
		}
	}
	if _, err := keyLiteral(struct{}{}, colDesc{Name: "k", Base: "int"}); err == nil {
		t.Error("a value of an unknown type has a literal")
	}
}

// TestReaderKeys: the key's source columns, past an excluded column.
func TestReaderKeys(t *testing.T) {
	cols := []colDesc{{Name: "x", Base: "int"}, {Name: "a", Base: "int"}, {Name: "b", Base: "varchar"}}
	ts, err := buildTable(cdc.TableID{Schema: "db", Name: "t"}, cols, []int{2, 1}, excludeX{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(newTableReader(ts, "%s").keys); got != "[2 1]" {
		t.Errorf("key sources %s, want [2 1]", got)
	}
}

// excludeX excludes column x: the key positions must map past it.
type excludeX struct{ allTables }

func (excludeX) ExcludedColumn(_, _, col string) bool { return col == "x" }
