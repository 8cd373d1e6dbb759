package mysql

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// BenchmarkDumpTable compares reading a 10-column table of
// FLUXO_BENCH_ROWS rows (default 1,000,000) with mariadb-dump and with the
// Dumper. Run it with
//
//	go test -run '^$' -bench DumpTable -benchtime 3x ./cdc/mysql/
//
// Each sub-benchmark reports rows/s; Read also reports allocs/row and the
// CPU this process used per second (clientcpu; the rest of the time it
// waits for the server). Two more runs show the server's pace: go-mysql
// receiving the rows without converting them, with the text protocol and
// with the binary protocol that Read uses (there with its temporal columns
// cast to text, see selectStreaming).
func BenchmarkDumpTable(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("FLUXO_BENCH_ROWS"); s != "" {
		var err error
		if rows, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	// A buffer pool that holds the table, so that both sides read memory.
	m := testserver.MariaDBT(b, testserver.MariaDBOptions{ExtraArgs: []string{"--innodb-buffer-pool-size=1G"}})
	root := Conn{Host: "127.0.0.1", Port: uint16(m.Port), User: "root"}
	c, err := dial(context.Background(), root)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{
		"CREATE DATABASE bench",
		`CREATE TABLE bench.t (id bigint PRIMARY KEY, i int NOT NULL, b bigint NOT NULL, v40 varchar(40) NOT NULL,
			v20 varchar(20), d decimal(12,2) NOT NULL, f double NOT NULL, flag tinyint(1) NOT NULL,
			ts timestamp(6) NOT NULL, dt date NOT NULL)`,
		fmt.Sprintf(`INSERT INTO bench.t SELECT seq, CAST(seq %% 100000 AS SIGNED) - 50000, seq * 7919, SHA1(seq),
			IF(seq %% 10 = 0, NULL, LEFT(MD5(seq), 20)), CAST(seq %% 10000000 AS SIGNED) / 100 - 25000, seq / 7, seq %% 2,
			TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL (seq %% 1000000) MICROSECOND,
			DATE '2000-01-01' + INTERVAL (seq %% 10000) DAY
			FROM bench.seq_1_to_%d`, rows),
		"ANALYZE TABLE bench.t",
	} {
		if _, err := c.Execute(q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	table := cdc.TableID{Schema: "bench", Name: "t"}
	perSecond := func(b *testing.B) {
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	}

	benchProtocol(b, root, rows)
	b.Run("mariadb-dump", func(b *testing.B) {
		bin, err := exec.LookPath("mariadb-dump")
		if err != nil {
			if bin, err = exec.LookPath("mysqldump"); err != nil {
				b.Skip("neither mariadb-dump nor mysqldump is installed")
			}
		}
		devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer devNull.Close()
		for b.Loop() {
			cmd := exec.Command(bin, "--no-defaults", "--protocol=TCP", "--host=127.0.0.1",
				"--port="+strconv.Itoa(m.Port), "--user=root", "--no-create-info", "--skip-extended-insert=false",
				"bench", "t")
			var stderr strings.Builder
			cmd.Stdout, cmd.Stderr = devNull, &stderr
			if err := cmd.Run(); err != nil {
				b.Fatalf("%s: %v\n%s", bin, err, stderr.String())
			}
		}
		perSecond(b)
	})

	d, err := OpenDumper(context.Background(), DumpOptions{Conn: root, Filter: dumpFilter{schema: "bench"}, Parallelism: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	list, err := d.Tables(context.Background())
	if err != nil || len(list) != 1 {
		b.Fatalf("Tables: %v %v", list, err)
	}

	b.Run("Read", func(b *testing.B) {
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		cpu0 := cpuTime()
		for b.Loop() {
			n := 0
			err := d.Read(context.Background(), cdc.Chunk{Table: table}, func(row []any) error {
				n++
				return nil
			})
			if err != nil || n != rows {
				b.Fatalf("read %d rows: %v", n, err)
			}
		}
		runtime.ReadMemStats(&ms1)
		b.ReportMetric((cpuTime()-cpu0).Seconds()/b.Elapsed().Seconds(), "clientcpu")
		perSecond(b)
		b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(rows*b.N), "allocs/row")
	})

	b.Run("Read 4 chunks in parallel", func(b *testing.B) {
		step := int64(rows / 4)
		for b.Loop() {
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range int64(4) {
				c := cdc.Chunk{Table: table, Lo: ptr(i*step + 1), Hi: ptr((i + 1) * step)}
				if i == 3 {
					c.Hi = nil
				}
				wg.Go(func() { errs[i] = d.Read(context.Background(), c, func([]any) error { return nil }) })
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		perSecond(b)
	})
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchProtocol measures how fast go-mysql alone receives the table, with
// the text protocol and with the binary protocol (which Read uses) of
// prepared statements: the server's pace.
func benchProtocol(b *testing.B, root Conn, rows int) {
	c, err := dial(context.Background(), root)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	q := "SELECT id, i, b, v40, v20, d, f, flag, ts, dt FROM bench.t"
	for _, mode := range []string{"text", "binary"} {
		b.Run(mode+" protocol without conversion", func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				var res gomysql.Result
				n := 0
				cb := func(row []gomysql.FieldValue) error { n++; return nil }
				if mode == "text" {
					err = c.ExecuteSelectStreaming(q, &res, cb, nil)
				} else {
					st, err2 := c.Prepare(q)
					if err2 != nil {
						b.Fatal(err2)
					}
					err = st.ExecuteSelectStreaming(&res, cb, nil)
					st.Close()
				}
				if err != nil || n != rows {
					b.Fatalf("%d rows: %v", n, err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/b.Elapsed().Seconds(), "clientcpu")
		})
	}
}
