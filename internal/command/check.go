package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/checkpoint"
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// CheckTimeout bounds connecting to each server and each group of checks
// of Kafka, the registry and bronze, so that an unreachable server gives a
// line, not a hang. The source checks, one query or more per table, get
// sourceBudget timeouts in all.
const (
	CheckTimeout = 10 * time.Second
	sourceBudget = 6
)

// ErrChecksFailed is wrapped by Check's error when a check failed.
var ErrChecksFailed = errors.New("fluxo stream would not start")

// Check runs `fluxo check`: it prints one line per check to w (a JSON
// array when asJSON is set) and returns an error wrapping ErrChecksFailed
// when a check failed.
func Check(ctx context.Context, cfg *config.Config, w io.Writer, asJSON bool) error {
	lines := RunChecks(ctx, cfg, CheckTimeout)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(lines); err != nil {
			return err
		}
	} else {
		PrintChecks(w, lines)
	}
	if n := count(lines)[cdc.CheckFail]; n > 0 {
		return fmt.Errorf("%d check(s) failed: %w; fix them and run fluxo check again", n, ErrChecksFailed)
	}
	return nil
}

// RunChecks runs every check, the independent groups at once, each bounded
// by timeout, and returns the lines in a fixed order.
func RunChecks(ctx context.Context, cfg *config.Config, timeout time.Duration) []cdc.Check {
	var wg sync.WaitGroup
	var src, kafka, reg, bronze []cdc.Check
	tables := make(chan []cdc.TableID, 1)
	head := append(checkConfig(cfg), checkCheckpoint(ctx, cfg)...)
	head = append(head, checkAdmin(cfg))
	group := func(out *[]cdc.Check, budget time.Duration, fn func(context.Context) []cdc.Check) {
		wg.Go(func() {
			gctx, cancel := context.WithTimeout(ctx, budget)
			defer cancel()
			*out = fn(gctx)
		})
	}
	group(&src, sourceBudget*timeout, func(ctx context.Context) []cdc.Check { return checkSource(ctx, cfg, timeout, tables) })
	wg.Go(func() { kafka = checkKafka(ctx, cfg, tables, timeout) })
	group(&reg, timeout, func(ctx context.Context) []cdc.Check { return checkRegistry(ctx, cfg, timeout) })
	group(&bronze, timeout, func(ctx context.Context) []cdc.Check { return checkBronze(ctx, cfg) })
	wg.Wait()
	out := append(head, src...)
	out = append(out, kafka...)
	out = append(out, reg...)
	return append(out, bronze...)
}

// checkConfig reports what fluxo stream requires of the file.
func checkConfig(cfg *config.Config) []cdc.Check {
	err := cfg.ValidateStream()
	if err == nil {
		return []cdc.Check{{Name: "config", Status: cdc.CheckOK, Detail: fmt.Sprintf("name %s, %s", cfg.Name, cfg.Source)}}
	}
	return []cdc.Check{{Name: "config", Status: cdc.CheckFail, Detail: strings.ReplaceAll(err.Error(), "\n", "; "),
		Fix: "edit the config file as each message says"}}
}

// checkCheckpoint loads the checkpoint and checks that the store can keep
// the next: the file's directory is writable, or the topic is compacted
// (or can be created).
func checkCheckpoint(ctx context.Context, cfg *config.Config) []cdc.Check {
	line := cdc.Check{Name: "checkpoint", Status: cdc.CheckOK}
	store, cp, err := loadCheckpoint(ctx, cfg)
	where := cfg.Checkpoint.Where(cfg.Name)
	switch {
	case err != nil:
		line.Status, line.Detail = cdc.CheckFail, err.Error()
	case cp == nil:
		line.Detail = fmt.Sprintf("none saved in %s: the first start %s", where, firstStart(cfg.Snapshot.Mode))
	case cp.Connector != cfg.Source.Connector():
		line.Status = cdc.CheckFail
		line.Detail = fmt.Sprintf("%s was written by a %s source, the config names a %s source", where, cp.Connector, cfg.Source.Connector())
		line.Fix = "point checkpoint.path (checkpoint.topic) at this stream's own, or delete it to take a new snapshot"
	default:
		line.Detail = fmt.Sprintf("saved %s ago: %s", time.Since(cp.SavedAt).Round(time.Second), cp.Describe)
	}
	if k, ok := store.(*checkpoint.Kafka); ok {
		return []cdc.Check{line, checkTopic(ctx, k)}
	}
	return []cdc.Check{line, checkWritableDir("checkpoint.writable", filepath.Dir(cfg.Checkpoint.Path))}
}

// checkTopic checks that the checkpoint topic is compacted, or that it is
// missing (fluxo stream creates it).
func checkTopic(ctx context.Context, k *checkpoint.Kafka) cdc.Check {
	line := cdc.Check{Name: "checkpoint.topic", Status: cdc.CheckOK}
	tctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	exists, err := k.Check(tctx)
	switch {
	case err != nil:
		line.Status, line.Detail = cdc.CheckFail, err.Error()
	case exists:
		line.Detail = k.Topic() + " is compacted"
	default:
		line.Detail = k.Topic() + " does not exist yet; fluxo stream creates it (1 partition, cleanup.policy=compact)"
	}
	return line
}

// checkAdmin reports who may ask the stream for snapshots (fluxo snapshot):
// the holders of the admin token, whoever reaches a loopback endpoint, or
// nobody.
func checkAdmin(cfg *config.Config) cdc.Check {
	line := cdc.Check{Name: "http.admin", Status: cdc.CheckOK}
	token, err := cfg.HTTP.AdminToken()
	switch {
	case err != nil:
		line.Status, line.Detail = cdc.CheckFail, err.Error()
		line.Fix = "write a long random token into the file (openssl rand -hex 32), readable by fluxo, or remove http.admin_token_file"
	case token != "":
		line.Detail = "snapshot requests (fluxo snapshot) need the token in " + cfg.HTTP.AdminTokenFile
	case cfg.HTTP.Loopback():
		line.Detail = "snapshot requests (fluxo snapshot) are accepted from this host: http.listen " + cfg.HTTP.Listen + " is loopback, no admin token"
	default:
		line.Status = cdc.CheckWarn
		line.Detail = "snapshot requests (fluxo snapshot) are refused: http.listen " + cfg.HTTP.Listen + " is not loopback and no admin token is configured"
		line.Fix = "write a token (openssl rand -hex 32 > FILE) and set http.admin_token_file: FILE"
	}
	return line
}

func firstStart(mode string) string {
	switch mode {
	case cdc.SnapshotNever:
		return "streams from the current position (snapshot.mode never)"
	case cdc.SnapshotInitialOnly:
		return "snapshots every table incrementally, then exits (snapshot.mode initial_only)"
	case cdc.SnapshotInitialConsistent:
		return "reads every table at one cut point, then streams (snapshot.mode initial_consistent)"
	}
	return "streams at once and snapshots every table incrementally meanwhile (snapshot.mode initial)"
}

// checkWritableDir checks that a file can be created in dir, or in its
// nearest existing ancestor when dir does not exist yet (fluxo creates it).
func checkWritableDir(name, dir string) cdc.Check {
	line := cdc.Check{Name: name, Status: cdc.CheckOK, Detail: dir + " is writable"}
	probe := dir
	for {
		fi, err := os.Stat(probe)
		if err == nil && !fi.IsDir() {
			line.Status, line.Detail = cdc.CheckFail, fmt.Sprintf("%s is not a directory, so %s cannot be created", probe, dir)
			line.Fix = "remove or rename " + probe + ", or point checkpoint.path elsewhere"
			return line
		}
		if err == nil {
			break
		}
		parent := filepath.Dir(probe)
		if parent == probe {
			break
		}
		probe = parent
	}
	if probe != dir {
		line.Detail = fmt.Sprintf("%s does not exist yet; fluxo creates it in %s, which is writable", dir, probe)
	}
	f, err := os.CreateTemp(probe, ".fluxo-check-*")
	if err != nil {
		line.Status, line.Detail = cdc.CheckFail, fmt.Sprintf("cannot create files in %s: %v", probe, err)
		line.Fix = fmt.Sprintf("mkdir -p %s and give the fluxo user write access to it (chown), or point checkpoint.path elsewhere", dir)
		return line
	}
	f.Close()
	os.Remove(f.Name())
	return line
}

// PrintChecks writes the lines aligned, then a summary.
func PrintChecks(w io.Writer, lines []cdc.Check) {
	width := 0
	for _, l := range lines {
		width = max(width, len(l.Name))
	}
	for _, l := range lines {
		text := l.Detail
		if l.Fix != "" {
			text += "; fix: " + l.Fix
		}
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", l.Status, width, l.Name, text)
	}
	n := count(lines)
	verdict := "fluxo stream can start"
	if n[cdc.CheckFail] > 0 {
		verdict = "fluxo stream would not start"
	}
	fmt.Fprintf(w, "%d ok, %d warn, %d FAIL, %d skip: %s\n", n[cdc.CheckOK], n[cdc.CheckWarn], n[cdc.CheckFail], n[cdc.CheckSkip], verdict)
}

func count(lines []cdc.Check) map[string]int {
	n := map[string]int{}
	for _, l := range lines {
		n[l.Status]++
	}
	return n
}
