package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fluxo-cdc/fluxo/internal/kafkasink"
)

// The latency bench (-mode latency, MariaDB): a writer commits latRows
// rows every latTick (10,000 rows/s) into a table with a bigint key, and a
// consumer (read_committed) notes when each key's record arrives. The
// latency of a row is from its COMMIT returning to the writer to its
// record reaching the consumer. Phases, one after the other: the
// floor (each batch's keys produced straight to the broker right after the
// commit, acks=all), fluxo, and fluxo with kafka.transactions at two commit
// intervals.
const (
	latTick   = 2 * time.Millisecond
	latRows   = 20
	latWarmup = 2 * time.Second
	// floorTopic receives the floor's records.
	floorTopic = "latfloor"
)

// latencySpec is what a phase runs: the floor, or fluxo (in transactions,
// committing every interval when set).
type latencySpec struct {
	name      string
	fluxo, tx bool
	interval  time.Duration
}

// latencyPhase is one phase's samples.
type latencyPhase struct {
	Name    string
	Samples []time.Duration
	Missing int // rows committed whose record never arrived
}

// benchLatency runs the phases, 10 s each, and prints
// their percentiles.
func benchLatency(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	if opts.source != "mysql" {
		return fmt.Errorf("-mode latency: only -source mysql so far")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, cleanup, err := startStack(ctx, stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	conn, err := connect(st.DB.addr(), false)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := execAll(conn, "CREATE DATABASE IF NOT EXISTS "+benchDB,
		fmt.Sprintf("CREATE TABLE %s.%s (id BIGINT PRIMARY KEY, v INT NOT NULL)", benchDB, benchTable)); err != nil {
		return err
	}
	const run = 10 * time.Second
	var phases []latencyPhase
	next := int64(0)
	for _, p := range []latencySpec{
		{name: "floor: produced straight to the broker"},
		{name: "fluxo", fluxo: true},
		{name: "fluxo, kafka.transactions (commit_interval 100ms)", fluxo: true, tx: true},
		{name: "fluxo, kafka.transactions, commit_interval 10ms", fluxo: true, tx: true, interval: 10 * time.Millisecond},
	} {
		note(stderr, "latency phase %q: %v at %d rows/s", p.name, run, int(float64(latRows)/latTick.Seconds()))
		ph, err := latencyRun(ctx, st, conn, p, &next, run, log)
		if err != nil {
			return fmt.Errorf("latency phase %q: %w", p.name, err)
		}
		phases = append(phases, ph)
	}
	printLatency(stdout, phases)
	return nil
}

// latencyRun runs one phase: rows with ids from *next on.
func latencyRun(ctx context.Context, st stack, conn *client.Conn, spec latencySpec, next *int64, run time.Duration, log *slog.Logger) (latencyPhase, error) {
	ph := latencyPhase{Name: spec.name}
	topic := floorTopic
	var prod *kgo.Client
	if spec.fluxo {
		pass := fluxoPass{passSpec: passSpec{Name: fmt.Sprintf("lat%d", *next), Transactions: spec.tx}, ServerID: 9100}
		var err error
		if pass.Start, err = currentPos(conn); err != nil {
			return ph, err
		}
		cfg, err := passConfig(ctx, st, pass)
		if err != nil {
			return ph, err
		}
		if spec.interval > 0 {
			cfg.Kafka.CommitInterval = spec.interval
		}
		s := startStream(ctx, cfg, log)
		defer func() { s.stop() }()
		topic = pass.Name + "." + benchDB + "." + benchTable
	} else {
		var err error
		// The same linger as fluxo's producer (kgo's default is 10 ms).
		if prod, err = kgo.NewClient(kgo.SeedBrokers(st.Brokers...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(kafkasink.DefaultLinger),
			kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation()); err != nil {
			return ph, err
		}
		defer prod.Close()
	}
	first := *next
	var mu sync.Mutex
	committed := map[int64]time.Time{}
	arrived := map[int64]time.Time{}
	cctx, stopConsumer := context.WithCancel(ctx)
	consumed := make(chan error, 1)
	go func() { consumed <- consumeLatency(cctx, st.Brokers, topic, &mu, arrived) }()
	time.Sleep(2 * time.Second) // the stream is up, the consumer assigned
	deadline := time.Now().Add(run)
	tick := time.NewTicker(latTick)
	for time.Now().Before(deadline) {
		<-tick.C
		ids, vals := make([]string, latRows), make([]int64, latRows)
		for i := range ids {
			vals[i] = *next
			ids[i] = fmt.Sprintf("(%d, 0)", *next)
			*next++
		}
		if _, err := conn.Execute(fmt.Sprintf("INSERT INTO %s.%s VALUES %s", benchDB, benchTable, strings.Join(ids, ","))); err != nil {
			tick.Stop()
			stopConsumer()
			return ph, err
		}
		now := time.Now()
		mu.Lock()
		for _, id := range vals {
			committed[id] = now
		}
		mu.Unlock()
		if prod != nil {
			for _, id := range vals {
				k := binary.BigEndian.AppendUint64(nil, uint64(id))
				prod.Produce(ctx, &kgo.Record{Key: k, Value: k}, nil)
			}
		}
	}
	tick.Stop()
	time.Sleep(2 * time.Second) // the last commits arrive
	stopConsumer()
	<-consumed
	mu.Lock()
	defer mu.Unlock()
	warm := first + int64(latWarmup/latTick)*latRows
	for id := warm; id < *next; id++ {
		if at, ok := arrived[id]; ok {
			// A record may arrive before the writer noted its commit (the
			// writer's goroutine waited for a CPU): a latency of about 0.
			d := max(0, at.Sub(committed[id]))
			ph.Samples = append(ph.Samples, d)
		} else {
			ph.Missing++
		}
	}
	return ph, nil
}

// consumeLatency reads topic with read_committed and notes, for each key
// the writer committed, when its record arrived first.
func consumeLatency(ctx context.Context, brokers []string, topic string, mu *sync.Mutex, arrived map[int64]time.Time) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(50*time.Millisecond), kgo.AllowAutoTopicCreation(),
		kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		now := time.Now()
		mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			if id, ok := keyID(r.Key, r.Topic == floorTopic); ok {
				if _, seen := arrived[id]; !seen {
					arrived[id] = now
				}
			}
		})
		mu.Unlock()
	}
	return nil
}

// percentile returns the q-quantile of sorted samples.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func printLatency(w io.Writer, phases []latencyPhase) {
	fmt.Fprintf(w, "\n## Added latency at %d rows/s (COMMIT returned to record read, read_committed)\n\n", int(float64(latRows)/latTick.Seconds()))
	fmt.Fprintln(w, "| phase | rows | p50 | p95 | p99 | max | missing |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, p := range phases {
		s := slices.Clone(p.Samples)
		slices.Sort(s)
		ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %d |\n", p.Name, len(s), ms(percentile(s, .5)), ms(percentile(s, .95)),
			ms(percentile(s, .99)), ms(percentile(s, 1)), p.Missing)
	}
}

// keyID decodes a Confluent-framed Avro key of one long (magic byte,
// schema id, zigzag varint), or the 8-byte big-endian key of the floor's
// records.
func keyID(k []byte, floor bool) (int64, bool) {
	if floor {
		return int64(binary.BigEndian.Uint64(k)), true
	}
	if len(k) < 6 || k[0] != 0 {
		return 0, false
	}
	v, n := binary.Varint(k[5:])
	return v, n > 0
}
