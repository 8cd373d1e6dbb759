package main

import (
	"context"

	"github.com/fluxo-cdc/fluxo/internal/command"
)

const sinkSynopsis = `sink -c FILE [--log-level L] [--log-format F]

Writes the stream's changes into the bronze layer (bronze.url) until SIGINT
or SIGTERM: it reads the topics of the captured tables in the consumer group
sink.group, one row per change, into files rolled by sink.max_file_bytes and
sink.flush_interval. Several processes with one config share the topics'
partitions. While it runs, http.listen serves /metrics, /healthz and /readyz.`

func runSink(ctx context.Context, args []string, e *env) error {
	var c common
	fs := newFlagSet(e, "sink", sinkSynopsis)
	c.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.setup(e)
	if err != nil {
		return err
	}
	reg, notify, watchdog := serviceDeps()
	return command.Sink(ctx, cfg, command.SinkOptions{Metrics: reg, Notify: notify, Watchdog: watchdog, Version: version}, e.log)
}
