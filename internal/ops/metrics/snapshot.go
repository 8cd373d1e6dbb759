package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// snapshotProgress exports an incremental snapshot's queue at scrape time.
type snapshotProgress struct {
	ctl                                   *incremental.Control
	pending, rows, estimate, chk, signals *prometheus.Desc
}

// RegisterSnapshotProgress registers gauges of the incremental snapshot
// that ctl shows, read at each scrape: the tables left, and the rows done,
// the rows estimated and the chunks read of the table being read; and the
// count of signal rows by result.
func RegisterSnapshotProgress(reg prometheus.Registerer, ctl *incremental.Control) error {
	c := &snapshotProgress{ctl: ctl,
		signals: prometheus.NewDesc("fluxo_signals_total",
			"Rows inserted into source.signal_table, by result: accepted (acted on) or ignored (malformed, unsupported or naming no captured table; the log says why).",
			[]string{"result"}, nil),
		pending: prometheus.NewDesc("fluxo_incremental_snapshot_tables_pending",
			"Tables the incremental snapshot still has to read (the one being read included).", nil, nil),
		rows: prometheus.NewDesc("fluxo_incremental_snapshot_rows_done",
			"Rows the incremental snapshot emitted so far of the table it is reading.", []string{"table"}, nil),
		estimate: prometheus.NewDesc("fluxo_incremental_snapshot_rows_estimated",
			"The server's estimate of the rows of the table being read (0: unknown).", []string{"table"}, nil),
		chk: prometheus.NewDesc("fluxo_incremental_snapshot_chunks_done",
			"Chunks read so far of the table being read.", []string{"table"}, nil),
	}
	if err := reg.Register(c); err != nil {
		return fmt.Errorf("register snapshot metrics: %w", err)
	}
	return nil
}

// Describe implements prometheus.Collector.
func (c *snapshotProgress) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.rows, c.estimate, c.chk, c.signals} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *snapshotProgress) Collect(ch chan<- prometheus.Metric) {
	accepted, ignored := c.ctl.SignalCounts()
	ch <- prometheus.MustNewConstMetric(c.signals, prometheus.CounterValue, float64(accepted), incremental.SignalAccepted)
	ch <- prometheus.MustNewConstMetric(c.signals, prometheus.CounterValue, float64(ignored), incremental.SignalIgnored)
	q := c.ctl.Queue().Report()
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(len(q)))
	if len(q) == 0 {
		return
	}
	r := q[0]
	ch <- prometheus.MustNewConstMetric(c.rows, prometheus.GaugeValue, float64(r.RowsDone), r.Table)
	ch <- prometheus.MustNewConstMetric(c.estimate, prometheus.GaugeValue, float64(r.Estimate), r.Table)
	ch <- prometheus.MustNewConstMetric(c.chk, prometheus.GaugeValue, float64(r.Chunks), r.Table)
}
