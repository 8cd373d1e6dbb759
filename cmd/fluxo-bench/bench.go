package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// results is everything the report prints.
type results struct {
	Backlog     *backlog
	Rounds      []round
	Big         fluxoResult
	BigRows     int   // the rows of the big transaction of Big
	BrokerRSS   int64 // broker child's RSS after all passes
	BrokerHWM   int64
	ProfilePath string
}

// round is one parse-only pass followed by one full fluxo pass.
type round struct {
	Parse parseResult
	Full  fluxoResult
	// FullTx is the full pass with kafka.transactions (-transactions).
	FullTx *fluxoResult
}

// bench starts the servers, builds the backlog, runs the passes and prints
// the report.
func bench(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, cleanup, err := startStack(ctx, stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	res, err := measure(ctx, st, opts, stderr, log)
	if err != nil {
		return err
	}
	res.BrokerRSS, _ = statusField(st.Pids[1], "VmRSS")
	res.BrokerHWM, _ = statusField(st.Pids[1], "VmHWM")
	printReport(stdout, res)
	if opts.keep {
		fmt.Fprintf(stderr, "\n-keep: mariadb at %s:%d (root, no password; data in %s), kafka at %s, registry at %s; Ctrl-C to stop\n",
			st.DB.Host, st.DB.Port, st.Dir, strings.Join(st.Brokers, ","), st.Registry)
		<-ctx.Done()
	}
	return nil
}

// note prints a progress line.
func note(w io.Writer, format string, args ...any) { fmt.Fprintf(w, "# "+format+"\n", args...) }

// measure builds the backlog, runs opts.repeat rounds of a parse-only pass
// and a full fluxo pass, then writes one big transaction (opts.bigTx
// rows) and streams it alone, freeing memory before each pass.
func measure(ctx context.Context, st stack, opts options, stderr io.Writer, log *slog.Logger) (results, error) {
	res := results{ProfilePath: opts.cpuProfile}
	note(stderr, "building a backlog of %d row changes", opts.rows)
	bl, err := buildBacklog(ctx, st.DB.addr(), opts.rows)
	if err != nil {
		return res, err
	}
	res.Backlog = bl
	note(stderr, "backlog built in %s: %s:%d .. %s:%d", bl.Elapsed.Round(1e6), bl.Start.File, bl.Start.Pos, bl.End.File, bl.End.Pos)
	for i := range opts.repeat {
		r, err := measureRound(ctx, st, opts, bl, i, stderr, log)
		if err != nil {
			return res, err
		}
		res.Rounds = append(res.Rounds, r)
	}
	note(stderr, "writing a %d-row transaction", opts.bigTx)
	bigStart, err := writeBigInsert(st.DB.addr(), opts.bigTx)
	if err != nil {
		return res, err
	}
	res.BigRows = opts.bigTx
	debug.FreeOSMemory()
	note(stderr, "fluxo pass over the %d-row transaction alone", opts.bigTx)
	big := fluxoPass{passSpec: passSpec{Name: "bigtx", Records: int64(opts.bigTx)}, ServerID: 9002, Start: bigStart}
	if res.Big, err = runFluxo(ctx, st, big, log); err != nil {
		return res, fmt.Errorf("fluxo big-transaction pass: %w", err)
	}
	return res, nil
}

// measureRound runs round i: the parse-only pass, checked against the
// generator's counts, then the full fluxo pass (profiled in round 0).
func measureRound(ctx context.Context, st stack, opts options, bl *backlog, i int, stderr io.Writer, log *slog.Logger) (round, error) {
	var r round
	var err error
	debug.FreeOSMemory()
	note(stderr, "round %d: parse-only pass", i+1)
	err = profiled(firstOnly(i, opts.parseProf), func() (err error) {
		r.Parse, err = parseOnly(ctx, st.DB, bl.Start, bl.End, st.Pids)
		return err
	})
	if err != nil {
		return r, err
	}
	if r.Parse.Ops != bl.Ops || r.Parse.Txs != bl.Txs {
		return r, fmt.Errorf("parse-only pass read %+v in %d transactions, the generator wrote %+v in %d", r.Parse.Ops, r.Parse.Txs, bl.Ops, bl.Txs)
	}
	debug.FreeOSMemory()
	note(stderr, "round %d: fluxo pass over the full backlog", i+1)
	full := fluxoPass{passSpec: passSpec{Name: fmt.Sprintf("full%d", i+1), Records: bl.Ops.Total() + bl.Ops.Deletes},
		ServerID: 9010 + uint32(i), Start: bl.Start}
	if i == 0 {
		full.CPUProfile, full.MemProfile, full.Trace = opts.cpuProfile, opts.memProfile, opts.trace
	}
	if r.Full, err = runFluxo(ctx, st, full, log); err != nil {
		return r, fmt.Errorf("fluxo full pass: %w", err)
	}
	if opts.transactions {
		debug.FreeOSMemory()
		note(stderr, "round %d: fluxo pass over the full backlog in Kafka transactions", i+1)
		tx := full
		tx.Name, tx.ServerID, tx.Transactions = fmt.Sprintf("fulltx%d", i+1), 9030+uint32(i), true
		tx.CPUProfile, tx.MemProfile, tx.Trace = "", "", ""
		res, err := runFluxo(ctx, st, tx, log)
		if err != nil {
			return r, fmt.Errorf("fluxo full pass in transactions: %w", err)
		}
		r.FullTx = &res
	}
	return r, nil
}

// profiled runs f under a CPU profile written to path (none when path is
// empty).
func profiled(path string, f func() error) error {
	stop, err := startProfiles(path, "")
	if err != nil {
		return err
	}
	defer stop()
	return f()
}

// firstOnly returns path in round 0 and "" in the others.
func firstOnly(round int, path string) string {
	if round > 0 {
		return ""
	}
	return path
}

// addr returns host:port.
func (d dbServer) addr() string { return d.Host + ":" + strconv.Itoa(int(d.Port)) }

// startStack starts MariaDB, the broker child and the registry; cleanup
// stops them all.
func startStack(ctx context.Context, stderr io.Writer) (stack, func(), error) {
	var st stack
	var closers []func() error
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			if err := closers[i](); err != nil {
				fmt.Fprintln(stderr, "fluxo-bench: cleanup:", err)
			}
		}
	}
	fail := func(err error) (stack, func(), error) { cleanup(); return st, func() {}, err }
	fmt.Fprintln(stderr, "# starting mariadb, kafka (kfake, child process) and schema registry (srfake)")
	db, err := testserver.StartMariaDB(ctx, testserver.MariaDBOptions{})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, db.Close)
	if st.DB, err = describeDB(db); err != nil {
		return fail(err)
	}
	br, err := startBroker()
	if err != nil {
		return fail(err)
	}
	closers = append(closers, br.Close)
	reg, url, err := testserver.StartRegistry()
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() error { reg.Close(); return nil })
	st.Brokers, st.Registry, st.Dir = br.addrs, url, db.Dir
	st.Pids = []int{0, br.Pid(), st.DB.Pid}
	return st, cleanup, nil
}

// describeDB returns how to reach db, its identity and its process id.
func describeDB(db *testserver.MariaDB) (dbServer, error) {
	d := dbServer{Host: "127.0.0.1", Port: uint16(db.Port)}
	conn, err := connect(db.Addr(), false)
	if err != nil {
		return d, err
	}
	defer conn.Close()
	id, err := queryValue(conn, "SELECT @@server_id")
	if err != nil {
		return d, err
	}
	d.Identity = "server_id=" + id
	b, err := os.ReadFile(filepath.Join(db.Dir, "mysqld.pid"))
	if err != nil {
		return d, errors.Join(errors.New("read mariadb pid"), err)
	}
	d.Pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	return d, err
}
