package cdc

import (
	"fmt"
	"strings"
	"testing"
)

func TestResolveKey(t *testing.T) {
	tbl := &Table{ID: TableID{Schema: "s", Name: "t"}, Columns: []Column{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	tests := []struct {
		name           string
		configured, pk []string
		want           string
		err            string
	}{
		{"primary key in key order", nil, []string{"c", "a"}, "[2 0]", ""},
		{"configured wins", []string{"b"}, []string{"a"}, "[1]", ""},
		{"no key", nil, nil, "[]", ""},
		{"excluded key column", nil, []string{"x"}, "", "primary key"},
		{"unknown configured column", []string{"x"}, nil, "", "source.key_columns"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveKey(tbl, tc.configured, tc.pk)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != tc.want {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}
