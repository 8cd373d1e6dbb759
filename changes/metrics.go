package changes

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fluxo-cdc/fluxo/internal/lake/partfile"
)

// Metrics are the sink's figures in Prometheus. A nil *Metrics measures
// nothing.
type Metrics struct {
	rows  *prometheus.CounterVec
	files *prometheus.CounterVec
	bytes *prometheus.CounterVec
	lagG  *prometheus.GaugeVec
}

// NewMetrics registers the sink's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fluxo_sink_rows_total",
			Help: "Change rows written into files (committed or not yet), by topic and op."}, []string{"topic", "op"}),
		files: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fluxo_sink_files_total",
			Help: "Change files committed into the bronze layer, by topic."}, []string{"topic"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fluxo_sink_file_bytes_total",
			Help: "Bytes of the committed change files, by topic."}, []string{"topic"}),
		lagG: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fluxo_sink_lag_records",
			Help: "Records of a partition after the last one read, as of the last fetch."}, []string{"topic", "partition"}),
	}
	for _, c := range []prometheus.Collector{m.rows, m.files, m.bytes, m.lagG} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// rowCounter returns the counter of topic's rows of op; nil for a nil m.
func (m *Metrics) rowCounter(topic, op string) prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.rows.WithLabelValues(topic, op)
}

func (m *Metrics) file(topic string, info partfile.Info) {
	if m != nil {
		m.files.WithLabelValues(topic).Inc()
		m.bytes.WithLabelValues(topic).Add(float64(info.Bytes))
	}
}

func (m *Metrics) lag(topic string, partition int32, n int64) {
	if m != nil {
		m.lagG.WithLabelValues(topic, strconv.Itoa(int(partition))).Set(float64(max(n, 0)))
	}
}
