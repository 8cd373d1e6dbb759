package main

import (
	"context"

	"github.com/fluxo-cdc/fluxo/internal/command"
)

const statusSynopsis = `status -c FILE [--json] [--log-level L] [--log-format F]

Prints the stored checkpoint (position, age, tables and their schema
versions) and how far it is behind the source.`

func runStatus(ctx context.Context, args []string, e *env) error {
	var c common
	fs := newFlagSet(e, "status", statusSynopsis)
	c.register(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.setup(e)
	if err != nil {
		return err
	}
	return command.Status(ctx, cfg, e.stdout, *asJSON)
}
