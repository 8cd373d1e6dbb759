// Command fluxo is a change-data-capture replicator: it streams MySQL/MariaDB
// and PostgreSQL row changes to Kafka as Avro registered in a
// Confluent-compatible Schema Registry, checkpointing the source position so
// that nothing is lost, and loads whole databases into a lake's bronze layer.
//
// Each command lives in its own file with its own flags and usage text;
// internal/command runs it.
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
	"strings"
	"syscall"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/gctune"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = ""
)

func main() {
	gctune.Apply()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// A subcommand is one `fluxo <name>`.
type subcommand struct {
	name, synopsis string
	// run parses args with the command's own flag set and runs it.
	run func(ctx context.Context, args []string, e *env) error
}

// commands lists fluxo's commands in the order the usage shows them.
var commands = [...]subcommand{
	{"stream", "stream changes to Kafka until SIGINT/SIGTERM", runStream},
	{"fullload", "load the tables into the bronze layer (resumable)", runFullload},
	{"sink", "write the stream's changes into the bronze layer until SIGINT/SIGTERM", runSink},
	{"check", "preflight: one line per check with the fix", runCheck},
	{"status", "print the stored checkpoint and the lag behind the source", runStatus},
	{"snapshot", "ask the running stream to snapshot tables while it streams", runSnapshot},
	{"version", "print version information", runVersion},
}

// env is what a command writes to, and the logger its flags chose.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger // nil until the command set it up
	jsonLogs       bool
}

// usageError is a command line fluxo cannot run: exit status 2.
type usageError struct{ error }

func usage() string {
	var b strings.Builder
	b.WriteString("usage: fluxo <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.synopsis)
	}
	b.WriteString("\nfluxo <command> -h prints the command's flags.\n")
	return b.String()
}

// run executes one command and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	name, args := args[0], args[1:]
	switch name {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage())
		return 0
	case "--version", "-v":
		name = "version"
	}
	var cmd *subcommand
	for i := range commands {
		if commands[i].name == name {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "fluxo: unknown command %q\n\n%s", name, usage())
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdout: stdout, stderr: stderr}
	err := cmd.run(ctx, args, e)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "fluxo %s: %v\n", name, err)
		return 2
	case e.jsonLogs:
		e.log.Error("fluxo "+name+" failed", cdc.LogError, err.Error())
	default:
		fmt.Fprintf(stderr, "fluxo %s: %v\n", name, err)
	}
	return 1
}

// newFlagSet is a command's flag set; -h prints synopsis and the flags.
func newFlagSet(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("fluxo "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: fluxo %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, which must hold flags only.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageError{fmt.Errorf("unexpected argument %q: every setting is a flag (-h lists them)", fs.Arg(0))}
	}
	return nil
}
