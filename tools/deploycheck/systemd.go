package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// unitFile is a parsed systemd unit: section -> key -> values in order.
type unitFile map[string]map[string][]string

// parseUnit reads the sections and assignments of a unit file.
func parseUnit(data []byte) (unitFile, error) {
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		case section == "":
			return nil, fmt.Errorf("line %d: assignment outside a section", n)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: not key=value", n)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u, sc.Err()
}

// last returns the effective (last) value of key in section.
func (u unitFile) last(section, key string) string {
	vals := u[section][key]
	if len(vals) == 0 {
		return ""
	}
	return vals[len(vals)-1]
}

// unitWant is one setting the fluxo unit must have.
type unitWant struct {
	section, key, value, why string
}

// unitWants lists what fluxo's integration with systemd relies on.
func unitWants(command string) []unitWant {
	return []unitWant{
		{"Service", "Type", "notify", "fluxo sends READY=1 over $NOTIFY_SOCKET"},
		{"Service", "NotifyAccess", "main", "notifications come from the main process"},
		{"Service", "ExecStart", "/usr/local/bin/fluxo " + command + " -c /etc/fluxo/%i.yaml --log-format json", "one " + command + " per instance, config /etc/fluxo/<instance>.yaml"},
		{"Service", "EnvironmentFile", "-/etc/fluxo/%i.env", "secrets for ${VAR} in the config"},
		{"Service", "StateDirectory", "fluxo", "the checkpoint directory /var/lib/fluxo"},
		{"Service", "Restart", "on-failure", "restart after a crash or a watchdog timeout"},
		{"Service", "ProtectSystem", "strict", "read-only file system but for the state directory"},
		{"Service", "NoNewPrivileges", "true", "hardening"},
		{"Install", "WantedBy", "multi-user.target", "systemctl enable"},
	}
}

// checkUnit checks the unit file rel under root, which runs fluxo command,
// for the settings fluxo relies on; systemd-analyze (verifyUnit) checks the
// rest.
func checkUnit(f *findings, root, rel, command string) {
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		f.add(rel, "", "%v", err)
		return
	}
	u, err := parseUnit(data)
	if err != nil {
		f.add(rel, "", "%v", err)
		return
	}
	for _, w := range unitWants(command) {
		if got := u.last(w.section, w.key); got != w.value {
			f.add(rel, "["+w.section+"]", "%s=%s is required (%s), got %q", w.key, w.value, w.why, got)
		}
	}
	for _, key := range []string{"WatchdogSec", "RestartSec", "TimeoutStopSec"} {
		if d, err := parseSystemdDuration(u.last("Service", key)); err != nil || d <= 0 {
			f.add(rel, "[Service]", "%s must be a positive duration like 30s", key)
		}
	}
	for _, key := range []string{"StartLimitIntervalSec", "StartLimitBurst"} {
		if u.last("Unit", key) == "" {
			f.add(rel, "[Unit]", "%s is required: bound the restarts", key)
		}
	}
	if !slices.ContainsFunc(u["Service"]["User"], func(v string) bool { return v != "" && v != "root" }) && u.last("Service", "DynamicUser") != "yes" {
		f.add(rel, "[Service]", "run as a dedicated user (User=fluxo or DynamicUser=yes)")
	}
}

// verifyUnit runs `systemd-analyze verify` and `systemd-analyze security
// --offline` on unit (a template, <name>@.service), installed as
// <name>@<instance>.service in a scratch
// root that holds fluxo (the ExecStart binary must exist) and the host's
// systemd units (for the targets it orders itself after). Warnings count as
// failures, and the security exposure must not exceed maxExposure
// (systemd's 0-10 scale, in tenths: 20 = 2.0).
func verifyUnit(ctx context.Context, unit, fluxoBin, instance string, maxExposure int) error {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		return fmt.Errorf("systemd-analyze not found (apt-get install systemd): %w", err)
	}
	root, err := os.MkdirTemp("", "deploycheck-systemd-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	if err := populateRoot(root, unit, fluxoBin); err != nil {
		return err
	}
	name := strings.TrimSuffix(filepath.Base(unit), "@.service") + "@" + instance + ".service"
	out, err := exec.CommandContext(ctx, analyze, "verify", "--root="+root, name).CombinedOutput()
	switch {
	case err != nil:
		return fmt.Errorf("systemd-analyze verify %s: %w\n%s", name, err, out)
	case len(bytes.TrimSpace(out)) > 0:
		return fmt.Errorf("systemd-analyze verify %s warns:\n%s", name, out)
	}
	out, err = exec.CommandContext(ctx, analyze, "security", "--offline=true", "--root="+root,
		fmt.Sprintf("--threshold=%d", maxExposure), "--no-pager", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemd-analyze security %s: exposure above %d.%d: %v\n%s", name, maxExposure/10, maxExposure%10, err, lastLines(out, 3))
	}
	return nil
}

// populateRoot lays out a root for systemd-analyze --root: the unit under
// /etc/systemd/system, fluxo at /usr/local/bin/fluxo, and a copy of the
// host's /usr/lib/systemd/system.
func populateRoot(root, unit, fluxoBin string) error {
	unitDir := filepath.Join(root, "etc/systemd/system")
	binDir := filepath.Join(root, "usr/local/bin")
	for _, d := range []string{unitDir, binDir, filepath.Join(root, "usr/lib/systemd")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := exec.Command("cp", "-a", "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/")).Run(); err != nil {
		return fmt.Errorf("copy the host's systemd units: %w", err)
	}
	if err := copyFile(unit, filepath.Join(unitDir, filepath.Base(unit)), 0o644); err != nil {
		return err
	}
	if fluxoBin != "" {
		return copyFile(fluxoBin, filepath.Join(binDir, "fluxo"), 0o755)
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, mode)
}

// lastLines returns the last n lines of out.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// parseSystemdDuration parses a systemd time span such as "30s", "2min" or
// "1h 30min" (systemd.time(7)); a bare number is seconds.
func parseSystemdDuration(v string) (time.Duration, error) {
	units := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
		"sec": time.Second, "m": time.Minute, "min": time.Minute, "h": time.Hour, "hr": time.Hour, "d": 24 * time.Hour}
	v = strings.ReplaceAll(v, " ", "")
	if v == "" {
		return 0, fmt.Errorf("empty time span")
	}
	var total time.Duration
	for v != "" {
		i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
		if i == 0 {
			return 0, fmt.Errorf("time span %q: expected a number", v)
		}
		if i < 0 {
			i = len(v)
		}
		n, err := strconv.Atoi(v[:i])
		if err != nil {
			return 0, err
		}
		v = v[i:]
		j := strings.IndexFunc(v, func(r rune) bool { return r >= '0' && r <= '9' })
		if j < 0 {
			j = len(v)
		}
		unit := time.Second
		if j > 0 {
			u, ok := units[v[:j]]
			if !ok {
				return 0, fmt.Errorf("time span: unknown unit %q", v[:j])
			}
			unit = u
		}
		v = v[j:]
		total += time.Duration(n) * unit
	}
	return total, nil
}
