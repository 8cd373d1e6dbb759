package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fluxo-cdc/fluxo/cdc"
)

func TestStream(t *testing.T) {
	now := time.Unix(1_700_000_100, 0)
	reg := prometheus.NewRegistry()
	m, err := New(reg, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	orders := m.Table(cdc.TableID{Schema: "shop", Name: "orders"})
	ev := func(op cdc.Op, snap string, ts int64) *cdc.Event {
		return &cdc.Event{Op: op, Source: cdc.SourceInfo{TsMs: ts, Snapshot: snap}}
	}
	steps := []struct {
		name     string
		ev       *cdc.Event
		snapshot float64
		lag      float64
	}{
		{"snapshot read", ev(cdc.OpRead, cdc.SnapshotTrue, now.UnixMilli()), 1, 0},
		{"snapshot read", ev(cdc.OpRead, cdc.SnapshotTrue, now.UnixMilli()), 1, 0},
		{"last snapshot read", ev(cdc.OpRead, cdc.SnapshotLast, now.UnixMilli()), 0, 0},
		{"insert committed 2.5s ago", ev(cdc.OpCreate, cdc.SnapshotFalse, now.UnixMilli()-2500), 0, 2.5},
		{"update", ev(cdc.OpUpdate, cdc.SnapshotFalse, now.UnixMilli()-100), 0, 0.1},
		{"delete", ev(cdc.OpDelete, cdc.SnapshotFalse, 0), 0, 0.1}, // no source time: lag unchanged
		{"incremental chunk read", ev(cdc.OpRead, cdc.SnapshotIncremental, now.UnixMilli()), 0, 0},
	}
	for _, s := range steps {
		orders.Event(s.ev)
		if got := testutil.ToFloat64(m.snapshot); got != s.snapshot {
			t.Errorf("%s: fluxo_snapshot_running = %v, want %v", s.name, got, s.snapshot)
		}
		if got := testutil.ToFloat64(m.lag); got != s.lag {
			t.Errorf("%s: fluxo_source_lag_seconds = %v, want %v", s.name, got, s.lag)
		}
	}
	for op, want := range map[string]float64{"r": 4, "c": 1, "u": 1, "d": 1, "t": 0} {
		if got := testutil.ToFloat64(m.events.WithLabelValues("shop.orders", op)); got != want {
			t.Errorf("events{op=%s} = %v, want %v", op, got, want)
		}
	}
	if got := testutil.ToFloat64(m.snapshotRows.WithLabelValues("shop.orders")); got != 4 {
		t.Errorf("snapshot rows = %v, want 4", got)
	}
	orders.Record(100)
	orders.Record(23)
	if r, b := testutil.ToFloat64(m.records.WithLabelValues("shop.orders")), testutil.ToFloat64(m.bytes.WithLabelValues("shop.orders")); r != 2 || b != 123 {
		t.Errorf("records, bytes = %v, %v; want 2, 123", r, b)
	}
	m.Round(time.Time{}, now.Add(-4*time.Second))
	if got := testutil.ToFloat64(m.cpAge); got != 4 {
		t.Errorf("checkpoint age = %v, want 4", got)
	}
	m.Round(now, time.Time{})
	if got, saved := testutil.ToFloat64(m.cpAge), testutil.ToFloat64(m.cpSaved); got != 0 || saved != float64(now.Unix()) {
		t.Errorf("checkpoint age, saved = %v, %v; want 0, %d", got, saved, now.Unix())
	}
	m.Delivered(30*time.Millisecond, nil)
	m.Delivered(0, errTest{})
	if n := testutil.CollectAndCount(m.produce); n != 1 {
		t.Errorf("latency histogram series = %d", n)
	}
	if got := testutil.ToFloat64(m.failed); got != 1 {
		t.Errorf("produce errors = %v, want 1", got)
	}
}

type errTest struct{}

func (errTest) Error() string { return "test" }

// TestIncrementalReads: chunks of an incremental snapshot count as
// snapshot rows but do not claim the initial snapshot is running.
func TestIncrementalReads(t *testing.T) {
	m, err := New(prometheus.NewRegistry(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	late := m.Table(cdc.TableID{Schema: "shop", Name: "late"})
	for range 3 {
		late.Event(&cdc.Event{Op: cdc.OpRead, Source: cdc.SourceInfo{Snapshot: cdc.SnapshotIncremental}})
	}
	if got := testutil.ToFloat64(m.snapshot); got != 0 {
		t.Errorf("fluxo_snapshot_running = %v during incremental reads, want 0", got)
	}
	if got := testutil.ToFloat64(m.snapshotRows.WithLabelValues("shop.late")); got != 3 {
		t.Errorf("snapshot rows = %v, want 3", got)
	}
}
