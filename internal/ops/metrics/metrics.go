// Package metrics holds the Prometheus metrics of a stream. Stream
// implements the pipeline's Observer and the Kafka sink's delivery observer;
// it registers everything in a registry passed in, never the global one.
package metrics

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Stream is the metrics of one stream. Its methods are safe for concurrent
// use.
type Stream struct {
	now func() time.Time

	events       *prometheus.CounterVec
	records      *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	snapshotRows *prometheus.CounterVec
	lag          prometheus.Gauge
	lastEvent    prometheus.Gauge
	produce      prometheus.Histogram
	failed       prometheus.Counter
	cpAge        prometheus.Gauge
	cpSaved      prometheus.Gauge
	cpCount      prometheus.Counter
	snapshot     prometheus.Gauge
	slotRetained prometheus.Gauge
	slotLag      prometheus.Gauge
	txns         *prometheus.CounterVec
	txnCommit    prometheus.Histogram

	snapshotState atomic.Int32 // 0 not seen, 1 running, 2 done
	lastTs        atomic.Int64 // source timestamp of the last event
}

// New returns a Stream registering its metrics in reg. now is the clock
// (nil: time.Now).
func New(reg prometheus.Registerer, now func() time.Time) (*Stream, error) {
	if now == nil {
		now = time.Now
	}
	m := &Stream{now: now,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fluxo_events_total",
			Help: "Row events read from the source, by table and op (c, u, d, r for snapshot reads, t)."}, []string{"table", "op"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fluxo_kafka_records_total",
			Help: "Kafka records produced (including tombstones), by table."}, []string{"table"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fluxo_kafka_bytes_total",
			Help: "Key and value bytes of the Kafka records produced, by table."}, []string{"table"}),
		snapshotRows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fluxo_snapshot_rows_total",
			Help: "Rows read by snapshots (the initial one and incremental ones), by table."}, []string{"table"}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fluxo_source_lag_seconds",
			Help: "When the last event was handled, how long after its source commit (Debezium's MilliSecondsBehindSource, in seconds)."}),
		lastEvent: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fluxo_last_event_timestamp_seconds",
			Help: "Unix time at which the last event was handled."}),
		produce: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fluxo_kafka_produce_latency_seconds",
			Help:    "Time from handing a record to the producer to the brokers' acknowledgement (acks=all).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "fluxo_kafka_produce_errors_total",
			Help: "Records whose delivery failed for good (the stream stops on the first)."}),
		cpAge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fluxo_checkpoint_age_seconds",
			Help: "How long the oldest transaction read but not yet in the saved checkpoint has waited; 0 when the checkpoint is current."}),
		cpSaved: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fluxo_checkpoint_saved_timestamp_seconds",
			Help: "Unix time of the last checkpoint save (0 until the first in this process)."}),
		cpCount: prometheus.NewCounter(prometheus.CounterOpts{Name: "fluxo_checkpoints_total",
			Help: "Checkpoints saved."}),
		snapshot: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fluxo_snapshot_running",
			Help: "1 while the initial snapshot is being read, 0 otherwise."}),
		slotRetained: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fluxo_postgres_slot_retained_wal_bytes",
			Help: "WAL the PostgreSQL server keeps for fluxo's slot (current WAL position minus the slot's restart_lsn)."}),
		slotLag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fluxo_postgres_slot_confirmed_lag_bytes",
			Help: "WAL written since the position fluxo last confirmed (current WAL position minus confirmed_flush_lsn)."}),
	}
	m.txns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fluxo_kafka_transactions_total",
		Help: "Kafka transactions ended (kafka.transactions), by result: committed or aborted."}, []string{"result"})
	m.txnCommit = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fluxo_kafka_transaction_commit_seconds",
		Help:    "Time to commit a Kafka transaction: flush its records and the checkpoint's, then end it (kafka.transactions).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})
	for _, c := range []prometheus.Collector{m.events, m.records, m.bytes, m.snapshotRows, m.lag, m.lastEvent,
		m.produce, m.failed, m.cpAge, m.cpSaved, m.cpCount, m.snapshot, m.txns, m.txnCommit} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register stream metrics: %w", err)
		}
	}
	return m, nil
}

// RegisterPostgres adds the PostgreSQL slot gauges (only PostgreSQL
// streams have them); set them with Slot.
func (m *Stream) RegisterPostgres(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.slotRetained, m.slotLag} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register postgres metrics: %w", err)
		}
	}
	return nil
}

// Slot sets the PostgreSQL slot gauges.
func (m *Stream) Slot(retainedBytes, confirmedLagBytes int64) {
	m.slotRetained.Set(float64(retainedBytes))
	m.slotLag.Set(float64(confirmedLagBytes))
}

// Delivered records the outcome of one Kafka record handed to the
// producer latency ago; it is the Kafka sink's observer.
func (m *Stream) Delivered(latency time.Duration, err error) {
	if err != nil {
		m.failed.Inc()
		return
	}
	m.produce.Observe(latency.Seconds())
}

// Round records the checkpoint state on every round of the pipeline's
// checkpoint loop: when it was last saved (zero: not in this process) and
// when the oldest transaction not yet in it was read (zero: none).
func (m *Stream) Round(saved, oldestUnsaved time.Time) {
	now := m.now()
	age := 0.0
	if !oldestUnsaved.IsZero() {
		age = max(now.Sub(oldestUnsaved).Seconds(), 0)
	}
	m.cpAge.Set(age)
	if !saved.IsZero() {
		m.cpSaved.Set(float64(saved.UnixNano()) / 1e9)
	}
}

// Saved counts a checkpoint save.
func (m *Stream) Saved() { m.cpCount.Inc() }

// Transaction records a Kafka transaction that ended: committed in d, or
// aborted.
func (m *Stream) Transaction(d time.Duration, committed bool) {
	if !committed {
		m.txns.WithLabelValues("aborted").Inc()
		return
	}
	m.txns.WithLabelValues("committed").Inc()
	m.txnCommit.Observe(d.Seconds())
}

// Table returns the per-table counters of id, resolved once so that
// counting an event costs no label look-up.
func (m *Stream) Table(id cdc.TableID) *Table {
	name := id.String()
	t := &Table{m: m, records: m.records.WithLabelValues(name), bytes: m.bytes.WithLabelValues(name),
		snapshotRows: m.snapshotRows.WithLabelValues(name)}
	for i, op := range tableOps {
		t.events[i] = m.events.WithLabelValues(name, string(rune(op)))
	}
	return t
}

var tableOps = [...]cdc.Op{cdc.OpCreate, cdc.OpUpdate, cdc.OpDelete, cdc.OpRead, cdc.OpTruncate}

// Table counts the events and records of one table.
type Table struct {
	m            *Stream
	events       [len(tableOps)]prometheus.Counter
	records      prometheus.Counter
	bytes        prometheus.Counter
	snapshotRows prometheus.Counter
}

// Event counts one event of the table.
func (t *Table) Event(ev *cdc.Event) {
	for i, op := range tableOps {
		if op == ev.Op {
			t.events[i].Inc()
		}
	}
	// The clock is read once per source timestamp, not per event: the
	// events of a transaction share their commit's.
	if ts := ev.Source.TsMs; ts != t.m.lastTs.Swap(ts) || ts == 0 {
		now := t.m.now()
		t.m.lastEvent.Set(float64(now.UnixNano()) / 1e9)
		if ts > 0 {
			t.m.lag.Set(max(float64(now.UnixMilli()-ts)/1000, 0))
		}
	}
	t.m.snapshotEvent(ev, t)
}

// Record counts one record of n key and value bytes produced for the table.
func (t *Table) Record(n int) {
	t.records.Inc()
	t.bytes.Add(float64(n))
}

func (m *Stream) snapshotEvent(ev *cdc.Event, t *Table) {
	switch {
	case ev.Op == cdc.OpRead && ev.Source.Snapshot == cdc.SnapshotIncremental:
		t.snapshotRows.Inc() // chunks interleave with changes: not the initial snapshot's state
	case ev.Op == cdc.OpRead:
		t.snapshotRows.Inc()
		if ev.Source.Snapshot == cdc.SnapshotLast {
			m.snapshotDone()
		} else if m.snapshotState.CompareAndSwap(0, 1) {
			m.snapshot.Set(1)
		}
	case m.snapshotState.Load() == 1:
		m.snapshotDone() // a change after the reads: the snapshot is over
	}
}

func (m *Stream) snapshotDone() {
	m.snapshotState.Store(2)
	m.snapshot.Set(0)
}
