package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// The steady-state part of -mode tables (issue 15): the same backlog of
// row changes, once spread over every table and once into one table. A
// stream runs through a proxy; its connection to the database is cut, the
// backlog written, the connection restored, and the stream catches up.
// Each backlog starts with one row in every table: once those are in
// Kafka the stream is reading again and its producer knows every topic
// (it fetches a topic's metadata when it first produces to it), and the
// rate is of the rest, from then until all is in Kafka. The target: spread
// within 20% of the single-table rate.

// spreadRows is the measured backlog's rows per table, at least 100.
func spreadRows(tables int) int { return max(100, 500_000/tables) }

// spreadInsert is the statement that inserts ids from..to into table.
func spreadInsert(source, table string, from, to int) string {
	vals := "1, 2, 3, 'dee', 'eee', 1.25, 2.5, CAST('2024-01-01' AS DATE), 0.5, 7, 'kay', 8, 9, 'enn', 3.75, CAST('2024-02-02' AS DATE), 1.5, 4, 'ess', 5"
	if source == "postgres" {
		return fmt.Sprintf("INSERT INTO %s SELECT g, %s FROM generate_series(%d, %d) g", table, vals, from, to)
	}
	return fmt.Sprintf("INSERT INTO %s SELECT seq, %s FROM seq_%d_to_%d", table, vals, from, to)
}

// spreadLog is one backlog: its statements and the topic counts it leads to.
type spreadLog struct {
	warm, main         []string
	warmWant, mainWant map[string]int64
	lastWarm, lastMain string // the topics their last statements write to
}

// spreadBacklogs builds both backlogs; topics hold 2 records each now.
func spreadBacklogs(source string, topics []string, per int) (spread, single spreadLog) {
	next := make([]int, len(topics)) // each table's next id
	counts := map[string]int64{}
	for i, tp := range topics {
		next[i], counts[tp] = 3, 2
	}
	add := func(i, n int) string {
		q := spreadInsert(source, fmt.Sprintf("t%04d", i+1), next[i], next[i]+n-1)
		next[i] += n
		counts[topics[i]] += int64(n)
		return q
	}
	snapshot := func() map[string]int64 { return maps.Clone(counts) }
	for _, b := range []*spreadLog{&spread, &single} {
		for i := range topics {
			b.warm = append(b.warm, add(i, 1))
		}
		b.warmWant, b.lastWarm = snapshot(), topics[len(topics)-1]
		for i := range topics {
			if b == &spread {
				b.main = append(b.main, add(i, per))
			} else {
				b.main = append(b.main, add(0, per))
			}
		}
		b.mainWant, b.lastMain = snapshot(), topics[0]
		if b == &spread {
			b.lastMain = topics[len(topics)-1]
		}
	}
	return spread, single
}

// benchSpread runs both backlogs and reports their rates. topics are the
// tables' topics in table order (t0001 first); each holds 2 records.
func benchSpread(ctx context.Context, opts options, srv *tablesServer, stopped <-chan struct{}, adm *kadm.Client, topics []string, stdout, stderr io.Writer) error {
	per := spreadRows(opts.tables)
	total := per * len(topics)
	spread, single := spreadBacklogs(opts.source, topics, per)
	note(stderr, "backlog spread over %d tables: %d rows each", len(topics), per)
	stopProfile, err := startTo(profilePath(opts.cpuProfile, ".spread"), pprof.StartCPUProfile, pprof.StopCPUProfile)
	if err != nil {
		return err
	}
	if err := writeHeapProfile(opts.memProfile, ".spread.before"); err != nil {
		return err
	}
	dSpread, err := catchUp(ctx, srv, stopped, adm, spread)
	stopProfile()
	if err != nil {
		return err
	}
	if err := writeHeapProfile(opts.memProfile, ".spread"); err != nil {
		return err
	}
	note(stderr, "backlog into one table: %d rows in %d statements", total, len(single.main))
	dSingle, err := catchUp(ctx, srv, stopped, adm, single)
	if err != nil {
		return err
	}
	rs, r1 := float64(total)/dSpread.Seconds(), float64(total)/dSingle.Seconds()
	fmt.Fprintf(stdout, "\n## Steady state: %d row changes in %d transactions of %d rows (%s)\n\n", total, len(topics), per, opts.source)
	fmt.Fprintf(stdout, "| | seconds | rows/s |\n|---|---|---|\n")
	fmt.Fprintf(stdout, "| spread over %d tables | %.2f | %s |\n", len(topics), dSpread.Seconds(), thousands(int64(rs)))
	fmt.Fprintf(stdout, "| into one table | %.2f | %s |\n", dSingle.Seconds(), thousands(int64(r1)))
	fmt.Fprintf(stdout, "\nspread at %.0f%% of one table (target: within 20%%, %s)\n", rs/r1*100, verdict(rs >= 0.8*r1))
	return nil
}

// catchUp cuts the stream's connection to the database, writes b, restores
// the connection, and returns how long the stream took from having read
// b's warm-up rows to having all of b in Kafka.
func catchUp(ctx context.Context, srv *tablesServer, stopped <-chan struct{}, adm *kadm.Client, b spreadLog) (time.Duration, error) {
	if err := srv.proxy.Cut(); err != nil {
		return 0, err
	}
	stmts := append(slices.Clone(b.warm), b.main...)
	for i := 0; i < len(stmts); i += 100 {
		if err := srv.exec(ctx, strings.Join(stmts[i:min(i+100, len(stmts))], "; ")); err != nil {
			return 0, err
		}
	}
	if err := srv.proxy.Restore(); err != nil {
		return 0, err
	}
	if err := waitCounts(ctx, adm, stopped, b.warmWant, b.lastWarm); err != nil {
		return 0, err
	}
	warmed := time.Now()
	if err := waitCounts(ctx, adm, stopped, b.mainWant, b.lastMain); err != nil {
		return 0, err
	}
	return time.Since(warmed), nil
}

// waitCounts polls end offsets until every topic holds want records:
// first only last's (the topic written last, when given), since asking
// for a thousand topics every 50 ms takes CPU from the stream.
func waitCounts(ctx context.Context, adm *kadm.Client, stopped <-chan struct{}, want map[string]int64, last ...string) error {
	if len(last) > 0 {
		if err := waitCounts(ctx, adm, stopped, map[string]int64{last[0]: want[last[0]]}); err != nil {
			return err
		}
	}
	waiting := slices.Collect(maps.Keys(want))
	t := time.NewTicker(50 * time.Millisecond) // the poller runs in this process: more often would take CPU from the stream
	defer t.Stop()
	for len(waiting) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stopped:
			return fmt.Errorf("the stream stopped")
		case <-t.C:
		}
		ends, err := adm.ListEndOffsets(ctx, waiting...)
		if err != nil {
			continue
		}
		got := map[string]int64{}
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				got[o.Topic] += o.Offset
			}
		})
		waiting = slices.DeleteFunc(waiting, func(tp string) bool { return got[tp] >= want[tp] })
	}
	return nil
}

// profilePath is path with suffix, or "" (no profile) for "".
func profilePath(path, suffix string) string {
	if path == "" {
		return ""
	}
	return path + suffix
}
