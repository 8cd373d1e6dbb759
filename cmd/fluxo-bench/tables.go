package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// The start-up benchmark (-mode tables, issue 15): -tables tables of 21
// columns with 2 rows each, streamed by `fluxo stream` with snapshot.mode
// initial into the in-memory broker. It reports how long after the start
// /readyz answers 200, how long a row inserted then takes to reach Kafka,
// and how long until every table's rows are there (the incremental
// snapshot of all tables).
// Target: 1,000 tables streaming within 10 s, and the time linear in the
// table count.

// tableColumns are the 20 columns after the key of each table.
var tableColumns = []string{"a INT", "b INT", "c BIGINT", "d VARCHAR(32)", "e VARCHAR(64)", "f DECIMAL(10,2)", "g DECIMAL(12,4)",
	"h DATE", "i DOUBLE PRECISION", "j SMALLINT", "k VARCHAR(16)", "l INT", "m BIGINT", "n VARCHAR(32)", "o DECIMAL(8,2)",
	"p DATE", "q DOUBLE PRECISION", "r SMALLINT", "s VARCHAR(48)", "u INT"}

// tablesDDL is the statements that create n tables (and their 2 rows
// each) and the probe table.
func tablesDDL(n int) []string {
	cols := strings.Join(tableColumns, ", ")
	row := func(id int) string {
		return fmt.Sprintf("(%d, 1, 2, 3, 'dee', 'eee', 1.25, 2.5, '2024-01-01', 0.5, 7, 'kay', 8, 9, 'enn', 3.75, '2024-02-02', 1.5, 4, 'ess', 5)", id)
	}
	stmts := []string{"CREATE TABLE zz_probe (id INT PRIMARY KEY)"}
	for i := 1; i <= n; i++ {
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE t%04d (id BIGINT PRIMARY KEY, %s)", i, cols),
			fmt.Sprintf("INSERT INTO t%04d VALUES %s, %s", i, row(1), row(2)))
	}
	return stmts
}

// benchTables runs the start-up benchmark on opts.source.
func benchTables(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	level := slog.LevelWarn
	if os.Getenv("FLUXO_BENCH_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	dir, err := os.MkdirTemp("", "fluxo-bench-tables-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	note(stderr, "creating %d tables of 21 columns with 2 rows each (%s)", opts.tables, opts.source)
	srv, err := startTablesServer(ctx, opts)
	if err != nil {
		return err
	}
	defer srv.close()
	br, err := startBroker()
	if err != nil {
		return err
	}
	defer br.Close()
	reg, err := startRegistryChild() // its CPU is not fluxo's
	if err != nil {
		return err
	}
	defer reg.Close()
	url := reg.addrs[0]
	parse := func(src string) (*config.Config, error) {
		y := fmt.Sprintf("name: tbench\nsource:\n%skafka:\n  brokers: [%s]\nschema_registry:\n  url: %s\ncheckpoint:\n  path: %s\nsnapshot:\n  mode: initial\nhttp:\n  listen: 127.0.0.1:0\n",
			src, strings.Join(br.addrs, ", "), url, filepath.Join(dir, "tbench.checkpoint"))
		return config.Parse("tbench.yaml", []byte(y), func(string) (string, bool) { return "", false })
	}
	cfg, err := parse(srv.src)
	if err != nil {
		return err
	}
	proxied, err := parse(strings.Replace(srv.src, srv.addr, srv.proxy.Addr(), 1))
	if err != nil {
		return err
	}
	prefix := "tbench.tables."
	if opts.source == "postgres" {
		prefix = "tbench.public."
	}
	topics := []string{prefix + "zz_probe"}
	for i := 1; i <= opts.tables; i++ {
		topics = append(topics, fmt.Sprintf("%st%04d", prefix, i))
	}
	// The poller learns of new topics within 50 ms, not kgo's default 5 s.
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.addrs...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	stopProfile, err := startTo(opts.cpuProfile, pprof.StartCPUProfile, pprof.StopCPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	cpu := startCPU(0, reg.Pid())
	start := time.Now()
	st := startStream(ctx, cfg, log)
	ready, err := st.ready(ctx)
	var probe, live, all time.Time
	adm := kadm.NewClient(cl)
	if err == nil {
		probe, live, all, err = waitTables(ctx, adm, topics, srv.exec, st.stopped, stderr)
	}
	if err != nil {
		return errors.Join(err, st.stop())
	}
	used := cpu.Used()
	stopProfile()
	fmt.Fprintf(stdout, "\n## Start-up with %d tables of 21 columns, 2 rows each (%s)\n\n", opts.tables, opts.source)
	fmt.Fprintf(stdout, "| | seconds after the start |\n|---|---|\n")
	fmt.Fprintf(stdout, "| /readyz answers 200 (streaming) | %.2f |\n", ready.Sub(start).Seconds())
	fmt.Fprintf(stdout, "| a row inserted then is in Kafka | %.2f (%.0f ms after its insert) |\n", live.Sub(start).Seconds(), float64(live.Sub(probe).Milliseconds()))
	fmt.Fprintf(stdout, "| every table's rows are in Kafka (snapshot done) | %.2f |\n", all.Sub(start).Seconds())
	fmt.Fprintf(stdout, "| fluxo CPU until then (the registry's, in its own process) | %.2f s (%.2f s) |\n", used[0].Seconds(), used[1].Seconds())
	if err := st.stop(); err != nil {
		return err
	}
	// The steady state runs through the proxy, which the start-up did not
	// (each hop adds to every query of the snapshot).
	st = startStream(ctx, proxied, log)
	_, err = st.ready(ctx)
	if err == nil {
		err = srv.exec(ctx, "INSERT INTO zz_probe VALUES (2)") // streaming again before the cut
	}
	if err == nil {
		err = waitCounts(ctx, adm, st.stopped, map[string]int64{topics[0]: 2})
	}
	if err == nil {
		err = benchSpread(ctx, opts, srv, st.stopped, adm, topics[1:], stdout, stderr)
	}
	return errors.Join(err, st.stop())
}

// waitTables inserts the probe row once the stream runs, then polls the
// topics' end offsets until the probe row arrived and every table topic
// holds its 2 rows (asking for the last table's topic until it does: the
// poller's CPU counts as fluxo's).
func waitTables(ctx context.Context, adm *kadm.Client, topics []string, exec func(context.Context, string) error, stopped <-chan struct{}, progress io.Writer) (probe, live, all time.Time, err error) {
	probe = time.Now()
	if err := exec(ctx, "INSERT INTO zz_probe VALUES (1)"); err != nil {
		return probe, live, all, err
	}
	if err := waitCounts(ctx, adm, stopped, map[string]int64{topics[0]: 1}); err != nil {
		return probe, live, all, err
	}
	live = time.Now()
	note(progress, "the probe row is in Kafka after %v; waiting for the snapshot of %d tables", live.Sub(probe).Round(time.Millisecond), len(topics)-1)
	want := map[string]int64{}
	for _, tp := range topics[1:] {
		want[tp] = 2
	}
	err = waitCounts(ctx, adm, stopped, want, topics[len(topics)-1])
	return probe, live, time.Now(), err
}

// ready waits until the stream listens and its /readyz answers 200, and
// returns when it did.
func (s *stream) ready(ctx context.Context) (time.Time, error) {
	select {
	case addr := <-s.addr:
		return waitReady(ctx, addr, s.stopped)
	case <-s.stopped:
		return time.Time{}, fmt.Errorf("the stream stopped before it listened")
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// waitReady polls the stream's /readyz until it answers 200.
func waitReady(ctx context.Context, addr string, stopped <-chan struct{}) (time.Time, error) {
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-stopped:
			return time.Time{}, fmt.Errorf("the stream stopped before it was ready")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// tablesServer is the database of -mode tables.
type tablesServer struct {
	src   string // the config's source section
	addr  string // the server's address in src
	exec  func(context.Context, string) error
	proxy proxyChild // in its own process: its CPU is not fluxo's
	close func()
}

// startTablesServer starts the database with opts.tables tables in it.
func startTablesServer(ctx context.Context, opts options) (*tablesServer, error) {
	stmts := tablesDDL(opts.tables)
	srv := &tablesServer{}
	var addr string
	if opts.source == "postgres" {
		pg, err := testserver.StartPostgres(ctx, testserver.PostgresOptions{})
		if err != nil {
			return nil, err
		}
		srv.exec, srv.close = func(ctx context.Context, q string) error { return pg.Exec(ctx, q) }, func() { pg.Close() }
		addr = fmt.Sprintf("127.0.0.1:%d", pg.Port)
		srv.src = "  dsn: " + pg.DSN("postgres", "", "postgres") + "\n  tables: ['public.t*', public.zz_probe]\n  slot: fluxo_tbench\n"
	} else {
		db, err := testserver.StartMariaDB(ctx, testserver.MariaDBOptions{})
		if err != nil {
			return nil, err
		}
		srv.exec, srv.close = func(ctx context.Context, q string) error { return db.Exec(ctx, "USE tables; "+q) }, func() { db.Close() }
		if err := db.Exec(ctx, "CREATE DATABASE tables CHARACTER SET utf8mb4"); err != nil {
			srv.close()
			return nil, err
		}
		addr = db.Addr()
		srv.src = fmt.Sprintf("  dsn: mysql://root@%s/tables\n  tables: ['tables.*']\n  server_id: 7401\n", addr)
	}
	for i := 0; i < len(stmts); i += 200 {
		if err := srv.exec(ctx, strings.Join(stmts[i:min(i+200, len(stmts))], "; ")); err != nil {
			srv.close()
			return nil, err
		}
	}
	proxy, err := startProxyChild(addr)
	if err != nil {
		srv.close()
		return nil, err
	}
	srv.proxy, srv.addr = proxy, addr
	closeDB := srv.close
	srv.close = func() { proxy.Close(); closeDB() }
	return srv, nil
}
