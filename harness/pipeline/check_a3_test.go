package pipeline

import (
	"slices"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// TestMissingThreshold drops one rule: the judged measure must fail its check, not turn
// informational, while informational measures need no rule.
func TestMissingThreshold(t *testing.T) {
	th := testkit.Thresholds(t)
	delete(th, "a3.csv_p95_seconds")
	r := load.Result{CSVRowsPerSecond: 1e6, CSV: load.FormatResult{OK: 1, StreamRate: load.Distribution{Count: 1, P50: 100 << 20},
		Latency: load.Distribution{Count: 1}}, PDF: load.FormatResult{OK: 1, Latency: load.Distribution{Count: 1}}}
	c := judgeA3(th, speed{Load: r, PDF: true})
	if c.Status != evidence.StatusFailed || !slices.Contains(c.Failures, "no threshold for a3.csv_p95_seconds") {
		t.Errorf("check %+v", c)
	}
	if _, ok := testkit.Thresholds(t)["a3.csv_latency_p50_seconds"]; ok {
		t.Fatal("a3.csv_latency_p50_seconds has a default rule; pick another informational measure")
	}
	if c := judgeA3(testkit.Thresholds(t), speed{Load: r, PDF: true}); c.Status != evidence.StatusPassed || !hasMeasure(c, "a3.csv_latency_p50_seconds") {
		t.Errorf("with every rule: %+v", c)
	}
}

// TestA3WithoutPDF: an API without PDF has its PDF latency not applicable (never a passed 0 s), and
// exports whose only fault is their content headers are timed, not failed, in A3.
func TestA3WithoutPDF(t *testing.T) {
	r := load.Result{CSVRowsPerSecond: 1e6, Failed: 3, Errors: map[string]int{"content_headers": 3},
		CSV: load.FormatResult{StreamRate: load.Distribution{Count: 3, P50: 100 << 20}, Latency: load.Distribution{Count: 3, P95: 0.1}}}
	c := judgeA3(testkit.Thresholds(t), speed{Load: r})
	if c.Status != evidence.StatusPassed {
		t.Fatalf("A3 %+v", c)
	}
	for _, m := range c.Measures {
		if m.Name == "a3.pdf_p95_seconds" && m.NotApplicable == "" {
			t.Errorf("PDF p95 judged for an API without PDF: %+v", m)
		}
		if m.Name == "a3.failed_exports" && m.Value != 0 {
			t.Errorf("content-header failures counted by A3: %+v", m)
		}
	}
	r.Errors["truncated"], r.Failed = 1, 4
	if c := judgeA3(testkit.Thresholds(t), speed{Load: r}); c.Status != evidence.StatusFailed {
		t.Errorf("a truncated export passed A3: %+v", c)
	}
}
