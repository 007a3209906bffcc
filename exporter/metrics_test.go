package exporter

import (
	"net/http"
	"strings"
	"testing"
)

// initialSeries lists every labelled series that must exist from the start, as label pairs.
func initialSeries() map[string][][]string {
	s := map[string][][]string{}
	for _, f := range []string{"csv", "pdf"} {
		for _, o := range []string{"ok", "client_error", "server_error", "aborted"} {
			s["exporter_exports_total"] = append(s["exporter_exports_total"], []string{"format", f, "outcome", o})
		}
		for _, name := range []string{"exporter_export_rows_total", "exporter_export_bytes_total",
			"exporter_export_duration_seconds", "exporter_export_first_byte_seconds", "exporter_exports_in_flight"} {
			s[name] = append(s[name], []string{"format", f})
		}
	}
	for _, r := range []string{"rate_limited", "saturated", "too_large", "unauthorized"} {
		s["exporter_requests_rejected_total"] = append(s["exporter_requests_rejected_total"], []string{"reason", r})
	}
	for _, m := range []string{"single", "batch"} {
		for _, o := range []string{"ok", "client_error", "server_error", "store_full"} {
			s["exporter_ingest_records_total"] = append(s["exporter_ingest_records_total"], []string{"mode", m, "outcome", o})
		}
	}
	return s
}

var metricTypes = map[string]string{
	"exporter_exports_total":             "counter",
	"exporter_export_rows_total":         "counter",
	"exporter_export_bytes_total":        "counter",
	"exporter_export_duration_seconds":   "histogram",
	"exporter_export_first_byte_seconds": "histogram",
	"exporter_exports_in_flight":         "gauge",
	"exporter_requests_rejected_total":   "counter",
	"exporter_ingest_records_total":      "counter",
	"exporter_store_records":             "gauge",
}

func TestMetricsAtStart(t *testing.T) {
	ts := newTestServer(t)
	// exporter_store_records has one series per dataset, so on an empty store it has none and
	// client_golang leaves the family out; give the store a dataset first (as after a restart).
	if _, err := ts.store.PutSchema("existing", Schema{Columns: []Column{{"a", TypeInt}}}); err != nil {
		t.Fatal(err)
	}
	ts = newTestServerOn(t, ts.store)
	resp, body := ts.do(t, http.MethodGet, "/metrics", nil)
	assertStatus(t, resp, body, http.StatusOK)
	text := "\n" + string(body)
	for name, typ := range metricTypes {
		if !strings.Contains(text, "\n# HELP "+name+" ") {
			t.Errorf("no HELP for %s", name)
		}
		if !strings.Contains(text, "\n# TYPE "+name+" "+typ+"\n") {
			t.Errorf("no TYPE %s for %s", typ, name)
		}
	}
	fams := scrape(t, ts.client, ts.URL)
	for name, series := range initialSeries() {
		for _, labels := range series {
			v, ok := metricValue(fams, name, labels...)
			if !ok {
				t.Errorf("series %s%v is not initialised", name, labels)
			} else if v != 0 {
				t.Errorf("series %s%v = %v before any request", name, labels, v)
			}
		}
		if got, want := len(fams[name].GetMetric()), len(series); got != want {
			t.Errorf("%s has %d series, want %d", name, got, want)
		}
	}
	if v, ok := metricValue(fams, "exporter_store_records", "dataset", "existing"); !ok || v != 0 {
		t.Errorf("store_records{dataset=existing} = %v, %v at start", v, ok)
	}
	// Go and process collectors come on top.
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	// A new dataset has its store_records series at once.
	ts.createDataset(t, "fresh", testSchema)
	if v, ok := metricValue(scrape(t, ts.client, ts.URL), "exporter_store_records", "dataset", "fresh"); !ok || v != 0 {
		t.Errorf("store_records{dataset=fresh} = %v, %v after PUT", v, ok)
	}
}

func TestMetricsMove(t *testing.T) {
	ts := newTestServer(t)
	ts.createDataset(t, "trades", testSchema)
	ts.ingest(t, "trades", ndjson(plainRecords(1, 100)))
	resp, body := ts.do(t, http.MethodPost, "/v1/datasets/trades/records", []byte(okRecord(101)))
	assertStatus(t, resp, body, http.StatusOK)
	bad := okRecord(102) + "\n" + okRecord(103) + "\n{\n"
	resp, body = ts.do(t, http.MethodPost, "/v1/datasets/trades/records", []byte(bad), "Content-Type", "application/x-ndjson")
	assertAPIError(t, resp, body, http.StatusBadRequest, "invalid_record")
	resp, body = ts.do(t, http.MethodPost, "/v1/datasets/trades/records", []byte(`{"id":0}`))
	assertAPIError(t, resp, body, http.StatusBadRequest, "invalid_record")

	_, csvBody := ts.exportCSV(t, "trades", "&bom=1")
	pdfBody, _ := ts.pdfExport(t, "trades", "&limit=60", 60)
	resp, body = ts.do(t, http.MethodGet, "/v1/datasets/trades/export?format=pdf&columns=nope", nil)
	assertAPIError(t, resp, body, http.StatusBadRequest, "invalid_query")

	fams := scrape(t, ts.client, ts.URL)
	assertSeries(t, fams, []series{
		{"exporter_exports_total", []string{"format", "csv", "outcome", "ok"}, 1},
		{"exporter_exports_total", []string{"format", "pdf", "outcome", "ok"}, 1},
		{"exporter_exports_total", []string{"format", "pdf", "outcome", "client_error"}, 1},
		{"exporter_exports_total", []string{"format", "csv", "outcome", "client_error"}, 0},
		{"exporter_exports_total", []string{"format", "csv", "outcome", "aborted"}, 0},
		{"exporter_export_rows_total", []string{"format", "csv"}, 101},
		{"exporter_export_rows_total", []string{"format", "pdf"}, 60},
		{"exporter_export_bytes_total", []string{"format", "csv"}, float64(len(csvBody))},
		{"exporter_export_bytes_total", []string{"format", "pdf"}, float64(len(pdfBody))},
		{"exporter_export_duration_seconds", []string{"format", "csv"}, 1},
		{"exporter_export_duration_seconds", []string{"format", "pdf"}, 2}, // every outcome
		{"exporter_export_first_byte_seconds", []string{"format", "csv"}, 1},
		{"exporter_export_first_byte_seconds", []string{"format", "pdf"}, 1},
		{"exporter_exports_in_flight", []string{"format", "csv"}, 0},
		{"exporter_exports_in_flight", []string{"format", "pdf"}, 0},
		{"exporter_ingest_records_total", []string{"mode", "batch", "outcome", "ok"}, 100},
		{"exporter_ingest_records_total", []string{"mode", "single", "outcome", "ok"}, 1},
		{"exporter_ingest_records_total", []string{"mode", "batch", "outcome", "client_error"}, 3},
		{"exporter_ingest_records_total", []string{"mode", "single", "outcome", "client_error"}, 1},
		{"exporter_store_records", []string{"dataset", "trades"}, 101},
		{"exporter_requests_rejected_total", []string{"reason", "too_large"}, 0},
	})
	// Every export counted under an outcome is observed in the duration histogram.
	for _, f := range []string{"csv", "pdf"} {
		var sum float64
		for _, o := range []string{"ok", "client_error", "server_error", "aborted"} {
			v, _ := metricValue(fams, "exporter_exports_total", "format", f, "outcome", o)
			sum += v
		}
		if n, _ := metricValue(fams, "exporter_export_duration_seconds", "format", f); n != sum {
			t.Errorf("duration{%s} counts %v exports, exports_total{%s} %v", f, n, f, sum)
		}
	}
	// Histogram sums are durations: positive and plausible.
	for _, name := range []string{"exporter_export_duration_seconds", "exporter_export_first_byte_seconds"} {
		for _, m := range fams[name].GetMetric() {
			if h := m.GetHistogram(); h.GetSampleCount() > 0 && (h.GetSampleSum() <= 0 || h.GetSampleSum() > 60) {
				t.Errorf("%s%v sum %v s", name, m.GetLabel(), h.GetSampleSum())
			}
		}
	}
}
