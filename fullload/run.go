// Package fullload runs `fluxo fullload`: it reads a consistent view of the
// source's tables (a cdc.Dumper) in chunks with parallel workers and writes
// them as Avro or Parquet part files into the bronze layer (SPEC §7), with a
// manifest and a _SUCCESS marker per table. A run interrupted by a crash or a
// kill resumes when started again with the same run id: key ranges already
// written are skipped, nothing is written twice.
package fullload

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
)

// Defaults of Options.
const (
	DefaultMaxPartBytes = 256 << 20
	DefaultChunkRows    = 500_000
)

// Options configure a run.
type Options struct {
	// Name is the config's name: the first level of the layout.
	Name string
	// TopicPrefix names the Avro namespace, so that files carry the same
	// Value schema as the stream's records.
	TopicPrefix string
	Dumper      cdc.Dumper
	Store       *bronze.Store
	// Format is "avro" or "parquet"; Compression "snappy", "zstd",
	// "deflate" or "none".
	Format, Compression string
	// Parallelism is the number of chunks read at once (default 4).
	Parallelism int
	// MaxPartBytes bounds a part file (default 256 MiB); a single row larger
	// than that still makes one part.
	MaxPartBytes int64
	// ChunkRows is the most rows planned per chunk (default 500,000).
	ChunkRows int64
	// RunID resumes that run, or names a new one; empty starts a new run
	// named after the start time.
	RunID string
	// Only restricts the run to these tables (schema.table, from --tables);
	// each must be one the Dumper captures.
	Only []string
	// Version is fluxo's version, recorded in manifests.
	Version string
	Logger  *slog.Logger
	// Progress receives the live display when Terminal is set; otherwise
	// progress goes to Logger every LogEvery (default 5s).
	Progress io.Writer
	Terminal bool
	LogEvery time.Duration
	// Now returns the time (default time.Now).
	Now func() time.Time
}

// Result is the outcome of a run.
type Result struct {
	RunID  string
	Date   string
	Tables []TableResult
}

// TableResult is one table's outcome.
type TableResult struct {
	Table   cdc.TableID
	Rows    int64 // rows in the table's files (all attempts)
	Files   int
	Bytes   int64
	Elapsed time.Duration // this invocation's reading time
	Earlier bool          // complete before this invocation
	Err     error
}

// validRunID matches run ids: they become a path segment.
var validRunID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

// runner is one invocation of a run.
type runner struct {
	o        Options
	runID    string
	date     string
	attempt  int
	attempts []attemptRecord // every attempt of the run, this one included
	journal  *journal
	tables   []*table
	q        *queue
}

// Run loads the tables and returns when every table is complete (nil error),
// or with an error naming the tables that are not; the Result describes each
// table either way.
func Run(ctx context.Context, o Options) (*Result, error) {
	r, err := start(ctx, o)
	if err != nil {
		return nil, err
	}
	stop := r.showProgress()
	r.work(ctx)
	stop()
	return r.result(ctx)
}

// start validates the options, opens the run and plans its chunks.
func start(ctx context.Context, o Options) (*runner, error) {
	setDefaults(&o)
	now := o.Now().UTC()
	r := &runner{o: o, runID: o.RunID, date: now.Format(time.DateOnly), q: newQueue()}
	if r.runID == "" {
		r.runID = now.Format("20060102T150405Z")
	} else if !validRunID.MatchString(r.runID) {
		return nil, fmt.Errorf("--run-id %q: use letters, digits, '_', '.' and '-' (at most 100)", r.runID)
	}
	dts, err := o.Dumper.Tables(ctx)
	if err != nil {
		return nil, err
	}
	if dts, err = selectTables(dts, o.Only); err != nil {
		return nil, err
	}
	if err := r.openRun(ctx, dts, now); err != nil {
		return nil, err
	}
	for _, dt := range dts {
		t, err := r.newTable(dt)
		if err != nil {
			return nil, err
		}
		r.tables = append(r.tables, t)
	}
	return r, r.plan(ctx)
}

func setDefaults(o *Options) {
	if o.Parallelism < 1 {
		o.Parallelism = 4
	}
	if o.MaxPartBytes <= 0 {
		o.MaxPartBytes = DefaultMaxPartBytes
	}
	if o.ChunkRows <= 0 {
		o.ChunkRows = DefaultChunkRows
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LogEvery <= 0 {
		o.LogEvery = 5 * time.Second
	}
	if o.TopicPrefix == "" {
		o.TopicPrefix = o.Name
	}
}

// selectTables keeps the tables named in only (all when only is empty).
func selectTables(dts []cdc.DumpTable, only []string) ([]cdc.DumpTable, error) {
	if len(dts) == 0 {
		if len(only) > 0 {
			return nil, fmt.Errorf("--tables %s: none of them is a table the source has and source.tables captures (check the names: schema.table, the database for MySQL)", strings.Join(only, ","))
		}
		return nil, errors.New("no table to load: source.tables matches none (check the names and that the user may SELECT them)")
	}
	if len(only) == 0 {
		return dts, nil
	}
	var out []cdc.DumpTable
	var names []string
	for _, dt := range dts {
		names = append(names, dt.Table.ID.String())
		if slices.Contains(only, dt.Table.ID.String()) {
			out = append(out, dt)
		}
	}
	for _, name := range only {
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("--tables: %s is not a table the source has, or source.tables / exclude_tables leave it out, or the user may not read it (found: %s)", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}

// openRun creates the run record, or checks that the existing one matches.
func (r *runner) openRun(ctx context.Context, dts []cdc.DumpTable, now time.Time) error {
	r.journal = newJournal(r.o.Store, r.o.Name, r.runID)
	want := &runRecord{RunID: r.runID, Name: r.o.Name, Date: r.date, StartedAt: now,
		Format: r.o.Format, Compression: r.o.Compression}
	for _, dt := range dts {
		want.Tables = append(want.Tables, dt.Table.ID.String())
	}
	slices.Sort(want.Tables)
	have, err := r.journal.loadRun(ctx)
	if err != nil {
		return err
	}
	if have != nil {
		if err := have.checkSame(want); err != nil {
			return err
		}
		r.date = have.Date
		r.o.Logger.Info("resuming run", "run_id", r.runID, "date", r.date, "started_at", have.StartedAt)
	} else if err := r.journal.put(ctx, r.journal.runKey(), want); err != nil {
		if errors.Is(err, bronze.ErrExists) {
			return fmt.Errorf("run %s was just started by another fluxo fullload: %w", r.runID, err)
		}
		return err
	}
	if r.attempt, err = r.journal.nextAttempt(ctx, attemptRecord{StartedAt: now, View: r.o.Dumper.Info(), Version: r.o.Version}); err != nil {
		return err
	}
	r.attempts, err = r.journal.attempts(ctx)
	return err
}

// plan loads each table's earlier progress and queues what is left.
func (r *runner) plan(ctx context.Context) error {
	var jobs []*job
	for _, t := range r.tables {
		if err := r.resume(ctx, t); err != nil {
			return err
		}
		switch {
		case t.complete:
			t.prog.setState(stateDone)
			continue
		case t.toCopy != nil:
			jobs = append(jobs, &job{t: t, finishOnly: true})
		case t.dt.Split == cdc.SplitKey:
			for _, kr := range planKeys(&t.dt, t.doneRanges(), r.o.Parallelism, r.o.ChunkRows) {
				jobs = append(jobs, &job{t: t, keys: kr})
			}
		case t.dt.Split == cdc.SplitPages:
			for _, pr := range planPages(&t.dt, r.o.Parallelism, r.o.ChunkRows) {
				jobs = append(jobs, &job{t: t, pages: pr})
			}
		default:
			jobs = append(jobs, &job{t: t})
		}
	}
	slices.SortStableFunc(jobs, func(a, b *job) int { // largest tables first
		return cmp.Compare(b.t.dt.EstimatedRows, a.t.dt.EstimatedRows)
	})
	for _, j := range jobs {
		j.t.pending++
	}
	for _, t := range r.tables {
		if !t.complete && t.pending == 0 { // every range done: finish now
			jobs = append(jobs, &job{t: t, finishOnly: true})
			t.pending++
		}
	}
	for _, j := range jobs {
		r.q.push(j)
	}
	return nil
}

// work runs the queue with Parallelism workers.
func (r *runner) work(ctx context.Context) {
	var wg sync.WaitGroup
	for range r.o.Parallelism {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := r.q.pop(); j != nil; j = r.q.pop() {
				r.runJob(ctx, j)
				r.q.done()
			}
		}()
	}
	wg.Wait()
}

// result builds the Result and the overall error.
func (r *runner) result(ctx context.Context) (*Result, error) {
	res := &Result{RunID: r.runID, Date: r.date}
	var bad []string
	for _, t := range r.tables {
		tr := TableResult{Table: t.id, Earlier: t.earlier, Elapsed: t.prog.elapsed(), Err: t.err}
		if !t.complete && t.err == nil {
			tr.Err = errors.New("not finished")
			if ctx.Err() != nil {
				tr.Err = errors.New("interrupted")
			}
		}
		for _, p := range t.files() {
			tr.Rows += p.Rows
			tr.Bytes += p.Bytes
			tr.Files++
		}
		if tr.Err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", t.id, tr.Err))
		}
		res.Tables = append(res.Tables, tr)
	}
	if len(bad) > 0 {
		return res, fmt.Errorf("%d of %d tables incomplete (rerun with --run-id %s to resume):\n  %s",
			len(bad), len(r.tables), r.runID, strings.Join(bad, "\n  "))
	}
	return res, nil
}
