package main

import (
	"context"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fluxo-cdc/fluxo/internal/command"
	"github.com/fluxo-cdc/fluxo/internal/ops/sdnotify"
)

const streamSynopsis = `stream -c FILE [--log-level L] [--log-format F]

Streams the source's changes to Kafka until SIGINT or SIGTERM, then flushes
Kafka and saves the checkpoint. The first start takes a snapshot as
snapshot.mode says; later starts resume from the checkpoint. While it runs,
http.listen serves /metrics, /healthz and /readyz.`

func runStream(ctx context.Context, args []string, e *env) error {
	var c common
	fs := newFlagSet(e, "stream", streamSynopsis)
	c.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.setup(e)
	if err != nil {
		return err
	}
	return command.Stream(ctx, cfg, streamOptions(), e.log)
}

// streamOptions gives `fluxo stream` what a service gets (serviceDeps).
func streamOptions() command.StreamOptions {
	reg, notify, watchdog := serviceDeps()
	return command.StreamOptions{Metrics: reg, Notify: notify, Watchdog: watchdog, Version: version}
}

// serviceDeps returns what a long-running command (stream, sink) gets from
// the process: a metrics registry with the Go runtime and process
// collectors, and systemd's notification socket and watchdog interval when
// systemd started it.
func serviceDeps() (*prometheus.Registry, *sdnotify.Notifier, time.Duration) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, sdnotify.New(os.Getenv("NOTIFY_SOCKET")),
		sdnotify.WatchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
}
