// Command fluxo-bench measures fluxo's catch-up throughput: it builds a
// backlog of row changes in a throwaway MariaDB binlog, reads it once with
// go-mysql alone (parse only) and once with the real fluxo stream (binlog ->
// Avro -> Kafka, acks=all) into an in-memory Kafka broker, and prints both
// rates, their ratio and fluxo's resident memory next to the targets.
//
// With -source postgres it does the same for PostgreSQL: the backlog is
// the WAL behind logical replication slots created before it, read once
// with a pglogrepl parse-only loop and once by fluxo (pgoutput -> Avro ->
// Kafka), each from its own slot; then one transaction of -rows rows is
// read alone, for the memory target (see pgbench.go).
//
// The fake broker (kfake) keeps every record in memory, so it runs in a
// child process (this binary started with -broker-child): the RSS printed
// for fluxo is fluxo's own. The broker's RSS and CPU are printed separately.
//
// It is a measurement, not a test: it exits 0 when a target is missed and
// says which.
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/fluxo-cdc/fluxo/internal/gctune"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// options are the command-line flags.
type options struct {
	source      string // mysql or postgres
	mode        string // stream or fullload
	rows        int
	repeat      int
	keep        bool
	cpuProfile  string
	parseProf   string
	memProfile  string
	trace       string
	brokerChild bool
	// registryChild runs the fake schema registry (-mode tables).
	registryChild bool
	// proxyChild runs a proxy to this address (-mode tables).
	proxyChild string
	// transactions adds, to each round of the MySQL stream bench, a full
	// pass with kafka.transactions (and the kafka checkpoint store).
	transactions bool
	// lakeDir is where -mode fullload writes fluxo's files.
	lakeDir string
	// tables is the table count of -mode tables.
	tables int
	// bigTx is the row count of the MySQL stream bench's single big
	// transaction, written after the rounds and streamed alone.
	bigTx int
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, runs the benchmark and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	if opts.registryChild {
		if err := runRegistryChild(os.Stdin, stdout); err != nil {
			fmt.Fprintln(stderr, "fluxo-bench registry:", err)
			return 1
		}
		return 0
	}
	if opts.proxyChild != "" {
		if err := runProxyChild(opts.proxyChild, os.Stdin, stdout); err != nil {
			fmt.Fprintln(stderr, "fluxo-bench proxy:", err)
			return 1
		}
		return 0
	}
	if opts.brokerChild {
		if err := runBrokerChild(os.Stdin, stdout); err != nil {
			fmt.Fprintln(stderr, "fluxo-bench broker:", err)
			return 1
		}
		return 0
	}
	gctune.Apply() // the same GC defaults as cmd/fluxo, for both passes
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	benchFn := bench
	switch {
	case opts.mode == "fullload":
		benchFn = benchFullload
	case opts.mode == "snapshot":
		benchFn = benchSnapshot
	case opts.mode == "latency":
		benchFn = benchLatency
	case opts.mode == "tables":
		benchFn = benchTables
	case opts.mode == "sink":
		benchFn = benchSink
	case opts.source == "postgres":
		benchFn = benchPostgres
	}
	if err := benchFn(ctx, opts, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "fluxo-bench:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("fluxo-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.source, "source", "mysql", "mysql (MariaDB binlog) or postgres (pgoutput logical replication)")
	fs.StringVar(&o.mode, "mode", "stream", "stream (catch-up of a backlog), fullload (one table into file:// next to COPY/mariadb-dump), snapshot (the incremental snapshot of that table under a writer, next to fullload) latency (commit to read_committed consumer at 10k rows/s: straight to the broker, fluxo, fluxo in transactions) tables (start-up with -tables tables) or sink (fluxo sink from Kafka into file:// Parquet, next to a consumer that only reads)")
	fs.StringVar(&o.lakeDir, "lake-dir", defaultLakeDir(), "fullload mode: the directory fluxo's files go to; the default is a RAM disk when there is one, as the export's are discarded")
	fs.IntVar(&o.tables, "tables", 1000, "tables mode: tables of 21 columns with 2 rows each")
	fs.IntVar(&o.rows, "rows", 1_000_000, "row changes in the backlog (postgres: also the rows of the big transaction)")
	fs.IntVar(&o.bigTx, "bigtx", 1_000_000, "mysql stream mode: rows of the single big transaction streamed alone after the rounds")
	fs.IntVar(&o.repeat, "repeat", 1, "rounds of parse-only + full fluxo passes; targets use the medians")
	fs.BoolVar(&o.keep, "keep", false, "keep the servers running after the report, until Ctrl-C")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the (first) full fluxo pass to this file")
	fs.StringVar(&o.parseProf, "parse-cpuprofile", "", "write a CPU profile of the (first) parse-only pass to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write heap profiles before (FILE.before) and after the (first) full fluxo pass")
	fs.StringVar(&o.trace, "trace", "", "write an execution trace of the (first) full fluxo pass to this file")
	fs.BoolVar(&o.transactions, "transactions", false, "mysql stream mode: also run each round's full pass with kafka.transactions (exactly once), and compare")
	fs.BoolVar(&o.brokerChild, "broker-child", false, "internal: run the fake Kafka broker and exit when stdin closes")
	fs.BoolVar(&o.registryChild, "registry-child", false, "internal: run the fake schema registry and exit when stdin closes")
	fs.StringVar(&o.proxyChild, "proxy-child", "", "internal: run a proxy to this address, cut and restored by lines on stdin")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.rows < 1000 || o.repeat < 1 {
		fmt.Fprintln(stderr, "fluxo-bench: -rows must be at least 1000 and -repeat at least 1")
		return o, flag.ErrHelp
	}
	if o.source != "mysql" && o.source != "postgres" {
		fmt.Fprintf(stderr, "fluxo-bench: -source %q: use mysql or postgres\n", o.source)
		return o, flag.ErrHelp
	}
	if !slices.Contains([]string{"stream", "fullload", "snapshot", "latency", "tables", "sink"}, o.mode) {
		fmt.Fprintf(stderr, "fluxo-bench: -mode %q: use stream, fullload, snapshot, latency, tables or sink\n", o.mode)
		return o, flag.ErrHelp
	}
	if o.source == "postgres" && o.mode == "stream" && o.repeat > maxPGRounds {
		fmt.Fprintf(stderr, "fluxo-bench: -source postgres allows at most -repeat %d (two slots per round)\n", maxPGRounds)
		return o, flag.ErrHelp
	}
	return o, nil
}
