package main

import (
	"context"

	"github.com/fluxo-cdc/fluxo/internal/command"
)

const snapshotSynopsis = `snapshot -c FILE --tables a.b[,c.d] [--wait] [--log-level L] [--log-format F]

Asks the running fluxo stream of this config (through its HTTP endpoint,
http.listen, with the token in http.admin_token_file when one is set) to
snapshot the tables incrementally while it keeps streaming. Prints the
request's id; --wait follows the snapshot to its end, with progress.`

func runSnapshot(ctx context.Context, args []string, e *env) error {
	var c common
	fs := newFlagSet(e, "snapshot", snapshotSynopsis)
	c.register(fs)
	tables := fs.String("tables", "", "the tables to snapshot (schema.table, comma separated)")
	wait := fs.Bool("wait", false, "wait until the snapshot is complete, printing its progress")
	if err := parse(fs, args); err != nil {
		return err
	}
	names, err := parseTables(*tables)
	if err != nil {
		return usageError{err}
	}
	if len(names) == 0 {
		return usageError{errNoTables}
	}
	cfg, err := c.setup(e)
	if err != nil {
		return err
	}
	return command.Snapshot(ctx, cfg, command.SnapshotOptions{Tables: names, Wait: *wait, Out: e.stdout}, e.log)
}
