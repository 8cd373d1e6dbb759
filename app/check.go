package app

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
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// Statuses of a CheckLine.
const (
	CheckOK   = cdc.CheckOK
	CheckWarn = cdc.CheckWarn
	CheckFail = cdc.CheckFail
	CheckSkip = cdc.CheckSkip
)

// CheckLine is one line of `fluxo check`.
type CheckLine = cdc.Check

// checkTimeout bounds connecting to each server and each group of checks
// of Kafka, the registry and bronze, so that an unreachable server gives a
// line, not a hang. The source checks, one query or more per table, get
// sourceBudget timeouts in all.
const (
	checkTimeout = 10 * time.Second
	sourceBudget = 6
)

// ErrChecksFailed is wrapped by Check's error when a check failed.
var ErrChecksFailed = errors.New("fluxo stream would not start")

// Check runs `fluxo check`: it prints one line per check to w (a JSON
// array when asJSON is set) and returns an error wrapping ErrChecksFailed
// when a check failed.
func Check(ctx context.Context, cfg *config.Config, w io.Writer, asJSON bool) error {
	lines := runChecks(ctx, cfg, checkTimeout)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(lines); err != nil {
			return err
		}
	} else {
		printChecks(w, lines)
	}
	if n := count(lines)[CheckFail]; n > 0 {
		return fmt.Errorf("%d check(s) failed: %w; fix them and run fluxo check again", n, ErrChecksFailed)
	}
	return nil
}

// runChecks runs every check, the independent groups at once, each bounded
// by timeout, and returns the lines in a fixed order.
func runChecks(ctx context.Context, cfg *config.Config, timeout time.Duration) []CheckLine {
	var wg sync.WaitGroup
	var src, kafka, reg, bronze []CheckLine
	tables := make(chan []cdc.TableID, 1)
	head := append(checkConfig(cfg), checkCheckpoint(ctx, cfg)...)
	group := func(out *[]CheckLine, budget time.Duration, fn func(context.Context) []CheckLine) {
		wg.Go(func() {
			gctx, cancel := context.WithTimeout(ctx, budget)
			defer cancel()
			*out = fn(gctx)
		})
	}
	group(&src, sourceBudget*timeout, func(ctx context.Context) []CheckLine { return checkSource(ctx, cfg, timeout, tables) })
	wg.Go(func() { kafka = checkKafka(ctx, cfg, tables, timeout) })
	group(&reg, timeout, func(ctx context.Context) []CheckLine { return checkRegistry(ctx, cfg, timeout) })
	group(&bronze, timeout, func(ctx context.Context) []CheckLine { return checkBronze(ctx, cfg) })
	wg.Wait()
	out := append(head, src...)
	out = append(out, kafka...)
	out = append(out, reg...)
	return append(out, bronze...)
}

// checkConfig reports what fluxo stream requires of the file.
func checkConfig(cfg *config.Config) []CheckLine {
	err := cfg.ValidateStream()
	if err == nil {
		return []CheckLine{{Name: "config", Status: CheckOK, Detail: fmt.Sprintf("name %s, %s", cfg.Name, cfg.Source)}}
	}
	return []CheckLine{{Name: "config", Status: CheckFail, Detail: strings.ReplaceAll(err.Error(), "\n", "; "),
		Fix: "edit the config file as each message says"}}
}

// checkCheckpoint loads the checkpoint and checks that its directory is
// writable.
func checkCheckpoint(ctx context.Context, cfg *config.Config) []CheckLine {
	line := CheckLine{Name: "checkpoint", Status: CheckOK}
	_, cp, err := loadCheckpoint(ctx, cfg)
	switch {
	case err != nil:
		line.Status, line.Detail = CheckFail, err.Error()
	case cp == nil:
		line.Detail = fmt.Sprintf("none saved in %s: the first start %s", cfg.Checkpoint.Path, firstStart(cfg.Snapshot.Mode))
	case cp.Connector != connectorOf(cfg):
		line.Status = CheckFail
		line.Detail = fmt.Sprintf("%s was written by a %s source, the config names a %s source", cfg.Checkpoint.Path, cp.Connector, cfg.Source.Flavor())
		line.Fix = "point checkpoint.path at this stream's own file, or delete the file to take a new snapshot"
	default:
		line.Detail = fmt.Sprintf("saved %s ago: %s", time.Since(cp.SavedAt).Round(time.Second), cp.Describe)
	}
	return []CheckLine{line, checkWritableDir("checkpoint.writable", filepath.Dir(cfg.Checkpoint.Path))}
}

func firstStart(mode string) string {
	switch mode {
	case cdc.SnapshotNever:
		return "streams from the current position (snapshot.mode never)"
	case cdc.SnapshotInitialOnly:
		return "takes a snapshot, then exits (snapshot.mode initial_only)"
	}
	return "takes a snapshot, then streams (snapshot.mode initial)"
}

// connectorOf is the connector name checkpoints of cfg's source carry.
func connectorOf(cfg *config.Config) string {
	if cfg.Source.Flavor() == config.FlavorPostgres {
		return "postgresql"
	}
	return "mysql"
}

// checkWritableDir checks that a file can be created in dir, or in its
// nearest existing ancestor when dir does not exist yet (fluxo creates it).
func checkWritableDir(name, dir string) CheckLine {
	line := CheckLine{Name: name, Status: CheckOK, Detail: dir + " is writable"}
	probe := dir
	for {
		fi, err := os.Stat(probe)
		if err == nil && !fi.IsDir() {
			line.Status, line.Detail = CheckFail, fmt.Sprintf("%s is not a directory, so %s cannot be created", probe, dir)
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
		line.Status, line.Detail = CheckFail, fmt.Sprintf("cannot create files in %s: %v", probe, err)
		line.Fix = fmt.Sprintf("mkdir -p %s and give the fluxo user write access to it (chown), or point checkpoint.path elsewhere", dir)
		return line
	}
	f.Close()
	os.Remove(f.Name())
	return line
}

// printChecks writes the lines aligned, then a summary.
func printChecks(w io.Writer, lines []CheckLine) {
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
	if n[CheckFail] > 0 {
		verdict = "fluxo stream would not start"
	}
	fmt.Fprintf(w, "%d ok, %d warn, %d FAIL, %d skip: %s\n", n[CheckOK], n[CheckWarn], n[CheckFail], n[CheckSkip], verdict)
}

func count(lines []CheckLine) map[string]int {
	n := map[string]int{}
	for _, l := range lines {
		n[l.Status]++
	}
	return n
}
