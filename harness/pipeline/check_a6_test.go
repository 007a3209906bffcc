package pipeline

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/harness/seed"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

func TestA6Reconciliation(t *testing.T) {
	th := testkit.Thresholds(t)
	before := parse(t, `exporter_export_rows_total{format="csv"} 10
exporter_export_bytes_total{format="csv"} 100
exporter_exports_total{format="csv",outcome="ok"} 1
`)
	after := parse(t, `exporter_export_rows_total{format="csv"} 20
exporter_export_bytes_total{format="csv"} 250
exporter_exports_total{format="csv",outcome="ok"} 2
exporter_exports_total{format="csv",outcome="aborted"} 1
exporter_ingest_records_total{mode="batch",outcome="ok"} 5
`)
	var counts export.Tally
	counts.Add(export.CSVReport{Fetch: export.Fetch{Format: export.CSV, Status: 200, Complete: true, Bytes: 150}, Rows: 10})
	counts.Add(export.Fetch{Format: export.CSV, Status: 200}) // cut: none of its rows or bytes may be counted
	o := Observability{Before: before, After: after, Tally: counts,
		Manifests: []seed.Manifest{{Mode: seed.ModeBatch, Rows: 5}}}
	lines := strings.Join(Reconcile(o), "\n")
	for _, want := range []string{
		`exporter_export_duration_seconds_count{format="csv"}: series missing, harness counted 2`,
		`exporter_requests_rejected_total{reason="saturated"}: series missing`,
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("no %q in\n%s", want, lines)
		}
	}
	for _, unwanted := range []string{`rows_total{format="csv"}`, `bytes_total{format="csv"}`,
		`{format="csv",outcome="ok"}`, `{format="csv",outcome="aborted"}`, `mode="batch"`} {
		if strings.Contains(lines, unwanted) {
			t.Errorf("%q reported in\n%s", unwanted, lines)
		}
	}
	if c := judgeA6(th, o); c.Status != evidence.StatusFailed || !mentions(c.Failures, "series missing") {
		t.Errorf("check %+v", c)
	}

	// An exporter that counts the rows and bytes of the export it cut short is caught exactly.
	o.After = parse(t, `exporter_export_rows_total{format="csv"} 25
exporter_export_bytes_total{format="csv"} 300
`)
	lines = strings.Join(Reconcile(o), "\n")
	for _, want := range []string{`exporter_export_rows_total{format="csv"}: delta 15, harness counted 10`,
		`exporter_export_bytes_total{format="csv"}: delta 200, harness counted 150`} {
		if !strings.Contains(lines, want) {
			t.Errorf("no %q in\n%s", want, lines)
		}
	}
	// Left out, that reconciliation no longer sees it.
	o.Omit = []string{"exporter_export_rows_total"}
	if lines := strings.Join(Reconcile(o), "\n"); strings.Contains(lines, "exporter_export_rows_total") {
		t.Errorf("omitted series reported:\n%s", lines)
	}
}

// TestReconcileErrorsAndRejections covers error outcomes, rejections and stored records.
func TestReconcileErrorsAndRejections(t *testing.T) {
	// The same series before and after the run, with the values given.
	series := func(csvClient, pdfClient, pdfServer, pdfCount, tooLarge, unauthorized int) string {
		return fmt.Sprintf(`exporter_exports_total{format="csv",outcome="client_error"} %d
exporter_exports_total{format="pdf",outcome="client_error"} %d
exporter_exports_total{format="pdf",outcome="server_error"} %d
exporter_export_duration_seconds_count{format="pdf"} %d
exporter_requests_rejected_total{reason="too_large"} %d
exporter_requests_rejected_total{reason="unauthorized"} %d
`, csvClient, pdfClient, pdfServer, pdfCount, tooLarge, unauthorized)
	}
	before := parse(t, series(0, 0, 0, 0, 0, 0))
	after := parse(t, series(1, 1, 0, 2, 1, 1)+`exporter_store_records{dataset="trades"} 11
exporter_store_records{dataset="bulk"} 4
`)
	var counts export.Tally
	for _, f := range []export.Fetch{
		{Format: export.CSV, Status: http.StatusNotFound},
		{Format: export.PDF, Status: http.StatusRequestEntityTooLarge},
		{Format: export.PDF, Status: http.StatusInternalServerError},
		{Format: export.CSV, Status: http.StatusUnauthorized},
		{Format: export.CSV, Status: http.StatusForbidden},
	} {
		counts.Add(f)
	}
	o := Observability{Before: before, After: after, Tally: counts,
		Manifests: []seed.Manifest{{Dataset: "trades"}, {Dataset: "bulk"}, {Dataset: "extra"}, {Dataset: "extra"}},
		Stored:    map[string]int{"trades": 10, "bulk": 4, "gone": 1}}
	got := Reconcile(o)
	lines := strings.Join(got, "\n")
	for _, want := range []string{
		`exporter_exports_total{format="pdf",outcome="server_error"}: delta 0, harness counted 1`,
		`exporter_requests_rejected_total{reason="unauthorized"}: delta 1, harness counted 2`,
		`exporter_store_records{dataset="trades"}: 11 after the run, harness seeded 10 records`,
		`exporter_store_records{dataset="gone"}: series missing after the run`,
		`exporter_store_records{dataset="extra"}: seeded, but the harness passed no record count to check`,
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("no %q in\n%s", want, lines)
		}
	}
	for _, unwanted := range []string{`{format="csv",outcome="client_error"}`, `{format="pdf",outcome="client_error"}`,
		`duration_seconds_count{format="pdf"}`, `reason="too_large"`, `dataset="bulk"`} {
		if strings.Contains(lines, unwanted) {
			t.Errorf("%q reported in\n%s", unwanted, lines)
		}
	}
	if n := strings.Count(lines, `dataset="extra"`); n != 1 {
		t.Errorf("%d lines for the uncounted dataset, want 1", n)
	}
}

func parse(t *testing.T, text string) metrics.Snapshot {
	t.Helper()
	s, err := metrics.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
