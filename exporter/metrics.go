package exporter

import (
	"errors"
	"slices"

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
		exports: counterVec("exporter_exports_total",
			"Export requests that reached the exporter, by format and outcome (ok, client_error, server_error, aborted).",
			"format", "outcome"),
		exportRows:  counterVec("exporter_export_rows_total", "Rows sent in completed exports, by format.", "format"),
		exportBytes: counterVec("exporter_export_bytes_total", "Body bytes sent in completed exports, by format.", "format"),
		exportDuration: histogramVec("exporter_export_duration_seconds",
			"Time from request to the last byte of an export, every outcome, by format.", "format"),
		firstByte: histogramVec("exporter_export_first_byte_seconds",
			"Time from request to the first body byte of an export, by format.", "format"),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "exporter_exports_in_flight",
			Help: "Exports being produced now, by format.",
		}, []string{"format"}),
		rejected: counterVec("exporter_requests_rejected_total",
			"Requests refused before any work, by reason (rate_limited, saturated, too_large, unauthorized).", "reason"),
		ingested: counterVec("exporter_ingest_records_total",
			"Records received for ingest, by mode (single, batch) and outcome (ok, client_error, server_error, store_full).",
			"mode", "outcome"),
	}
	reg.MustRegister(m.exports, m.exportRows, m.exportBytes, m.exportDuration, m.firstByte,
		m.inFlight, m.rejected, m.ingested, storeCollector{store},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	initSeries(m.exports.MetricVec, formats, exportOutcomes)
	for _, v := range []*prometheus.MetricVec{m.exportRows.MetricVec, m.exportBytes.MetricVec,
		m.exportDuration.MetricVec, m.firstByte.MetricVec, m.inFlight.MetricVec} {
		initSeries(v, formats)
	}
	initSeries(m.rejected.MetricVec, rejectReasons)
	initSeries(m.ingested.MetricVec, ingestModes, ingestOutcomes)
	return m
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// histogramVec is a histogram of export times, in exportBuckets.
func histogramVec(name, help string, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: exportBuckets}, labels)
}

// initSeries creates the series of v for every combination of the label values given, one list
// per label in order, so that each is exposed, at zero, before its first event.
func initSeries(v *prometheus.MetricVec, values ...[]string) {
	combos := [][]string{nil}
	for _, vs := range values {
		var next [][]string
		for _, c := range combos {
			for _, x := range vs {
				next = append(next, append(slices.Clone(c), x))
			}
		}
		combos = next
	}
	for _, lvs := range combos {
		if _, err := v.GetMetricWithLabelValues(lvs...); err != nil {
			panic(err) // the label values are this file's own: a mismatch is a bug
		}
	}
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
