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
	cols := []colDesc{{Name: "x", Base: "int"}, {Name: "a", Base: "int"}, {Name: "b", Base: "varchar"}, {Name: "c", Base: "int"}}
	table := func(key ...int) *tableState {
		ts, err := buildTable(cdc.TableID{Schema: "db", Name: "t"}, cols, key, excludeX{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	tests := []struct {
		name  string
		ts    *tableState
		after []any
		q     string
		args  string
	}{
		{"first chunk", table(1), nil, "SELECT `a`, `b`, `c` FROM `db`.`t` ORDER BY `a` LIMIT 10", "[]"},
		{"next chunk", table(1), []any{int64(-5)}, "SELECT `a`, `b`, `c` FROM `db`.`t` WHERE `a` > ? ORDER BY `a` LIMIT 10", "[-5]"},
		{"composite key", table(2, 1), []any{"k", int64(3)},
			"SELECT `a`, `b`, `c` FROM `db`.`t` WHERE (`b` > ? OR (`b` = ? AND `a` > ?)) ORDER BY `b`, `a` LIMIT 10", "[k k 3]"},
		{"three columns", table(1, 2, 3), []any{int64(1), "x", int64(2)},
			"SELECT `a`, `b`, `c` FROM `db`.`t` WHERE (`a` > ? OR (`a` = ? AND (`b` > ? OR (`b` = ? AND `c` > ?)))) ORDER BY `a`, `b`, `c` LIMIT 10", "[1 1 x x 2]"},
		{"no key: the whole table", table(), nil, "SELECT `a`, `b`, `c` FROM `db`.`t`", "[]"},
	}
	for _, tc := range tests {
		q, args := chunkQuery(tc.ts, tc.after, 10)
		if q != tc.q || fmt.Sprint(args) != tc.args && !(tc.args == "[]" && len(args) == 0) {
			t.Errorf("%s:\n got %s %v\nwant %s %s", tc.name, q, args, tc.q, tc.args)
		}
	}
}

// TestKeySources: the key's source columns, past an excluded column.
func TestKeySources(t *testing.T) {
	cols := []colDesc{{Name: "x", Base: "int"}, {Name: "a", Base: "int"}, {Name: "b", Base: "varchar"}}
	ts, err := buildTable(cdc.TableID{Schema: "db", Name: "t"}, cols, []int{2, 1}, excludeX{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(keySources(ts)); got != "[2 1]" {
		t.Errorf("key sources %s, want [2 1]", got)
	}
}

// excludeX excludes column x: the key positions must map past it.
type excludeX struct{ allTables }

func (excludeX) ExcludedColumn(_, _, col string) bool { return col == "x" }
