package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
)

// TestABCharts: the regression check's A/B comparison is drawn side by side, one chart per
// measure with its effect in the caption, and a measure without pairs says why it is not drawn.
func TestABCharts(t *testing.T) {
	ab := &evidence.AB{Candidate: "http://127.0.0.1:1", Baseline: "http://127.0.0.1:2", Method: "wilcoxon-signed-rank",
		Measures: []evidence.ABMeasure{
			{Name: "csv_latency_seconds", Label: "CSV export latency", Unit: "s",
				Candidate: []float64{0.13, 0.066, 0.091, 0.052, 0.14}, Baseline: []float64{0.1, 0.05, 0.07, 0.04, 0.11},
				Ratio: 1.3, Low: 1.25, High: 1.36, Confidence: 0.95, P: 0.0625, PUnpaired: 0.3, Verdict: "regression"},
			{Name: "pdf_latency_seconds", Label: "PDF export latency", Unit: "s", Verdict: "untested", Note: "the API judged has no PDF"},
		}}
	got := abCharts(evidence.Report{AB: ab})
	if len(got) != 2 {
		t.Fatalf("%d charts, want one per measure", len(got))
	}
	if got[0].SVG == "" || !strings.Contains(got[0].Caption, "1.300×") || !strings.Contains(got[0].Caption, "CI 1.250–1.360×") {
		t.Errorf("CSV chart: missing %q, caption %q", got[0].Missing, got[0].Caption)
	}
	if got[1].SVG != "" || !strings.Contains(got[1].Missing, "no pair") {
		t.Errorf("PDF chart without pairs: %+v", got[1])
	}
	if abCharts(evidence.Report{}) != nil {
		t.Error("charts drawn without a comparison")
	}
	var b bytes.Buffer
	if err := HTML(&b, evidence.Report{SchemaVersion: evidence.SchemaVersion, AB: ab}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `id="chart-ab-csv_latency_seconds"`) {
		t.Error("EVIDENCE.html has no A/B chart")
	}
}
