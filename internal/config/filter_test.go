package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestTableFilterMatch(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		schema, table    string
		want             bool
	}{
		{"listed", []string{"shop.orders"}, nil, "shop", "orders", true},
		{"not listed", []string{"shop.orders"}, nil, "shop", "customers", false},
		{"case-sensitive", []string{"shop.orders"}, nil, "shop", "Orders", false},
		{"table glob", []string{"shop.*"}, nil, "shop", "anything", true},
		{"schema glob", []string{"*.orders"}, nil, "eu", "orders", true},
		{"question mark", []string{"shop.order?"}, nil, "shop", "orders", true},
		{"question mark is one char", []string{"shop.order?"}, nil, "shop", "order", false},
		{"excluded", []string{"shop.*"}, []string{"shop.tmp_*"}, "shop", "tmp_x", false},
		{"not excluded", []string{"shop.*"}, []string{"shop.tmp_*"}, "shop", "orders", true},
		{"empty include means all", nil, nil, "shop", "orders", true},
		{"empty include minus excludes", nil, []string{"shop.orders"}, "shop", "orders", false},
		{"system schema skipped", nil, nil, "mysql", "user", false},
		{"information_schema skipped", nil, nil, "information_schema", "tables", false},
		{"performance_schema skipped", nil, nil, "performance_schema", "threads", false},
		{"sys skipped", nil, nil, "sys", "x", false},
		{"pg_catalog skipped", nil, nil, "pg_catalog", "pg_class", false},
		{"glob does not reach system schema", []string{"*.*"}, nil, "mysql", "user", false},
		{"system schema named literally", []string{"mysql.user"}, nil, "mysql", "user", true},
		{"dot in name is not a wildcard", []string{"shop.orders"}, nil, "shop", "orders.x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Source{Tables: tt.include, ExcludeTables: tt.exclude}.TableFilter()
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(tt.schema, tt.table); got != tt.want {
				t.Errorf("Match(%s, %s) = %v", tt.schema, tt.table, got)
			}
		})
	}
}

func TestTableFilterColumns(t *testing.T) {
	s := Source{
		ExcludeColumns: []string{"shop.customers.tax_id", "*.*.password", "shop.t?.secret_*"},
		KeyColumns: map[string][]string{
			"shop.events": {"event_id"}, "shop.ev*": {"id"}, "shop.e*": {"other"}, "log.*": {"ts", "seq"},
		},
	}
	f, err := s.TableFilter()
	if err != nil {
		t.Fatal(err)
	}
	excluded := []struct {
		schema, table, column string
		want                  bool
	}{
		{"shop", "customers", "tax_id", true},
		{"shop", "customers", "name", false},
		{"shop", "orders", "tax_id", false},
		{"any", "users", "password", true},
		{"any", "users", "Password", false},
		{"shop", "t1", "secret_key", true},
		{"shop", "t12", "secret_key", false},
	}
	for _, tt := range excluded {
		t.Run("exclude "+tt.schema+"."+tt.table+"."+tt.column, func(t *testing.T) {
			if got := f.ExcludedColumn(tt.schema, tt.table, tt.column); got != tt.want {
				t.Errorf("got %v", got)
			}
		})
	}
	keys := []struct {
		schema, table string
		want          []string
	}{
		{"shop", "events", []string{"event_id"}},
		{"shop", "evlog", []string{"id"}},
		{"shop", "email", []string{"other"}},
		{"log", "app", []string{"ts", "seq"}},
		{"shop", "orders", nil},
	}
	for _, tt := range keys {
		t.Run("keys "+tt.schema+"."+tt.table, func(t *testing.T) {
			if got := f.KeyColumns(tt.schema, tt.table); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	f.KeyColumns("shop", "events")[0] = "changed"
	if s.KeyColumns["shop.events"][0] != "event_id" {
		t.Error("KeyColumns returned the configuration's own slice")
	}
}

func TestTableFilterErrors(t *testing.T) {
	tests := []struct {
		name string
		src  Source
		want string
	}{
		{"no dot", Source{Tables: []string{"orders"}}, `source.tables: "orders" does not have 2 dot-separated parts`},
		{"two dots", Source{ExcludeTables: []string{"a.b.c"}}, `source.exclude_tables: "a.b.c"`},
		{"column", Source{ExcludeColumns: []string{"a.b"}}, `source.exclude_columns: "a.b" does not have 3`},
		{"key", Source{KeyColumns: map[string][]string{"a": {"id"}}}, `source.key_columns: "a"`},
		{"malformed glob", Source{Tables: []string{"a.[b"}}, "is a malformed glob"},
		{"postgres wording", Source{DSN: "postgres://h/d", Tables: []string{"x"}}, "write schema.table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.src.TableFilter()
			if f != nil || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, %v; want %s", f, err, tt.want)
			}
		})
	}
}
