package fake

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the nine exporter metrics, every labelled series initialised up front.
type metrics struct {
	reg          *prometheus.Registry
	exports      *prometheus.CounterVec
	rows         *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	firstByte    *prometheus.HistogramVec
	inFlight     *prometheus.GaugeVec
	rejected     *prometheus.CounterVec
	ingest       *prometheus.CounterVec
	storeRecords *prometheus.GaugeVec
}

func newMetrics(missing string) *metrics {
	buckets := prometheus.ExponentialBuckets(0.005, 3, 12) // 5 ms .. ~15 min
	m := &metrics{
		reg: prometheus.NewRegistry(),
		exports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "exporter_exports_total",
			Help: "Exports finished, by format and outcome."}, []string{"format", "outcome"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "exporter_export_rows_total",
			Help: "Rows written by exports."}, []string{"format"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "exporter_export_bytes_total",
			Help: "Body bytes written by exports."}, []string{"format"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "exporter_export_duration_seconds",
			Help: "Time from request to the last byte of an export.", Buckets: buckets}, []string{"format"}),
		firstByte: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "exporter_export_first_byte_seconds",
			Help: "Time from request to the first body byte of an export.", Buckets: buckets}, []string{"format"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "exporter_exports_in_flight",
			Help: "Exports being written now."}, []string{"format"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "exporter_requests_rejected_total",
			Help: "Requests refused before any work, by reason."}, []string{"reason"}),
		ingest: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "exporter_ingest_records_total",
			Help: "Records ingested, by mode and outcome."}, []string{"mode", "outcome"}),
		storeRecords: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "exporter_store_records",
			Help: "Records stored, by dataset."}, []string{"dataset"}),
	}
	all := map[string]prometheus.Collector{
		"exporter_exports_total": m.exports, "exporter_export_rows_total": m.rows,
		"exporter_export_bytes_total": m.bytes, "exporter_export_duration_seconds": m.duration,
		"exporter_export_first_byte_seconds": m.firstByte, "exporter_exports_in_flight": m.inFlight,
		"exporter_requests_rejected_total": m.rejected, "exporter_ingest_records_total": m.ingest,
		"exporter_store_records": m.storeRecords,
	}
	for name, c := range all {
		if name != missing {
			m.reg.MustRegister(c)
		}
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, f := range []string{"csv", "pdf"} {
		for _, o := range []string{"ok", "client_error", "server_error", "aborted"} {
			m.exports.WithLabelValues(f, o)
		}
		m.rows.WithLabelValues(f)
		m.bytes.WithLabelValues(f)
		m.duration.WithLabelValues(f)
		m.firstByte.WithLabelValues(f)
		m.inFlight.WithLabelValues(f)
	}
	for _, r := range []string{"rate_limited", "saturated", "too_large", "unauthorized"} {
		m.rejected.WithLabelValues(r)
	}
	for _, mode := range []string{"single", "batch"} {
		for _, o := range []string{"ok", "client_error"} {
			m.ingest.WithLabelValues(mode, o)
		}
	}
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
