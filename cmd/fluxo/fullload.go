package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fluxo-cdc/fluxo/internal/command"
)

const fullloadSynopsis = `fullload -c FILE [--tables a.b,c.d] [--run-id ID] [--log-level L] [--log-format F]

Loads the tables into the bronze layer (bronze.url) from one consistent view
of the source and exits 0 only when every table is complete. Rerun with the
same --run-id to resume an interrupted run: complete tables are skipped.`

func runFullload(ctx context.Context, args []string, e *env) error {
	var c common
	fs := newFlagSet(e, "fullload", fullloadSynopsis)
	c.register(fs)
	tables := fs.String("tables", "", "only these tables (schema.table, comma separated)")
	runID := fs.String("run-id", "", "resume (or name) this run")
	if err := parse(fs, args); err != nil {
		return err
	}
	names, err := parseTables(*tables)
	if err != nil {
		return usageError{err}
	}
	cfg, err := c.setup(e)
	if err != nil {
		return err
	}
	o := command.FullloadOptions{Tables: names, RunID: *runID, Progress: e.stderr, Summary: e.stdout, Version: version}
	log := e.log
	// On a terminal the live display replaces the info log lines.
	if isTerminal(e.stderr) {
		o.Terminal = true
		if c.logLevel == "info" {
			log, _, _ = newLogger(e.stderr, "warn", "text")
		}
	}
	return command.Fullload(ctx, cfg, o, log)
}

var errNoTables = errors.New("--tables: name the tables to snapshot (schema.table, comma separated)")

// parseTables splits the --tables flag ("a.b,c.d") into names.
func parseTables(flag string) ([]string, error) {
	if strings.TrimSpace(flag) == "" {
		return nil, nil
	}
	var out []string
	for _, name := range strings.Split(flag, ",") {
		name = strings.TrimSpace(name)
		if strings.Count(name, ".") != 1 || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
			return nil, fmt.Errorf("--tables: %q: name tables as schema.table (the database for MySQL), separated by commas", name)
		}
		out = append(out, name)
	}
	return out, nil
}
