package changes

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fluxo-cdc/fluxo/avro"
	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
)

// schemaMap is a registry of fixed ids.
type schemaMap map[int]string

func (m schemaMap) Schema(_ context.Context, id int) (string, error) {
	if s, ok := m[id]; ok {
		return s, nil
	}
	return "", fmt.Errorf("schema %d not found", id)
}

const topic = "fx.shop.orders"

func ordersTable(extra bool) *cdc.Table {
	t := &cdc.Table{ID: cdc.TableID{Schema: "shop", Name: "orders"}, Key: []int{0}, Columns: []cdc.Column{
		{Name: "id", Kind: cdc.KindInt64, Type: "bigint"},
		{Name: "name", Kind: cdc.KindString, Type: "varchar(20)", Optional: true},
		{Name: "amount", Kind: cdc.KindDecimal, Type: "decimal(10,2)", Precision: 10, Scale: 2, Optional: true},
	}}
	if extra {
		t.Columns = append(t.Columns, cdc.Column{Name: "note", Kind: cdc.KindString, Type: "text", Optional: true})
	}
	return t
}

// produced is what the test wrote: the expected row of each offset.
type produced struct {
	mu   sync.Mutex
	rows map[[2]int64]want // by partition and offset
}

type want struct {
	op   string
	id   int64
	name any
}

// writer produces change records as fluxo stream does.
type writer struct {
	t       *testing.T
	cl      *kgo.Client
	encs    map[int]*avro.Encoder
	tables  map[int]*cdc.Table
	pos     int64
	out     *produced
	schemas schemaMap
	key     []byte // when set, every change's key (one partition)
}

func newWriter(t *testing.T, addrs []string, out *produced) *writer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	w := &writer{t: t, cl: cl, encs: map[int]*avro.Encoder{}, tables: map[int]*cdc.Table{}, out: out, schemas: schemaMap{}}
	for id, extra := range map[int]bool{1: false, 2: true} {
		tbl := ordersTable(extra)
		s, err := avro.ValueSchema(tbl, topic, cdc.ConnectorMySQL)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := avro.NewEncoder(tbl, cdc.ConnectorMySQL)
		if err != nil {
			t.Fatal(err)
		}
		w.schemas[id], w.encs[id], w.tables[id] = s, enc, tbl
	}
	return w
}

// change produces one change of row id with schema id (and a tombstone
// after a delete).
func (w *writer) change(schema int, op cdc.Op, id int64) {
	tbl := w.tables[schema]
	vals := make([]any, len(tbl.Columns))
	vals[0], vals[1], vals[2] = id, fmt.Sprintf("order %d/%c", id, op), big.NewInt(id*100+int64(op))
	w.pos += 100
	ev := &cdc.Event{Op: op, Table: tbl, Source: cdc.SourceInfo{TsMs: 1700000000000 + w.pos, DB: "shop", Table: "orders",
		File: "binlog.000001", Pos: w.pos}}
	switch op {
	case cdc.OpDelete:
		ev.Before = vals
	default:
		ev.After = vals
	}
	b, err := w.encs[schema].AppendValue(binary.BigEndian.AppendUint32([]byte{0}, uint32(schema)), ev, avro.Header{Name: "fx"})
	if err != nil {
		w.t.Fatal(err)
	}
	key := []byte(fmt.Sprint(id))
	if w.key != nil {
		key = w.key
	}
	recs := []*kgo.Record{{Key: key, Value: b}}
	if op == cdc.OpDelete {
		recs = append(recs, &kgo.Record{Key: key})
	}
	res := w.cl.ProduceSync(context.Background(), recs...)
	if err := res.FirstErr(); err != nil {
		w.t.Fatal(err)
	}
	w.out.mu.Lock()
	defer w.out.mu.Unlock()
	r := res[0].Record
	w.out.rows[[2]int64{int64(r.Partition), r.Offset}] = want{op: string(op), id: id, name: vals[1]}
}

func newCluster(t *testing.T) []string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// runSink runs the sink until stop is called; it returns the error Run
// returned.
func runSink(t *testing.T, o Options) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			t.Fatal("the sink did not stop within 60 s")
			return nil
		}
	}
}

// lakeRows reads every change file under dir: the rows by partition and
// offset, failing on a row written twice.
func lakeRows(t *testing.T, dir string) map[[2]int64]want {
	t.Helper()
	got := map[[2]int64]want{}
	err := filepath.Walk(filepath.Join(dir, "fx", "shop", "orders", "changes"), func(p string, info os.FileInfo, err error) error {
		if os.IsNotExist(err) {
			return nil // nothing written yet
		}
		if err != nil || info.IsDir() || !strings.HasSuffix(p, ".avro") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dec, err := ocf.NewDecoder(bytes.NewReader(raw), ocf.WithDecoderSchemaCache(&hamba.SchemaCache{}))
		if err != nil {
			return err
		}
		for dec.HasNext() {
			var r map[string]any
			if err := dec.Decode(&r); err != nil {
				return err
			}
			k := [2]int64{asInt(r["_partition"]), asInt(r["_offset"])}
			if _, dup := got[k]; dup {
				t.Errorf("partition %d offset %d is in the lake twice", k[0], k[1])
			}
			got[k] = want{op: fmt.Sprint(r["_op"]), id: asInt(r["id"]), name: r["name"]}
		}
		return dec.Error()
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// waitRows waits until the lake holds n rows.
func waitRows(t *testing.T, dir string, n int) map[[2]int64]want {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := lakeRows(t, dir)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sinkOptions(t *testing.T, addrs []string, dir string, schemas SchemaSource) Options {
	store, err := bronze.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return Options{Name: "fx", Client: []kgo.Opt{kgo.SeedBrokers(addrs...)}, Group: "fluxo-sink-fx",
		Topics: `^fx\.[^.]+\.[^.]+$`, Schemas: schemas, Store: store, Format: "avro", Compression: "snappy",
		MaxFileBytes: 8 << 10, FlushInterval: 200 * time.Millisecond, Version: "test"}
}

// TestSinkExactlyOnce: every change of the topic is one row in the lake,
// with its own values, across files rolled by size, age and schema
// version, and across restarts of the sink; tombstones are no rows.
func TestSinkExactlyOnce(t *testing.T) {
	w, o, dir, out := newSinkTest(t)

	for i := range int64(600) {
		w.change(1, cdc.OpCreate, i)
	}
	stop := runSink(t, o)
	for i := range int64(200) {
		w.change(1, cdc.OpUpdate, i)
		w.change(1, cdc.OpDelete, i+300)
	}
	waitRows(t, dir, 1000)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for i := range int64(300) { // while no sink runs, with a new schema version
		w.change(2, cdc.OpCreate, 1000+i)
	}
	stop = runSink(t, o)
	got := waitRows(t, dir, 1300)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	compare(t, got, out)
}

// TestSinkRepairsMissingFile: a journal record whose file is missing (a
// crash between the two) makes the next run write that file again, from
// the same offsets, under the same key: nothing is lost or doubled.
func TestSinkRepairsMissingFile(t *testing.T) {
	w, o, dir, out := newSinkTest(t)
	for i := range int64(500) {
		w.change(1, cdc.OpCreate, i)
	}
	stop := runSink(t, o)
	waitRows(t, dir, 500)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Remove the last file of each partition, as a crash after its record.
	j := journal{store: o.Store, name: "fx"}
	removed := 0
	for p := range int32(3) {
		rec, err := j.last(context.Background(), topic, p)
		if err != nil || rec == nil {
			t.Fatalf("partition %d: record %v, %v", p, rec, err)
		}
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(rec.Key))); err != nil {
			t.Fatal(err)
		}
		removed += int(rec.Rows)
	}
	if got := lakeRows(t, dir); len(got) != 500-removed {
		t.Fatalf("after removing %d rows the lake holds %d", removed, len(got))
	}
	stop = runSink(t, o) // nothing new: the files are written again all the same
	if got := waitRows(t, dir, 500); len(got) != 500 {
		t.Fatalf("the lake holds %d rows after the repair, want 500", len(got))
	}
	for i := range int64(100) {
		w.change(1, cdc.OpUpdate, i)
	}
	got := waitRows(t, dir, 600)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	compare(t, got, out)
}

// newSinkTest starts a broker with the topic, a writer of changes into
// it, and the options of a sink of them into a file:// lake in dir; out
// receives what the writer produced.
func newSinkTest(t *testing.T) (w *writer, o Options, dir string, out *produced) {
	addrs := newCluster(t)
	dir = t.TempDir()
	out = &produced{rows: map[[2]int64]want{}}
	w = newWriter(t, addrs, out)
	return w, sinkOptions(t, addrs, dir, w.schemas), dir, out
}

// compare checks the lake's rows against what was produced.
func compare(t *testing.T, got map[[2]int64]want, out *produced) {
	t.Helper()
	out.mu.Lock()
	defer out.mu.Unlock()
	var missing []string
	for k, w := range out.rows {
		g, ok := got[k]
		if !ok {
			missing = append(missing, fmt.Sprint(k))
			continue
		}
		if g != w {
			t.Errorf("partition %d offset %d: lake %+v, produced %+v", k[0], k[1], g, w)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("%d changes missing from the lake, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	if len(got) != len(out.rows) {
		t.Fatalf("the lake holds %d rows, %d changes were produced", len(got), len(out.rows))
	}
}

// asInt returns an integer the Avro reader decoded.
func asInt(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	}
	return -1
}

// TestSinkTwoMembers: two sinks of one group share the partitions and
// write every change once, one of them stopping half way.
func TestSinkTwoMembers(t *testing.T) {
	w, o, dir, out := newSinkTest(t)
	a, b := runSink(t, o), runSink(t, o)
	for i := range int64(400) {
		w.change(1, cdc.OpCreate, i)
	}
	waitRows(t, dir, 400)
	if err := a(); err != nil {
		t.Fatal(err)
	}
	for i := range int64(400) {
		w.change(1, cdc.OpUpdate, i)
	}
	got := waitRows(t, dir, 800)
	if err := b(); err != nil {
		t.Fatal(err)
	}
	compare(t, got, out)
}

// TestSinkStopCommits: a stop commits the open files, however long they
// could have stayed open.
func TestSinkStopCommits(t *testing.T) {
	w, o, dir, out := newSinkTest(t)
	o.FlushInterval, o.MaxFileBytes = time.Hour, 1<<30
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	o.Metrics = m
	for i := range int64(300) {
		w.change(1, cdc.OpCreate, i)
	}
	stop := runSink(t, o)
	for deadline := time.Now().Add(30 * time.Second); testutil.ToFloat64(m.rows.WithLabelValues(topic, "c")) < 300 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if got := lakeRows(t, dir); len(got) != 0 {
		t.Fatalf("%d rows visible before the stop, with files that stay open an hour", len(got))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	compare(t, lakeRows(t, dir), out)
}

// TestSinkBadInput: a record the sink cannot write stops it with an error
// naming the record and the cause, and nothing at or after it is in the
// lake (the rows before it are).
func TestSinkBadInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value []byte
		want  string
	}{
		{"not framed", []byte(`{"id": 1}`), "not Confluent-framed Avro"},
		{"unknown schema id", []byte{0, 0, 0, 0, 99, 2}, "schema id 99"},
		{"cut value", []byte{0, 0, 0, 0, 1, 2, 2}, "decode the value with schema id 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, o, dir, out := newSinkTest(t)
			w.key = []byte("one key: one partition")
			for i := range int64(20) {
				w.change(1, cdc.OpCreate, i)
			}
			res := w.cl.ProduceSync(context.Background(), &kgo.Record{Key: w.key, Value: tc.value})
			if err := res.FirstErr(); err != nil {
				t.Fatal(err)
			}
			bad := res[0].Record
			for i := range int64(20) {
				w.change(1, cdc.OpCreate, 100+i)
			}
			err := Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fmt.Sprintf("partition %d offset %d", bad.Partition, bad.Offset)) {
				t.Fatalf("Run = %v, want an error naming partition %d offset %d and %q", err, bad.Partition, bad.Offset, tc.want)
			}
			got := lakeRows(t, dir)
			for k := range out.rows {
				_, in := got[k]
				if before := k[1] < bad.Offset; in != before {
					t.Errorf("offset %d (the bad one is %d) in the lake: %v", k[1], bad.Offset, in)
				}
			}
		})
	}
}
