package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// TestParseFluxoArgs mirrors cmd/fluxo's command line.
func TestParseFluxoArgs(t *testing.T) {
	cases := []struct {
		args []string
		want fluxoRun
		err  string
	}{
		{[]string{"stream", "-c", "/etc/fluxo/x.yaml"}, fluxoRun{Command: "stream", Config: "/etc/fluxo/x.yaml"}, ""},
		{[]string{"stream", "-c", "x.yaml", "--log-format", "json", "--log-level=debug"}, fluxoRun{Command: "stream", Config: "x.yaml"}, ""},
		{[]string{"fullload", "--run-id", "r1", "-c", "x.yaml", "--tables", "a.b"}, fluxoRun{Command: "fullload", Config: "x.yaml", RunID: "r1", Tables: "a.b"}, ""},
		{[]string{"status", "-c", "x.yaml", "--json"}, fluxoRun{Command: "status", Config: "x.yaml"}, ""},
		{[]string{"version"}, fluxoRun{Command: "version"}, ""},
		{nil, fluxoRun{}, "no fluxo command"},
		{[]string{"-c", "x.yaml"}, fluxoRun{Command: "-c"}, `unknown fluxo command "-c"`},
		{[]string{"stream"}, fluxoRun{Command: "stream"}, "fluxo stream needs -c FILE"},
		{[]string{"stream", "-c", "x.yaml", "extra"}, fluxoRun{Command: "stream", Config: "x.yaml"}, `unexpected argument "extra"`},
		{[]string{"stream", "-c", "x.yaml", "--log-level", "loud"}, fluxoRun{Command: "stream", Config: "x.yaml"}, `--log-level "loud"`},
		{[]string{"stream", "-c", "x.yaml", "--log-format", "yaml"}, fluxoRun{Command: "stream", Config: "x.yaml"}, `--log-format "yaml"`},
		{[]string{"stream", "-c", "x.yaml", "--run-id", "r"}, fluxoRun{Command: "stream", Config: "x.yaml", RunID: "r"}, "fullload flags"},
		{[]string{"stream", "-c", "x.yaml", "--json"}, fluxoRun{Command: "stream", Config: "x.yaml"}, "--json is a status flag"},
		{[]string{"stream", "--config", "x.yaml"}, fluxoRun{Command: "stream"}, "flag provided but not defined: -config"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, err := parseFluxoArgs(tc.args)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestServedPortAndEndpoints reads http.listen and the servers of a config
// loaded by fluxo's config package.
func TestServedPortAndEndpoints(t *testing.T) {
	base := "name: x\nsource:\n  dsn: postgres://u:${PW}@127.0.0.1/db\nkafka:\n  brokers: [k1:9092, k2:9093]\nschema_registry:\n  url: http://sr\nbronze:\n  url: s3://b/p?endpoint=http://minio:9000\n"
	cases := []struct {
		listen string
		port   int
		err    string
	}{
		{":9187", 9187, ""},
		{"0.0.0.0:9190", 9190, ""},
		{"[::]:9187", 9187, ""},
		{"127.0.0.1:9187", 0, "inside the container only"},
		{"localhost:9187", 0, "inside the container only"},
		{"[::1]:9187", 0, "inside the container only"},
		{"", 0, "inside the container only"}, // the default, 127.0.0.1:9187
	}
	for _, tc := range cases {
		data := base
		if tc.listen != "" {
			data += "http:\n  listen: \"" + tc.listen + "\"\n"
		}
		cfg, err := loadFluxoConfig("x.yaml", []byte(data), "stream", mapEnv(map[string]string{"PW": "p#w"}))
		if err != nil {
			t.Fatalf("%q: %v", tc.listen, err)
		}
		port, err := servedPort(cfg)
		if port != tc.port || (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("listen %q: port %d, err %v; want %d, %q", tc.listen, port, err, tc.port, tc.err)
		}
	}
	cfg, err := loadFluxoConfig("x.yaml", []byte(base), "fullload", mapEnv(map[string]string{"PW": "p"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.Connector() != cdc.ConnectorPostgres {
		t.Fatalf("flavor %q", cfg.Source.Connector())
	}
	got := endpoints(cfg, "stream")
	want := []endpoint{{"source.dsn", "127.0.0.1", 5432}, {"kafka.brokers", "k1", 9092}, {"kafka.brokers", "k2", 9093}, {"schema_registry.url", "sr", 80}}
	if len(got) != len(want) {
		t.Fatalf("stream endpoints %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("stream endpoint %d: %v, want %v", i, got[i], want[i])
		}
	}
	if got := endpoints(cfg, "fullload"); len(got) != 2 || got[1] != (endpoint{"bronze.url endpoint", "minio", 9000}) {
		t.Errorf("fullload endpoints %v", got)
	}
	sink := []endpoint{{"bronze.url endpoint", "minio", 9000}, {"kafka.brokers", "k1", 9092}, {"kafka.brokers", "k2", 9093}, {"schema_registry.url", "sr", 80}}
	if got := endpoints(cfg, "sink"); !slices.Equal(got, sink) { // not the database
		t.Errorf("sink endpoints %v, want %v", got, sink)
	}
}
