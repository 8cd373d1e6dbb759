package postgres

import (
	"context"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// benchRows is the size of the benchmark table (FLUXO_DUMP_BENCH_ROWS
// overrides it).
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("FLUXO_DUMP_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// benchSetup creates the benchmark table: ten columns of the common types.
const benchSetup = `CREATE TABLE bench (id bigint PRIMARY KEY, qty int, ref bigint, label text,
	code varchar(40), amount numeric(12,2), score double precision, active bool,
	created timestamptz, day date);
INSERT INTO bench SELECT g, (g::int8 * 7919 % 100000)::int, g::int8 * 1000003, 'label ' || md5(g::text)::varchar(14),
	'C-' || (g % 9973), (g::int8 * 31 % 10000000) / 100.0, g * 0.001, g % 3 = 0,
	timestamptz '2020-01-01 00:00+00' + g * interval '1.5 second', date '2000-01-01' + g % 10000
FROM generate_series(1, {rows}) g;`

// benchEnv starts a server with the benchmark table and opens a one-worker
// dumper on it.
func benchEnv(b testing.TB) (*Dumper, *pgx.Conn, cdc.DumpTable) {
	b.Helper()
	p := testserver.PostgresT(b, testserver.PostgresOptions{ExtraArgs: []string{"-c", "shared_buffers=512MB"}})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.SuperuserDSN("postgres"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, strings.ReplaceAll(benchSetup, "{rows}", strconv.Itoa(benchRows()))); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE bench"); err != nil {
		b.Fatal(err)
	}
	d, err := OpenDumper(ctx, DumpOptions{DSN: p.SuperuserDSN("postgres"), Filter: testFilter{}, Parallelism: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	ts, err := d.Tables(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return d, conn, ts[0]
}

// BenchmarkDumpRead compares, on one connection, a raw binary COPY of the
// benchmark table into io.Discard (the floor: what the server and the wire
// cost) with Read of the whole table decoding every value (binary path),
// and with Read in text format only. Run with -benchtime=5x: one op reads
// the whole table.
func BenchmarkDumpRead(b *testing.B) {
	d, conn, dt := benchEnv(b)
	ctx := context.Background()
	n := float64(benchRows())
	copySQL := "COPY (SELECT " + d.tables[dt.Table.ID].selectList + " FROM ONLY bench) TO STDOUT (FORMAT binary)"
	b.Run("copy-binary-discard", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			if _, err := conn.PgConn().CopyTo(ctx, io.Discard, copySQL); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(n*float64(b.N)/time.Since(start).Seconds(), "rows/s")
	})
	read := func(text bool) func(b *testing.B) {
		return func(b *testing.B) {
			d.textOnly = text
			defer func() { d.textOnly = false }()
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				rows := 0
				err := d.Read(ctx, cdc.Chunk{Table: dt.Table.ID}, func(row []any) error {
					rows++
					return nil
				})
				if err != nil || rows != int(n) {
					b.Fatal(rows, err)
				}
			}
			b.ReportMetric(n*float64(b.N)/time.Since(start).Seconds(), "rows/s")
		}
	}
	b.Run("read", read(false))
	b.Run("read-text", read(true))
}

// TestDumpThroughput (FLUXO_DUMP_BENCH=1) alternates the raw binary COPY
// and Read of the whole benchmark table on one connection and logs the
// median rows/s of each, their ratio and the client CPU per row.
func TestDumpThroughput(t *testing.T) {
	if os.Getenv("FLUXO_DUMP_BENCH") == "" {
		t.Skip("set FLUXO_DUMP_BENCH=1 to measure the full-load read throughput")
	}
	d, conn, dt := benchEnv(t)
	ctx := context.Background()
	n := float64(benchRows())
	copySQL := "COPY (SELECT " + d.tables[dt.Table.ID].selectList + " FROM ONLY bench) TO STDOUT (FORMAT binary)"
	runs := 7
	if v, err := strconv.Atoi(os.Getenv("FLUXO_DUMP_BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	measure := func(f func() error) (float64, float64) {
		cpu0 := cpuTime()
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		return n / time.Since(start).Seconds(), float64(cpuTime()-cpu0) / n
	}
	var copies, reads, texts, copyCPU, readCPU, textCPU []float64
	for range runs {
		r, c := measure(func() error {
			_, err := conn.PgConn().CopyTo(ctx, io.Discard, copySQL)
			return err
		})
		copies, copyCPU = append(copies, r), append(copyCPU, c)
		for _, text := range []bool{false, true} {
			d.textOnly = text
			r, c = measure(func() error {
				return d.Read(ctx, cdc.Chunk{Table: dt.Table.ID}, func(row []any) error { return nil })
			})
			if text {
				texts, textCPU = append(texts, r), append(textCPU, c)
			} else {
				reads, readCPU = append(reads, r), append(readCPU, c)
			}
		}
		d.textOnly = false
	}
	mc, mr, mt := median(copies), median(reads), median(texts)
	t.Logf("%d rows, %d runs each, medians:", int(n), runs)
	t.Logf("  (a) COPY binary to io.Discard: %9.0f rows/s, client CPU %4.0f ns/row", mc, median(copyCPU))
	t.Logf("  (b) Read (binary where decodable): %9.0f rows/s, client CPU %4.0f ns/row: %.1f%% of (a)", mr, median(readCPU), 100*mr/mc)
	t.Logf("  (c) Read (text only):         %9.0f rows/s, client CPU %4.0f ns/row: %.1f%% of (a)", mt, median(textCPU), 100*mt/mc)
}

// cpuTime returns the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
