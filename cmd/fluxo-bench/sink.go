package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/fluxo-cdc/fluxo/avro"
	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/changes"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
	"github.com/fluxo-cdc/fluxo/internal/schemaregistry"
)

// The sink bench (-mode sink): -rows change records of a 10-column table
// (as fluxo stream writes them: Confluent-framed Avro envelopes, a third
// of them updates with a before image, deletes with their tombstones) in
// a 4-partition topic of the broker child, read by a consumer that does
// nothing else (the floor), then by fluxo sink into file:// Parquet.
const (
	sinkTopic      = "bench.bench.t"
	sinkPartitions = 4
	targetSinkRate = 200_000 // changes/s, issue 16
)

// sinkTable is the bench table.
func sinkTable() *cdc.Table {
	return &cdc.Table{ID: cdc.TableID{Schema: "bench", Name: "t"}, Key: []int{0}, Columns: []cdc.Column{
		{Name: "id", Kind: cdc.KindInt64, Type: "bigint"},
		{Name: "qty", Kind: cdc.KindInt64, Type: "bigint", Optional: true},
		{Name: "name", Kind: cdc.KindString, Type: "varchar(64)", Optional: true},
		{Name: "amount", Kind: cdc.KindDecimal, Type: "decimal(12,2)", Precision: 12, Scale: 2, Optional: true},
		{Name: "created", Kind: cdc.KindLocalTimestampMicros, Type: "datetime(6)", Optional: true},
		{Name: "updated", Kind: cdc.KindTimestampMicros, Type: "timestamp", Optional: true},
		{Name: "score", Kind: cdc.KindFloat64, Type: "double", Optional: true},
		{Name: "flag", Kind: cdc.KindInt32, Type: "tinyint", Optional: true},
		{Name: "note", Kind: cdc.KindString, Type: "text", Optional: true},
		{Name: "status", Kind: cdc.KindString, Type: "enum", Optional: true},
	}}
}

// benchSink produces the records, then measures the floor and the sink.
func benchSink(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	br, err := startBroker()
	if err != nil {
		return err
	}
	defer br.Close()
	reg, err := startRegistryChild()
	if err != nil {
		return err
	}
	defer reg.Close()
	note(stderr, "producing %d change records", opts.rows)
	values, err := produceChanges(ctx, br.addrs, reg.addrs[0], opts.rows)
	if err != nil {
		return err
	}
	pids := []int{os.Getpid(), br.Pid()}
	for i := range max(opts.repeat, 1) {
		note(stderr, "round %d: consume-only pass", i+1)
		floor, err := consumeOnly(ctx, br.addrs, opts.rows, pids)
		if err != nil {
			return err
		}
		note(stderr, "round %d: fluxo sink pass", i+1)
		stop := func() {}
		if i == 0 && opts.cpuProfile != "" {
			if stop, err = startTo(opts.cpuProfile, pprof.StartCPUProfile, pprof.StopCPUProfile); err != nil {
				return err
			}
		}
		res, err := sinkPass(ctx, br.addrs, reg.addrs[0], values, i, pids)
		stop()
		if err != nil {
			return err
		}
		rate, floorRate := float64(values)/res.Elapsed.Seconds(), float64(opts.rows)/floor.Elapsed.Seconds()
		fmt.Fprintf(stdout, "round %d: consume only %d records in %s (%.0f/s, self CPU %.2f µs/record); fluxo sink %d changes into file:// Parquet in %s (%.0f/s, %.1f%% of the floor; self CPU %.2f µs/change; RSS peak %s, median %s)  target >= %d/s: %s\n",
			i+1, opts.rows, floor.Elapsed.Round(time.Millisecond), floorRate, perRow(floor.CPU, opts.rows),
			values, res.Elapsed.Round(time.Millisecond), rate, 100*rate/floorRate, perRow(res.CPU, values),
			mb(res.RSS.Peak), mb(res.RSS.Median), targetSinkRate, map[bool]string{true: "met", false: "MISSED"}[rate >= targetSinkRate])
	}
	return nil
}

// passMeasure is one pass's elapsed time, this process's CPU and RSS.
type passMeasure struct {
	Elapsed time.Duration
	CPU     time.Duration
	RSS     rssStats
}

func perRow(cpu time.Duration, n int) float64 { return float64(cpu.Microseconds()) / float64(n) }

// produceChanges writes n records and returns how many carry a value.
func produceChanges(ctx context.Context, brokers []string, registryURL string, n int) (int, error) {
	t := sinkTable()
	schema, err := avro.ValueSchema(t, sinkTopic, cdc.ConnectorMySQL)
	if err != nil {
		return 0, err
	}
	sr, err := schemaregistry.New(schemaregistry.Options{URL: registryURL})
	if err != nil {
		return 0, err
	}
	id, err := sr.Register(ctx, sinkTopic+"-value", schema)
	if err != nil {
		return 0, err
	}
	enc, err := avro.NewEncoder(t, cdc.ConnectorMySQL)
	if err != nil {
		return 0, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(sinkTopic),
		kgo.ProducerLinger(5*time.Millisecond), kgo.AllowAutoTopicCreation())
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	if err := createTopic(ctx, cl, sinkTopic, sinkPartitions); err != nil {
		return 0, err
	}
	values, errc := 0, make(chan error, 1)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			select {
			case errc <- err:
			default:
			}
		}
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for i := 0; i < n; {
		for _, r := range changeFor(t, enc, id, i, base) {
			if i >= n {
				break
			}
			cl.Produce(ctx, r, done)
			if r.Value != nil {
				values++
			}
			i++
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	select {
	case err := <-errc:
		return 0, err
	default:
	}
	return values, nil
}

// changeFor returns the records of the i-th change: half creates, a third
// updates, the rest deletes with their tombstones.
func changeFor(t *cdc.Table, enc *avro.Encoder, schemaID int32, i int, base int64) []*kgo.Record {
	id := int64(i / 2)
	row := []any{id, id * 7, fmt.Sprintf("customer-%08d-abcdefghij", id), big.NewInt(id%100000*100 + 25),
		base + id*1_000_000, base + id*1_000_000 + 1, float64(id) + 0.25, id % 2, fmt.Sprintf("note %d", id), "paid"}
	ev := &cdc.Event{Table: t, Source: cdc.SourceInfo{TsMs: base/1000 + id, DB: "bench", Table: "t", File: "binlog.000001", Pos: int64(i) * 100}}
	switch i % 6 {
	case 0, 2, 4:
		ev.Op, ev.After = cdc.OpCreate, row
	case 1, 3:
		ev.Op, ev.Before, ev.After = cdc.OpUpdate, row, row
	default:
		ev.Op, ev.Before = cdc.OpDelete, row
	}
	v, _ := enc.AppendValue(binary.BigEndian.AppendUint32([]byte{0}, uint32(schemaID)), ev, avro.Header{Name: "bench", TsMs: base / 1000})
	key := binary.BigEndian.AppendUint64(nil, uint64(id))
	recs := []*kgo.Record{{Key: key, Value: v}}
	if ev.Op == cdc.OpDelete {
		recs = append(recs, &kgo.Record{Key: key})
	}
	return recs
}

// consumeOnly reads the n records of the topic and nothing else.
func consumeOnly(ctx context.Context, brokers []string, n int, pids []int) (passMeasure, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(sinkTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return passMeasure{}, err
	}
	defer cl.Close()
	rss, cpu, t0 := startRSS(100*time.Millisecond), startCPU(pids...), time.Now()
	got := 0
	for got < n {
		fs := cl.PollRecords(ctx, 10_000)
		if err := ctx.Err(); err != nil {
			return passMeasure{}, err
		}
		got += fs.NumRecords()
	}
	return passMeasure{Elapsed: time.Since(t0), CPU: cpu.Used()[0], RSS: rss.Stop()}, nil
}

// sinkPass runs fluxo sink (a group of its own) into a new directory until
// it wrote values rows, then stops it (which commits its open files).
func sinkPass(ctx context.Context, brokers []string, registryURL string, values, round int, pids []int) (passMeasure, error) {
	dir, err := os.MkdirTemp("", "fluxo-bench-sink-")
	if err != nil {
		return passMeasure{}, err
	}
	defer os.RemoveAll(dir)
	store, err := bronze.Open(ctx, "file://"+filepath.Join(dir, "lake"))
	if err != nil {
		return passMeasure{}, err
	}
	defer store.Close()
	sr, err := schemaregistry.New(schemaregistry.Options{URL: registryURL})
	if err != nil {
		return passMeasure{}, err
	}
	reg := prometheus.NewRegistry()
	m, err := changes.NewMetrics(reg)
	if err != nil {
		return passMeasure{}, err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	rss, cpu, t0 := startRSS(100*time.Millisecond), startCPU(pids...), time.Now()
	go func() {
		done <- changes.Run(sctx, changes.Options{Name: "bench", Client: []kgo.Opt{kgo.SeedBrokers(brokers...)},
			Group: fmt.Sprintf("bench-sink-%d", round), Topics: "^" + sinkTopic + "$", Schemas: sr, Store: store,
			Format: "parquet", Compression: "snappy", FlushInterval: 10 * time.Second, Version: "bench",
			Logger: slog.New(slog.DiscardHandler), Metrics: m})
	}()
	for rowsWritten(reg) < values {
		select {
		case err := <-done:
			return passMeasure{}, fmt.Errorf("fluxo sink stopped early: %w", err)
		case <-ctx.Done():
			return passMeasure{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		return passMeasure{}, err
	}
	return passMeasure{Elapsed: time.Since(t0), CPU: cpu.Used()[0], RSS: rss.Stop()}, nil
}

// rowsWritten sums fluxo_sink_rows_total.
func rowsWritten(g prometheus.Gatherer) int {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "fluxo_sink_rows_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			n += m.GetCounter().GetValue()
		}
	}
	return int(n)
}

// createTopic creates topic with partitions partitions.
func createTopic(ctx context.Context, cl *kgo.Client, topic string, partitions int32) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}
