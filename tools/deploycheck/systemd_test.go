package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// maxExposure is the highest `systemd-analyze security` exposure the unit
// may have, in tenths (systemd calls up to 2.0 "OK").
const maxExposure = 20

// TestUnitSettings breaks the settings fluxo relies on one at a time.
func TestUnitSettings(t *testing.T) {
	cases := []struct {
		name string
		m    mutation
		want string
	}{
		{"simple service", mutation{unitPath, "Type=notify", "Type=simple"}, "Type=notify is required"},
		{"notify access", mutation{unitPath, "NotifyAccess=main", "NotifyAccess=all"}, "NotifyAccess=main is required"},
		{"config path", mutation{unitPath, "-c /etc/fluxo/%i.yaml", "-c /etc/fluxo/fluxo.yaml"}, "ExecStart=/usr/local/bin/fluxo stream -c /etc/fluxo/%i.yaml"},
		{"no watchdog", mutation{unitPath, "WatchdogSec=30s\n", ""}, "WatchdogSec must be a positive duration"},
		{"bad stop timeout", mutation{unitPath, "TimeoutStopSec=2min", "TimeoutStopSec=soon"}, "TimeoutStopSec must be a positive duration"},
		{"unbounded restarts", mutation{unitPath, "StartLimitBurst=5\n", ""}, "StartLimitBurst is required"},
		{"root", mutation{unitPath, "User=fluxo", "User=root"}, "run as a dedicated user"},
		{"no env file", mutation{unitPath, "EnvironmentFile=-/etc/fluxo/%i.env\n", ""}, "EnvironmentFile=-/etc/fluxo/%i.env is required"},
		{"outside a section", mutation{unitPath, "[Unit]\n", ""}, "assignment outside a section"},
		{"sink runs a stream", mutation{sinkUnit, "fluxo sink -c", "fluxo stream -c"}, "ExecStart=/usr/local/bin/fluxo sink -c /etc/fluxo/%i.yaml"},
		{"sink without watchdog", mutation{sinkUnit, "WatchdogSec=30s\n", ""}, "WatchdogSec must be a positive duration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := copyFromRepo(t, tc.m.File)
			tc.m.apply(t, root)
			f := &findings{}
			command := map[string]string{unitPath: "stream", sinkUnit: "sink"}[tc.m.File]
			checkUnit(f, root, tc.m.File, command)
			wantProblem(t, f.problems, tc.want)
		})
	}
}

// TestParseSystemdDuration covers the time spans the unit uses.
func TestParseSystemdDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30s", 30 * time.Second, true},
		{"2min", 2 * time.Minute, true},
		{"1h 30min", 90 * time.Minute, true},
		{"90", 90 * time.Second, true},
		{"500ms", 500 * time.Millisecond, true},
		{"soon", 0, false},
		{"5x", 0, false},
		{"", 0, false},
	}
	for _, tc := range cases {
		got, err := parseSystemdDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSystemdDuration(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// fluxoBinary returns $FLUXO_BIN, or fluxo built from the repository
// with the default flags, so that the packages `go test ./...` compiled in
// the root module are reused.
func fluxoBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FLUXO_BIN"); p != "" {
		return p
	}
	bin := filepath.Join(t.TempDir(), "fluxo")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/fluxo")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/fluxo: %v\n%s", err, out)
	}
	return bin
}

// TestSystemdAnalyze runs systemd's own checks on the real unit with a real
// fluxo binary, and on broken copies: verify's warnings and errors, and the
// security exposure of the hardening.
func TestSystemdAnalyze(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed (Debian: apt-get install systemd); .ci/run installs it")
	}
	bin := fluxoBinary(t)
	real := filepath.Join(repoRoot(t), unitPath)
	ctx := context.Background()
	for _, u := range []string{unitPath, sinkUnit} {
		if err := verifyUnit(ctx, filepath.Join(repoRoot(t), u), bin, "shop", maxExposure); err != nil {
			t.Fatalf("the real unit %s: %v", u, err)
		}
	}
	data, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	hardening := string(data)[strings.Index(string(data), "NoNewPrivileges"):strings.Index(string(data), "[Install]")]
	cases := []struct {
		name, old, new, bin, want string
	}{
		{"unknown key", "WatchdogSec=30s", "WatchdogSecs=30s", bin, "Unknown key"},
		{"bad value", "Restart=on-failure", "Restart=sometimes", bin, "Failed to parse"},
		{"missing binary", "", "", "", "is not executable"},
		{"no hardening", hardening, "\n", bin, "exposure above 2.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			unit := filepath.Join(t.TempDir(), "fluxo@.service")
			if err := os.WriteFile(unit, []byte(strings.Replace(string(data), tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			err := verifyUnit(ctx, unit, tc.bin, "shop", maxExposure)
			t.Logf("%v", err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}
