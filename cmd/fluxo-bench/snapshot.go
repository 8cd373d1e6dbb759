package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"

	"github.com/fluxo-cdc/fluxo/cdc/incremental"
	"github.com/fluxo-cdc/fluxo/internal/command"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/ops/admin"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// The incremental snapshot benchmark (-mode snapshot): the -rows-row,
// 10-column bench table of -mode fullload, snapshotted by `fluxo stream`
// (snapshot.mode initial, 8192-row chunks, into the in-memory broker) while
// a writer commits 1,000 rows/s into it, next to single-worker `fluxo
// fullload` of the same table, measured first in the same run. Halfway
// through, an ALTER TABLE ... ADD COLUMN runs on the table being read.
// Targets (issue 12): the snapshot reaches 50% of the full load's rate; the
// ALTER waits at most one chunk's read (the median time of the chunk query
// alone); on PostgreSQL no transaction of fluxo holds an xmin for longer
// than one chunk's read.

const (
	snapChunkRows   = 8192
	writerRowsPerTx = 10
	writerTxPerSec  = 100 // 1,000 rows/s
)

// snapTarget is one server of the benchmark: how to reach it, and its own
// way of running the side work (writer, ALTER, chunk query, xmin probe).
type snapTarget struct {
	dsn, table string
	newConn    func(ctx context.Context) (snapConn, error)
	// sideDSN is the PostgreSQL DSN of the benchmark's own sessions, which
	// the xmin probe leaves out ("": not PostgreSQL).
	sideDSN string
}

// snapConn is one client connection of the benchmark's side work.
type snapConn interface {
	exec(ctx context.Context, q string) error
	close()
}

// benchSnapshot runs the incremental snapshot benchmark for opts.source.
func benchSnapshot(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "fluxo-bench-snapshot-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tg, cleanup, err := startSnapTarget(ctx, opts, stdout)
	if err != nil {
		return err
	}
	defer cleanup()
	floor, err := bestOf(opts.repeat, func() error {
		return fullloadOnce(ctx, tg.dsn, filepath.Join(dir, "floor"+time.Now().Format("150405.000")), 1, opts.rows)
	})
	if err != nil {
		return fmt.Errorf("fluxo fullload: %w", err)
	}
	floorRate := float64(opts.rows) / floor.Seconds()
	fmt.Fprintf(stdout, "%-62s %8.2fs %10.0f rows/s\n", "fluxo fullload avro+snappy file:// parallelism 1 (the floor)", floor.Seconds(), floorRate)
	chunk, err := chunkReadTime(ctx, tg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-62s %8.3fs\n", fmt.Sprintf("one chunk's read alone (%d rows, median of 9)", snapChunkRows), chunk.Seconds())
	br, err := startBroker()
	if err != nil {
		return err
	}
	defer br.Close()
	reg, url, err := testserver.StartRegistry()
	if err != nil {
		return err
	}
	defer reg.Close()
	stopProfile, err := startTo(opts.cpuProfile, pprof.StartCPUProfile, pprof.StopCPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	return runSnapshotPass(ctx, tg, br.addrs, url, dir, opts.rows, floorRate, chunk, stdout)
}

// snapResult is what the snapshot pass measured.
type snapResult struct {
	elapsed   time.Duration
	alter     time.Duration
	maxXmin   time.Duration
	writerTxs int
	// loaded are the times of the chunk query alone run every 250 ms during
	// the snapshot, under the same load: what one chunk's read takes then.
	loaded []time.Duration
}

// runSnapshotPass streams with an incremental snapshot of the table while
// the writer, the ALTER and the xmin probe run, and prints the report.
func runSnapshotPass(ctx context.Context, tg snapTarget, brokers []string, registry, dir string, rows int, floorRate float64, chunk time.Duration, stdout io.Writer) error {
	cfg, err := snapConfig(tg, brokers, registry, dir)
	if err != nil {
		return err
	}
	wctx, stopSide := context.WithCancel(ctx)
	defer stopSide()
	var side sync.WaitGroup
	var res snapResult
	var sideErr error
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		sideErr = errors.Join(sideErr, err)
		mu.Unlock()
	}
	side.Go(func() {
		n, err := runWriter(wctx, tg, rows)
		res.writerTxs = n
		if err != nil && wctx.Err() == nil {
			fail(fmt.Errorf("writer: %w", err))
		}
	})
	side.Go(func() {
		var err error
		if res.loaded, err = probeChunkReads(wctx, tg); err != nil && wctx.Err() == nil {
			fail(fmt.Errorf("chunk read probe: %w", err))
		}
	})
	if tg.sideDSN != "" {
		side.Go(func() {
			var err error
			if res.maxXmin, err = probeXmin(wctx, tg.sideDSN); err != nil {
				fail(fmt.Errorf("xmin probe: %w", err))
			}
		})
	}
	addr := make(chan string, 1)
	sctx, stopStream := context.WithCancel(ctx)
	streamDone := make(chan error, 1)
	start := time.Now()
	go func() {
		streamDone <- command.Stream(sctx, cfg, command.StreamOptions{Listening: func(a string) { addr <- a }}, slog.New(slog.DiscardHandler))
	}()
	res.elapsed, res.alter, err = followSnapshot(ctx, tg, "http://"+<-addr, rows, start, streamDone)
	stopSide()
	side.Wait()
	stopStream()
	err = errors.Join(err, sideErr, <-streamDone)
	if err != nil {
		return err
	}
	reportSnapshot(stdout, res, rows, floorRate, chunk)
	return nil
}

// followSnapshot polls GET /snapshot until the stream has no table left to
// read, running the ALTER once half the rows are done.
func followSnapshot(ctx context.Context, tg snapTarget, base string, rows int, start time.Time, streamDone <-chan error) (elapsed, alter time.Duration, err error) {
	seen := false
	for {
		select {
		case err := <-streamDone:
			return 0, 0, fmt.Errorf("the stream stopped during the snapshot: %v", err)
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		q, err := snapshotQueue(ctx, base)
		if err != nil {
			continue // not serving yet
		}
		if len(q) == 0 && seen {
			return time.Since(start), alter, nil
		}
		seen = seen || len(q) > 0
		if alter == 0 && len(q) > 0 && q[0].RowsDone >= int64(rows/2) {
			if alter, err = alterTable(ctx, tg); err != nil {
				return 0, 0, err
			}
		}
	}
}

func snapshotQueue(ctx context.Context, base string) ([]incremental.TableReport, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/snapshot", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st admin.SnapshotStatus
	return st.Tables, json.NewDecoder(resp.Body).Decode(&st)
}

// alterTable adds a column to the table and returns how long it took.
func alterTable(ctx context.Context, tg snapTarget) (time.Duration, error) {
	c, err := tg.newConn(ctx)
	if err != nil {
		return 0, err
	}
	defer c.close()
	t0 := time.Now()
	if err := c.exec(ctx, "ALTER TABLE "+tg.table+" ADD COLUMN extra INT"); err != nil {
		return 0, fmt.Errorf("alter table: %w", err)
	}
	return time.Since(t0), nil
}

// runWriter commits writerTxPerSec transactions a second, each inserting
// half of writerRowsPerTx new rows and updating the other half, until ctx
// ends; it returns the transactions committed.
func runWriter(ctx context.Context, tg snapTarget, rows int) (int, error) {
	c, err := tg.newConn(ctx)
	if err != nil {
		return 0, err
	}
	defer c.close()
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(time.Second / writerTxPerSec)
	defer tick.Stop()
	next, n := rows, 0
	for {
		select {
		case <-ctx.Done():
			return n, nil
		case <-tick.C:
		}
		stmts := []string{"BEGIN"}
		for range writerRowsPerTx / 2 {
			next++
			stmts = append(stmts, fmt.Sprintf("INSERT INTO %s (id, i) VALUES (%d, %d)", tg.table, next, next%100000),
				fmt.Sprintf("UPDATE %s SET i = i + 1 WHERE id = %d", tg.table, 1+rng.IntN(rows)))
		}
		for _, q := range append(stmts, "COMMIT") {
			if err := c.exec(ctx, q); err != nil {
				return n, err
			}
		}
		n++
	}
}

// probeChunkReads runs the chunk query alone every 250 ms until ctx ends
// and returns its times, sorted.
func probeChunkReads(ctx context.Context, tg snapTarget) ([]time.Duration, error) {
	c, err := tg.newConn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	var times []time.Duration
	for i := 0; ctx.Err() == nil; i++ {
		q := fmt.Sprintf("SELECT * FROM %s WHERE id > %d ORDER BY id LIMIT %d", tg.table, (i*7919*snapChunkRows)%500_000, snapChunkRows)
		t0 := time.Now()
		if err := c.exec(ctx, q); err != nil {
			slices.Sort(times)
			return times, err
		}
		times = append(times, time.Since(t0))
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	slices.Sort(times)
	return times, nil
}

// chunkReadTime is the median time of one chunk's query alone, from the
// middle of the table.
func chunkReadTime(ctx context.Context, tg snapTarget) (time.Duration, error) {
	c, err := tg.newConn(ctx)
	if err != nil {
		return 0, err
	}
	defer c.close()
	var times []time.Duration
	for i := range 9 {
		q := fmt.Sprintf("SELECT * FROM %s WHERE id > %d ORDER BY id LIMIT %d", tg.table, 100_000+i*snapChunkRows, snapChunkRows)
		t0 := time.Now()
		if err := c.exec(ctx, q); err != nil {
			return 0, err
		}
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// probeXmin samples, every 5 ms until ctx ends, how long the oldest
// transaction holding an xmin in a session other than the benchmark's own
// (application_name fluxo-bench) has been open, and returns the largest.
func probeXmin(ctx context.Context, dsn string) (time.Duration, error) {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer c.Close(context.Background())
	var worst time.Duration
	for ctx.Err() == nil {
		var secs float64
		err := c.QueryRow(ctx, `SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)
			FROM pg_stat_activity WHERE backend_xmin IS NOT NULL AND backend_type = 'client backend'
			AND application_name <> 'fluxo-bench' AND pid <> pg_backend_pid()`).Scan(&secs)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return worst, err
		}
		worst = max(worst, time.Duration(secs*float64(time.Second)))
		time.Sleep(5 * time.Millisecond)
	}
	return worst, nil
}

func reportSnapshot(w io.Writer, r snapResult, rows int, floorRate float64, chunk time.Duration) {
	rate := float64(rows) / r.elapsed.Seconds()
	verdict := func(ok bool) string { return map[bool]string{true: "met", false: "MISSED"}[ok] }
	fmt.Fprintf(w, "%-62s %8.2fs %10.0f rows/s  %5.1f%% of the floor  target >= 50%%: %s\n",
		fmt.Sprintf("incremental snapshot, writer %d rows/s (%d tx)", writerRowsPerTx*writerTxPerSec, r.writerTxs),
		r.elapsed.Seconds(), rate, 100*rate/floorRate, verdict(rate >= 0.5*floorRate))
	loaded := chunk
	if len(r.loaded) > 0 {
		loaded = r.loaded[len(r.loaded)-1]
		fmt.Fprintf(w, "%-62s %8.3fs  median %.3fs of %d\n", "one chunk's read alone during the snapshot (the longest)",
			loaded.Seconds(), r.loaded[len(r.loaded)/2].Seconds(), len(r.loaded))
	}
	fmt.Fprintf(w, "%-62s %8.3fs  %4.1f of the longest chunk read  target <= 1: %s\n", "ALTER TABLE ADD COLUMN during the snapshot",
		r.alter.Seconds(), r.alter.Seconds()/loaded.Seconds(), verdict(r.alter <= loaded))
	if r.maxXmin > 0 {
		fmt.Fprintf(w, "%-62s %8.3fs  %4.1f of the longest chunk read  target <= 1: %s\n", "oldest xmin held by fluxo (pg_stat_activity, every 5 ms)",
			r.maxXmin.Seconds(), r.maxXmin.Seconds()/loaded.Seconds(), verdict(r.maxXmin <= loaded))
	}
}

// snapConfig is the stream's config: the bench table, snapshot.mode
// initial, 8192-row chunks.
func snapConfig(tg snapTarget, brokers []string, registry, dir string) (*config.Config, error) {
	src := fmt.Sprintf("  dsn: %s\n  tables: [bench.bench]\n  server_id: 7301\n", tg.dsn)
	if strings.HasPrefix(tg.dsn, "postgres") {
		src = fmt.Sprintf("  dsn: %s\n  tables: [public.bench]\n  slot: fluxo_snapbench\n", tg.dsn)
	}
	y := fmt.Sprintf("name: snapbench\nsource:\n%skafka:\n  brokers: [%s]\nschema_registry:\n  url: %s\ncheckpoint:\n  path: %s\n"+
		"snapshot:\n  mode: initial\n  chunk_rows: %d\nhttp:\n  listen: 127.0.0.1:0\n",
		src, strings.Join(brokers, ", "), registry, filepath.Join(dir, "snapbench.checkpoint"), snapChunkRows)
	return config.Parse("snapbench.yaml", []byte(y), func(string) (string, bool) { return "", false })
}

// startSnapTarget starts the server of opts.source with the filled bench
// table.
func startSnapTarget(ctx context.Context, opts options, stdout io.Writer) (snapTarget, func(), error) {
	if opts.source == "postgres" {
		pg, err := testserver.StartPostgres(ctx, testserver.PostgresOptions{})
		if err != nil {
			return snapTarget{}, nil, err
		}
		note(stdout, "filling a %d-row PostgreSQL table", opts.rows)
		if err := pg.Exec(ctx, pgBenchDDL+"; "+fmt.Sprintf(pgBenchFill, opts.rows)+"; VACUUM ANALYZE bench"); err != nil {
			pg.Close()
			return snapTarget{}, nil, err
		}
		dsn := pg.DSN("postgres", "", "postgres")
		side := dsn + "&application_name=fluxo-bench"
		tg := snapTarget{dsn: dsn, table: "bench", sideDSN: side,
			newConn: func(ctx context.Context) (snapConn, error) { return dialPG(ctx, side) }}
		return tg, func() { pg.Close() }, nil
	}
	db, err := testserver.StartMariaDB(ctx, testserver.MariaDBOptions{})
	if err != nil {
		return snapTarget{}, nil, err
	}
	note(stdout, "filling a %d-row MariaDB table", opts.rows)
	for _, q := range []string{"CREATE DATABASE bench CHARACTER SET utf8mb4", "USE bench; " + myBenchDDL,
		"USE bench; " + fmt.Sprintf(myBenchFill, opts.rows), "USE bench; ANALYZE TABLE bench"} {
		if err := db.Exec(ctx, q); err != nil {
			db.Close()
			return snapTarget{}, nil, err
		}
	}
	tg := snapTarget{dsn: "mysql://root@" + db.Addr() + "/bench", table: "bench.bench",
		newConn: func(ctx context.Context) (snapConn, error) { return dialMy(db.Addr()) }}
	return tg, func() { db.Close() }, nil
}

type pgSnapConn struct{ c *pgx.Conn }

func dialPG(ctx context.Context, dsn string) (snapConn, error) {
	c, err := pgx.Connect(ctx, dsn)
	return pgSnapConn{c}, err
}

func (p pgSnapConn) exec(ctx context.Context, q string) error {
	_, err := p.c.Exec(ctx, q)
	return err
}
func (p pgSnapConn) close() { p.c.Close(context.Background()) }

type mySnapConn struct{ c *client.Conn }

func dialMy(addr string) (snapConn, error) {
	c, err := client.Connect(addr, "root", "", "bench")
	return mySnapConn{c}, err
}

func (m mySnapConn) exec(_ context.Context, q string) error {
	r, err := m.c.Execute(q)
	if err == nil {
		r.Close()
	}
	return err
}
func (m mySnapConn) close() { m.c.Close() }
