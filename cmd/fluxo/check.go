package main

import (
	"context"

	"github.com/fluxo-cdc/fluxo/internal/command"
)

const checkSynopsis = `check -c FILE [--json] [--log-level L] [--log-format F]

Preflight: checks the config, the checkpoint, the source, Kafka, the schema
registry and bronze.url, and prints one line per check with the fix. Exits 1
when fluxo stream would not start.`

func runCheck(ctx context.Context, args []string, e *env) error {
	var c common
	fs := newFlagSet(e, "check", checkSynopsis)
	c.register(fs)
	asJSON := fs.Bool("json", false, "print the checks as a JSON array")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.setup(e)
	if err != nil {
		return err
	}
	return command.Check(ctx, cfg, e.stdout, *asJSON)
}
