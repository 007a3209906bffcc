package exporter

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Label values, fixed so every series can be initialised at start.
var (
	formats        = formatNames()
	exportOutcomes = []string{"ok", "client_error", "server_error", "aborted"}
	rejectReasons  = []string{"rate_limited", "saturated", "too_large", "unauthorized"}
	ingestModes    = []string{"single", "batch"}
	// store_full: refused with 507 because the data volume is full, which is neither the client's
	// fault nor a fault of the exporter.
	ingestOutcomes = []string{"ok", "client_error", "server_error", "store_full"}
)

// exportBuckets span exports from a millisecond to ten minutes.
var exportBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// metrics are the nine exporter_* series of docs/design.md.
type metrics struct {
	exports        *prometheus.CounterVec
	exportRows     *prometheus.CounterVec
	exportBytes    *prometheus.CounterVec
	exportDuration *prometheus.HistogramVec
	firstByte      *prometheus.HistogramVec
	inFlight       *prometheus.GaugeVec
	rejected       *prometheus.CounterVec
	ingested       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, store Store) *metrics {
	m := &metrics{
		exports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exporter_exports_total",
			Help: "Export requests that reached the exporter, by format and outcome (ok, client_error, server_error, aborted).",
		}, []string{"format", "outcome"}),
		exportRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exporter_export_rows_total",
			Help: "Rows sent in completed exports, by format.",
		}, []string{"format"}),
		exportBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exporter_export_bytes_total",
			Help: "Body bytes sent in completed exports, by format.",
		}, []string{"format"}),
		exportDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "exporter_export_duration_seconds",
			Help:    "Time from request to the last byte of an export, every outcome, by format.",
			Buckets: exportBuckets,
		}, []string{"format"}),
		firstByte: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "exporter_export_first_byte_seconds",
			Help:    "Time from request to the first body byte of an export, by format.",
			Buckets: exportBuckets,
		}, []string{"format"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "exporter_exports_in_flight",
			Help: "Exports being produced now, by format.",
		}, []string{"format"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exporter_requests_rejected_total",
			Help: "Requests refused before any work, by reason (rate_limited, saturated, too_large, unauthorized).",
		}, []string{"reason"}),
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exporter_ingest_records_total",
			Help: "Records received for ingest, by mode (single, batch) and outcome (ok, client_error, server_error, store_full).",
		}, []string{"mode", "outcome"}),
	}
	reg.MustRegister(m.exports, m.exportRows, m.exportBytes, m.exportDuration, m.firstByte,
		m.inFlight, m.rejected, m.ingested, storeCollector{store},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, f := range formats {
		for _, o := range exportOutcomes {
			m.exports.WithLabelValues(f, o)
		}
		m.exportRows.WithLabelValues(f)
		m.exportBytes.WithLabelValues(f)
		m.exportDuration.WithLabelValues(f)
		m.firstByte.WithLabelValues(f)
		m.inFlight.WithLabelValues(f)
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	for _, md := range ingestModes {
		for _, o := range ingestOutcomes {
			m.ingested.WithLabelValues(md, o)
		}
	}
	return m
}

var storeRecordsDesc = prometheus.NewDesc("exporter_store_records", "Records stored, by dataset.", []string{"dataset"}, nil)

// storeCollector reads the record counts from the store at scrape time, so the gauge is exact
// however ingests interleave, and every dataset has its series from the start.
type storeCollector struct{ store Store }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- storeRecordsDesc }

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	counts, err := c.store.Counts()
	if errors.Is(err, ErrStoreUnavailable) {
		return // no series rather than a failed scrape: the database is down, the exporter is not
	}
	if err != nil {
		ch <- prometheus.NewInvalidMetric(storeRecordsDesc, err)
		return
	}
	for name, n := range counts {
		ch <- prometheus.MustNewConstMetric(storeRecordsDesc, prometheus.GaugeValue, float64(n), name)
	}
}
