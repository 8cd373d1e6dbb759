// Command fluxo is a change-data-capture replicator: it streams MySQL/MariaDB
// row changes to Kafka as Avro registered in a Confluent-compatible Schema
// Registry, checkpointing the source position so that nothing is lost.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/term"

	"github.com/fluxo-cdc/fluxo/app"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/ops/sdnotify"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = ""
)

func main() {
	app.Version = version
	app.TuneGC()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func withConfig(path string, fn func(*config.Config) error) error {
	if path == "" {
		return errors.New("no config file: pass -c FILE")
	}
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		return err
	}
	return fn(cfg)
}

const usage = `usage: fluxo <command> [flags]

commands:
  stream -c FILE     stream changes to Kafka until SIGINT/SIGTERM
  fullload -c FILE [--tables a.b,c.d] [--run-id ID]
                     load the tables into the bronze layer; rerun with the
                     same --run-id to resume an interrupted run
  check -c FILE [--json]
                     preflight: one line per check with the fix; exit 1
                     when fluxo stream would not start
  status -c FILE     print the stored checkpoint
  version            print version information

flags on every command: --log-level debug|info|warn|error, --log-format json|text
`

// run executes one command and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("fluxo "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "config file (YAML)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "", "json or text (default: text on a terminal, json otherwise)")
	jsonOut := fs.Bool("json", false, "status, check: print JSON")
	tables := fs.String("tables", "", "fullload: only these tables (schema.table, comma separated)")
	runID := fs.String("run-id", "", "fullload: resume (or name) this run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, jsonLogs, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "fluxo:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "version", "--version", "-v":
		printVersion(stdout)
		return 0
	case "stream":
		err = withConfig(*cfgPath, func(cfg *config.Config) error { return app.Stream(ctx, cfg, streamOptions(), log) })
	case "fullload":
		err = withConfig(*cfgPath, func(cfg *config.Config) error {
			return fullload(ctx, cfg, *tables, *runID, *logLevel, log, stdout, stderr)
		})
	case "check":
		err = withConfig(*cfgPath, func(cfg *config.Config) error { return app.Check(ctx, cfg, stdout, *jsonOut) })
	case "status":
		err = withConfig(*cfgPath, func(cfg *config.Config) error { return app.Status(ctx, cfg, stdout, *jsonOut) })
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "fluxo: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		if jsonLogs {
			log.Error("fluxo "+cmd+" failed", "err", err.Error())
		} else {
			fmt.Fprintf(stderr, "fluxo %s: %v\n", cmd, err)
		}
		return 1
	}
	return 0
}

func printVersion(w io.Writer) {
	c := commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	fmt.Fprintf(w, "fluxo %s (commit %s, %s, %s/%s)\n", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// streamOptions gives `fluxo stream` a metrics registry with the Go
// runtime and process collectors, and systemd's notification socket and
// watchdog interval when systemd started it.
func streamOptions() app.StreamOptions {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return app.StreamOptions{
		Metrics:  reg,
		Notify:   sdnotify.New(os.Getenv("NOTIFY_SOCKET")),
		Watchdog: sdnotify.WatchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid()),
	}
}

// fullload runs `fluxo fullload`; on a terminal the live display replaces
// the info log lines.
func fullload(ctx context.Context, cfg *config.Config, tables, runID, level string, log *slog.Logger, stdout, stderr io.Writer) error {
	names, err := app.ParseTables(tables)
	if err != nil {
		return err
	}
	o := app.FullloadOptions{Tables: names, RunID: runID, Progress: stderr, Summary: stdout}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.Terminal = true
		if level == "info" {
			log, _, _ = newLogger(stderr, "warn", "text")
		}
	}
	return app.Fullload(ctx, cfg, o, log)
}

// newLogger builds the logger; json reports whether it writes JSON.
func newLogger(w io.Writer, level, format string) (log *slog.Logger, json bool, err error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, false, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), true, nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), false, nil
	}
	return nil, false, errors.New("--log-format must be json or text")
}
