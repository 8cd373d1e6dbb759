package main

// The PostgreSQL mode (-source postgres). Logical replication slots see
// every change committed after they were created, so the passes get the
// same backlog by each reading its own slot: three slots per round are
// created before the backlog (one per parse-only variant, one for fluxo).
// The big transaction is a second phase with three more slots created
// after the rounds, so that the round passes never decode it.

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

// pgSlotKinds are the slots of a round (see slotName), one per pass.
var pgSlotKinds = []string{parseVariants[0].Kind, parseVariants[1].Kind, "fluxo"}

// maxPGRounds bounds -repeat in postgres mode: the slots of the rounds and
// of the big transaction must fit max_replication_slots (pgServerArgs).
const maxPGRounds = 8

// pgServerArgs are added to the test server's postgres command line: room for
// the slots and walsenders, and fewer checkpoints while the backlog is
// written (fewer full-page images in the WAL). Decoding settings
// (logical_decoding_work_mem) keep their defaults.
var pgServerArgs = []string{"-c", "max_replication_slots=32", "-c", "max_wal_senders=20", "-c", "max_wal_size=8GB"}

// pgStack is what the PostgreSQL passes read from and write to.
type pgStack struct {
	PG       *testserver.Postgres
	DSN      string // the superuser's DSN for the bench database
	Brokers  []string
	Registry string
	Dir      string // fluxo configs and checkpoints
	Pids     []int  // this process, broker, -postmaster (the whole server, see treeCPU)
}

// pgRound is one round of passes over the backlog: the parse-only
// variants, then fluxo.
type pgRound struct {
	Parse [len(parseVariants)]parseResult
	Full  fluxoResult
}

// pgResults is everything the PostgreSQL report prints.
type pgResults struct {
	Backlog     *pgBacklog
	Rounds      []pgRound
	BigTx       *pgBigTx
	BigParse    [len(parseVariants)]parseResult
	Big         fluxoResult
	BrokerRSS   int64 // broker child's RSS after all passes
	BrokerHWM   int64
	ProfilePath string
}

// benchPostgres is bench for -source postgres.
func benchPostgres(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, cleanup, err := startPGStack(ctx, stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	res, err := measurePG(ctx, st, opts, stderr, log)
	if err != nil {
		return err
	}
	res.BrokerRSS, _ = statusField(st.Pids[1], "VmRSS")
	res.BrokerHWM, _ = statusField(st.Pids[1], "VmHWM")
	printPGReport(stdout, res)
	if opts.keep {
		fmt.Fprintf(stderr, "\n-keep: postgres at %s (data in %s), kafka at %s, registry at %s; Ctrl-C to stop\n",
			st.DSN, st.PG.Dir, strings.Join(st.Brokers, ","), st.Registry)
		<-ctx.Done()
	}
	return nil
}

// measurePG builds the backlog, runs the rounds, then the big-transaction
// phase.
func measurePG(ctx context.Context, st pgStack, opts options, stderr io.Writer, log *slog.Logger) (pgResults, error) {
	res := pgResults{ProfilePath: opts.cpuProfile}
	note(stderr, "creating the table, the publication and %d slots, then a backlog of %d row changes", len(pgSlotKinds)*opts.repeat, opts.rows)
	bl, err := buildPGBacklog(ctx, st.DSN, opts.rows, opts.repeat)
	if err != nil {
		return res, err
	}
	res.Backlog = bl
	note(stderr, "backlog built in %s: %d transactions, %s of WAL", bl.Elapsed.Round(1e6), bl.Txs, mb(bl.WALBytes))
	for i := range opts.repeat {
		r, err := measurePGRound(ctx, st, opts, bl, i, stderr, log)
		if err != nil {
			return res, err
		}
		res.Rounds = append(res.Rounds, r)
	}
	return res, measureBigTx(ctx, st, bl, opts.rows, stderr, log, &res)
}

// measurePGRound runs round i: the parse-only passes, each on its slot and
// checked against the generator's counts (the first profiled in round 0),
// then the fluxo pass on the last slot (profiled in round 0).
func measurePGRound(ctx context.Context, st pgStack, opts options, bl *pgBacklog, i int, stderr io.Writer, log *slog.Logger) (pgRound, error) {
	var r pgRound
	var err error
	for k, v := range parseVariants {
		debug.FreeOSMemory()
		note(stderr, "round %d: %s pass (slot %s)", i+1, v.Label, slotName(v.Kind, i))
		prof := opts.parseProf
		if k > 0 {
			prof = ""
		}
		err = profiled(firstOnly(i, prof), func() (err error) {
			r.Parse[k], err = pgParseOnly(ctx, st, v, slotName(v.Kind, i), bl.Ops.Total())
			return err
		})
		if err != nil {
			return r, err
		}
		if p := r.Parse[k]; p.Ops != bl.Ops || p.Txs != bl.Txs {
			return r, fmt.Errorf("%s pass read %+v in %d transactions, the generator wrote %+v in %d", v.Label, p.Ops, p.Txs, bl.Ops, bl.Txs)
		}
	}
	debug.FreeOSMemory()
	note(stderr, "round %d: fluxo pass over the full backlog (slot %s)", i+1, slotName("fluxo", i))
	full := passSpec{Name: fmt.Sprintf("full%d", i+1), Records: bl.Ops.Total() + bl.Ops.Deletes}
	if i == 0 {
		full.CPUProfile, full.MemProfile, full.Trace = opts.cpuProfile, opts.memProfile, opts.trace
	}
	if r.Full, err = runPGFluxo(ctx, st, full, slotName("fluxo", i), log); err != nil {
		return r, fmt.Errorf("fluxo full pass: %w", err)
	}
	return r, nil
}

// measureBigTx creates a slot per pass, commits one transaction of rows
// inserts and reads it with the parse-only loops and with fluxo.
func measureBigTx(ctx context.Context, st pgStack, bl *pgBacklog, rows int, stderr io.Writer, log *slog.Logger, res *pgResults) error {
	note(stderr, "creating %d slots, then one transaction of %d inserts", len(pgSlotKinds), rows)
	big, err := addBigTx(ctx, st.DSN, bl.NextID, rows)
	if err != nil {
		return err
	}
	res.BigTx = big
	note(stderr, "big transaction built in %s, %s of WAL", big.Elapsed.Round(1e6), mb(big.WALBytes))
	for k, v := range parseVariants {
		debug.FreeOSMemory()
		note(stderr, "%s pass over the %d-row transaction", v.Label, rows)
		if res.BigParse[k], err = pgParseOnly(ctx, st, v, slotName(v.Kind, -1), int64(rows)); err != nil {
			return err
		}
		if p := res.BigParse[k]; p.Ops != (opCounts{Inserts: int64(rows)}) || p.Txs != 1 {
			return fmt.Errorf("%s pass over the big transaction read %+v in %d transactions", v.Label, p.Ops, p.Txs)
		}
	}
	debug.FreeOSMemory()
	note(stderr, "fluxo pass over the %d-row transaction", rows)
	if res.Big, err = runPGFluxo(ctx, st, passSpec{Name: "bigtx", Records: int64(rows)}, slotName("fluxo", -1), log); err != nil {
		return fmt.Errorf("fluxo big-transaction pass: %w", err)
	}
	return nil
}

// slotName names the slot of a pass kind (pgSlotKinds) in round i; i < 0
// is the big-transaction phase.
func slotName(kind string, i int) string {
	if i < 0 {
		return "bench_" + kind + "_big"
	}
	return "bench_" + kind + "_" + strconv.Itoa(i+1)
}

// startPGStack starts PostgreSQL, the broker child and the registry;
// cleanup stops them all.
func startPGStack(ctx context.Context, stderr io.Writer) (pgStack, func(), error) {
	var st pgStack
	var closers []func() error
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			if err := closers[i](); err != nil {
				fmt.Fprintln(stderr, "fluxo-bench: cleanup:", err)
			}
		}
	}
	fail := func(err error) (pgStack, func(), error) { cleanup(); return st, func() {}, err }
	note(stderr, "starting postgresql, kafka (kfake, child process) and schema registry (srfake)")
	pg, err := testserver.StartPostgres(ctx, testserver.PostgresOptions{ExtraArgs: pgServerArgs})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, pg.Close)
	if err := pg.Exec(ctx, "CREATE DATABASE "+pgBenchDB); err != nil {
		return fail(err)
	}
	postmaster, err := postmasterPid(pg)
	if err != nil {
		return fail(err)
	}
	if st.Dir, err = os.MkdirTemp("", "fluxo-bench-pg-"); err != nil {
		return fail(err)
	}
	closers = append(closers, func() error { return os.RemoveAll(st.Dir) })
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
	st.PG, st.DSN, st.Brokers, st.Registry = pg, pg.SuperuserDSN(pgBenchDB), br.addrs, url
	st.Pids = []int{0, br.Pid(), -postmaster}
	return st, cleanup, nil
}

// postmasterPid reads the server's process id from postmaster.pid.
func postmasterPid(pg *testserver.Postgres) (int, error) {
	b, err := os.ReadFile(filepath.Join(pg.Dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, errors.Join(errors.New("read postgres pid"), err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}
