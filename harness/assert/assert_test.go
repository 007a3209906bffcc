package assert_test

import (
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/assert"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/harness/seed"
)

func thresholds(t *testing.T) assert.Thresholds {
	t.Helper()
	th, err := evidence.LoadThresholds("")
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func TestA1(t *testing.T) {
	th := thresholds(t)
	for _, tt := range []struct {
		name   string
		csv    export.CSVTotals
		pdf    export.PDFTotals
		status evidence.Status
		line   string
	}{
		{"clean", export.CSVTotals{Exports: 2}, export.PDFTotals{Exports: 1}, evidence.StatusPassed, ""},
		{"nothing received", export.CSVTotals{}, export.PDFTotals{}, evidence.StatusNotRun, "no CSV export"},
		{"missing", export.CSVTotals{Exports: 1, Missing: 2, Examples: []string{"id 4 missing"}}, export.PDFTotals{}, evidence.StatusFailed, "id 4 missing"},
		{"out of order", export.CSVTotals{Exports: 1, OutOfOrder: 1}, export.PDFTotals{}, evidence.StatusFailed, "out of ascending id order"},
		{"PDF header wrong", export.CSVTotals{Exports: 1}, export.PDFTotals{Exports: 1, HeaderMismatches: 1}, evidence.StatusFailed, "a1.trailer_mismatches = 1 exports breaks == 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := assert.A1(th, tt.csv, tt.pdf)
			if c.ID != "A1" || c.Status != tt.status || !strings.Contains(strings.Join(c.Failures, "\n"), tt.line) {
				t.Errorf("check %+v", c)
			}
		})
	}
}

func TestA4(t *testing.T) {
	th := thresholds(t)
	ok := assert.Memory{PeakExternal: 50e6, PeakDuringSmall: 40e6, PeakDuringLarge: 45e6, ProcessResident: 48e6}
	if c := assert.A4(th, ok); c.Status != evidence.StatusPassed {
		t.Errorf("healthy: %+v", c)
	}
	if c := assert.A4(th, assert.Memory{ProcessResident: 48e6}); c.Status != evidence.StatusNotRun {
		t.Errorf("no outside measurement: %+v", c)
	}
	big := ok
	big.PeakExternal = 400e6
	if c := assert.A4(th, big); c.Status != evidence.StatusFailed {
		t.Errorf("over budget and disagreeing: %+v", c)
	}
}

func TestA6Reconciliation(t *testing.T) {
	th := thresholds(t)
	before := parse(t, `exporter_export_rows_total{format="csv"} 10
exporter_export_bytes_total{format="csv"} 100
exporter_exports_total{format="csv",outcome="ok"} 1
`)
	after := parse(t, `exporter_export_rows_total{format="csv"} 25
exporter_export_bytes_total{format="csv"} 300
exporter_exports_total{format="csv",outcome="ok"} 2
exporter_exports_total{format="csv",outcome="aborted"} 1
exporter_ingest_records_total{mode="batch",outcome="ok"} 5
`)
	var counts export.Counts
	counts.Add(export.Fetch{Format: export.CSV, Status: 200, Complete: true, Bytes: 150}, 10, true)
	counts.Add(export.Fetch{Format: export.CSV, Status: 200}, 0, true) // cut: rows and bytes become lower bounds
	o := assert.Observability{Before: before, After: after, Counts: counts,
		Manifests: []seed.Manifest{{Mode: seed.ModeBatch, Rows: 5}}}
	lines := strings.Join(assert.Reconcile(o), "\n")
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
	if c := assert.A6(th, o); c.Status != evidence.StatusFailed || !strings.Contains(strings.Join(c.Failures, "\n"), "series missing") {
		t.Errorf("check %+v", c)
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
