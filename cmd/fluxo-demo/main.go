// Command fluxo-demo shows fluxo end to end on throwaway servers: it starts
// a MariaDB, an in-process Kafka-protocol broker and a schema registry,
// creates a small shop database, streams it with fluxo (initial snapshot,
// then inserts, an update, a delete and a primary-key change), and prints
// the Kafka records decoded as any Avro consumer sees them, then the saved
// checkpoint; then it loads the database into a local bronze directory with
// fluxo fullload and reads the files back. Everything it starts is removed
// when it exits.
//
//	make demo    # or: go run ./cmd/fluxo-demo
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fluxo-cdc/fluxo/internal/command"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout)
	interrupted := ctx.Err() != nil
	stop()
	switch {
	case err != nil && interrupted:
		fmt.Fprintln(os.Stderr, "\nfluxo-demo: interrupted; the servers and temporary files are removed")
		os.Exit(1)
	case err != nil:
		fmt.Fprintf(os.Stderr, "\nfluxo-demo: %v\n", err)
		os.Exit(1)
	}
}

// installHint is printed when the MariaDB server binaries are missing.
const installHint = "apt-get install -y mariadb-server"

// run is the whole demo; it writes its report to stdout and fluxo's
// warnings and errors to stderr. It removes everything it started.
func run(ctx context.Context, stdout io.Writer) (err error) {
	began := time.Now()
	if err := testserver.Available(testserver.KindMariaDB); err != nil {
		missing := strings.TrimSuffix(strings.TrimPrefix(err.Error(), "testserver: "), ": "+installHint)
		return fmt.Errorf("this demo runs a throwaway MariaDB server, but its binaries are missing (%s).\n"+
			"Install them (Debian/Ubuntu, as root) with:\n\n    %s\n", missing, installHint)
	}
	fmt.Fprintln(stdout, "fluxo demo: MariaDB binlog -> Kafka (Avro, Debezium envelope) with checkpoints")
	dir, err := os.MkdirTemp("", "fluxo-demo-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	section(stdout, "starting throwaway servers on 127.0.0.1")
	srv, err := startServers(ctx, stdout)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.close()) }()
	if err := demo(ctx, srv, dir, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ndone in %s; removing the servers and %s\n", time.Since(began).Round(100*time.Millisecond), dir)
	return nil
}

// demo creates the shop database, streams it with fluxo while changing it,
// prints what reached Kafka, stops the stream and prints its checkpoint.
func demo(ctx context.Context, srv *servers, dir string, out io.Writer) error {
	section(out, "creating the shop database")
	if err := createShop(ctx, srv.db, out); err != nil {
		return err
	}
	section(out, "writing the config")
	cfg, err := writeConfig(dir, srv, out)
	if err != nil {
		return err
	}
	section(out, "fluxo check: the preflight (app.Check)")
	var check bytes.Buffer
	if err := command.Check(ctx, cfg, &check, false); err != nil {
		return fmt.Errorf("fluxo check: %w\n%s", err, check.String())
	}
	indent(out, check.String())
	section(out, "streaming with app.Stream (logs at warn level go to stderr)")
	st := startStream(ctx, cfg)
	defer st.stop()
	if err := streamChanges(ctx, st, srv, cfg, out); err != nil {
		return err
	}
	section(out, "the stream's HTTP endpoint: probes and Prometheus metrics")
	if err := printEndpoint(ctx, st, out); err != nil {
		return err
	}
	section(out, "records in Kafka, decoded with the registry's schemas")
	if err := printRecords(ctx, srv, out); err != nil {
		return err
	}
	section(out, "stopping the stream (cancelling its context)")
	if err := st.stop(); err != nil {
		return fmt.Errorf("fluxo stream: %w", err)
	}
	fmt.Fprintln(out, "    stopped cleanly: Kafka flushed, checkpoint saved")
	section(out, "one more change while fluxo is stopped")
	const late = `INSERT INTO shop.orders VALUES (104, 1, 9.90, 'new', NULL, '2025-06-02 09:00:00')`
	if err := srv.db.Exec(ctx, late); err != nil {
		return err
	}
	fmt.Fprintf(out, "    %s\n    (fluxo status measures the lag below; the next start streams it)\n", late)
	section(out, "fluxo status: the saved checkpoint and the lag behind the server (app.Status)")
	var status bytes.Buffer
	if err := command.Status(ctx, cfg, &status, false); err != nil {
		return err
	}
	indent(out, status.String())
	section(out, "fluxo fullload: the shop database into the local bronze directory (app.Fullload)")
	return loadBronze(ctx, cfg, out)
}

// indent prints text indented by four spaces.
func indent(out io.Writer, text string) {
	for line := range strings.Lines(text) {
		fmt.Fprintf(out, "    %s", line)
	}
}

// streamChanges waits for fluxo's initial snapshot, changes the database
// while fluxo streams, and waits until fluxo has checkpointed every change.
func streamChanges(ctx context.Context, st *stream, srv *servers, cfg *config.Config, out io.Writer) error {
	gtid, err := waitCheckpoint(ctx, st, cfg, "")
	if err != nil {
		return fmt.Errorf("waiting for the initial snapshot: %w", err)
	}
	fmt.Fprintf(out, "    initial snapshot done: checkpoint at GTID %s\n", gtid)
	fmt.Fprintln(out, "    changing rows while fluxo streams:")
	if err := changeShop(ctx, srv.db, out); err != nil {
		return err
	}
	target, err := srv.db.QueryValue(ctx, "SELECT @@gtid_binlog_pos")
	if err != nil {
		return err
	}
	if _, err := waitCheckpoint(ctx, st, cfg, target); err != nil {
		return fmt.Errorf("waiting for fluxo to stream GTID %s: %w", target, err)
	}
	fmt.Fprintf(out, "    fluxo caught up: checkpoint at GTID %s (every change is in Kafka)\n", target)
	return nil
}

// section prints a step's title.
func section(w io.Writer, title string) {
	fmt.Fprintf(w, "\n==> %s\n", title)
}

// newLogger is fluxo's logger in the demo: text, warnings and errors only,
// on stderr, so that the demo's own output stays readable.
func newLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
