package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "name: shop\nsource:\n  dsn: mysql://u:sekret@127.0.0.1:3306/shop\nkafka:\n  brokers: [127.0.0.1:9092]\nschema_registry:\n  url: http://127.0.0.1:8081\ncheckpoint:\n  path: "+filepath.Join(dir, "none.checkpoint")+"\n")
	unknown := write("unknown.yaml", "name: shop\nsource:\n  dsn: mysql://u:sekret@h/db\n  tabels: [a.b]\n")
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
		absent   []string
	}{
		{"version", []string{"version"}, 0, []string{"fluxo ", "go1."}, nil},
		{"no command", nil, 2, []string{"usage: fluxo"}, nil},
		{"unknown command", []string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`}, nil},
		{"missing -c", []string{"stream"}, 1, []string{"pass -c FILE"}, nil},
		{"unknown key", []string{"stream", "-c", unknown, "--log-format", "text"}, 1,
			[]string{"unknown.yaml:4", `unknown key "tabels"`, "tables"}, []string{"sekret"}},
		{"missing file", []string{"stream", "-c", filepath.Join(dir, "nope.yaml")}, 1, []string{"nope.yaml"}, nil},
		{"bad log level", []string{"status", "-c", good, "--log-level", "loud"}, 2, []string{"--log-level"}, nil},
		{"status without checkpoint", []string{"status", "-c", good}, 0, []string{"never"}, []string{"sekret"}},
		{"flag of another command", []string{"stream", "-c", good, "--run-id", "7"}, 2,
			[]string{"flag provided but not defined: -run-id", "usage: fluxo stream -c FILE"}, nil},
		{"json on stream", []string{"stream", "-c", good, "--json"}, 2, []string{"not defined: -json"}, nil},
		{"stray argument", []string{"stream", "-c", good, "extra.yaml"}, 2, []string{`unexpected argument "extra.yaml"`}, nil},
		{"config as argument", []string{"check", good}, 2, []string{"unexpected argument", "usage: fluxo check -c FILE"}, nil},
		{"command help", []string{"fullload", "-h"}, 0, []string{"usage: fluxo fullload", "-run-id", "-tables", "resume"}, []string{"-json"}},
		{"bad --tables", []string{"fullload", "-c", good, "--tables", "orders"}, 2, []string{`--tables: "orders"`, "schema.table"}, nil},
		{"help", []string{"help"}, 0, []string{"stream", "fullload", "check", "status", "version"}, nil},
		{"version flag", []string{"--version"}, 0, []string{"fluxo 0.1.0-dev"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tc.args, &out, &errOut)
			all := out.String() + errOut.String()
			if code != tc.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.code, all)
			}
			for _, c := range tc.contains {
				if !strings.Contains(all, c) {
					t.Errorf("output lacks %q:\n%s", c, all)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(all, a) {
					t.Errorf("output shows %q:\n%s", a, all)
				}
			}
		})
	}
}

// TestShippedExampleConfig keeps deploy/examples/shop.yaml valid.
func TestShippedExampleConfig(t *testing.T) {
	t.Setenv("FLUXO_DB_PASSWORD", "x")
	var out, errOut bytes.Buffer
	if code := run([]string{"status", "-c", "../../deploy/examples/shop.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
}

func TestParseTables(t *testing.T) {
	tests := []struct {
		flag string
		want []string
		err  bool
	}{
		{"", nil, false},
		{" shop.orders , shop.items", []string{"shop.orders", "shop.items"}, false},
		{"orders", nil, true},
		{"a.b.c", nil, true},
		{".b", nil, true},
		{"a.", nil, true},
	}
	for _, tc := range tests {
		got, err := parseTables(tc.flag)
		if (err != nil) != tc.err || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("parseTables(%q) = %q, %v; want %q, error %v", tc.flag, got, err, tc.want, tc.err)
		}
	}
}
