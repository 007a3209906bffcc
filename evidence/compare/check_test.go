package compare

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// TestBaselineCheck judges real runs as an acceptance run judges itself: the baseline check of the
// slow exporter against a healthy run is RED naming the latency and the rates, healthy runs against
// a healthy baseline pass, and a baseline that cannot be read or tested is NOT RUN.
func TestBaselineCheck(t *testing.T) {
	rules := mustRules(t)
	thresholds := testkit.Thresholds(t)
	noSamples := mustLoad(t, "series-2")
	noSamples.Samples = nil
	for _, tt := range []struct {
		name, baseline string
		cur            Bundle
		wantStatus     evidence.Status
		wantVerdict    evidence.Verdict // of a run whose other required checks all passed
		wantFailures   []string         // each in some failure line
		wantNote       string
	}{
		{"slow exporter against a healthy run", bundleDir("series-1"), mustLoad(t, "slow4"), evidence.StatusFailed, evidence.Red,
			[]string{"samples.csv_latency_seconds regressed: median 25.2 ms → 0.209 s (+729.9 %)",
				"samples.csv_stream_mib_per_second regressed: median 107 MiB/s → 4.05 MiB/s (-96.2 %)",
				"samples.pdf_stream_mib_per_second regressed"},
			"the baseline ran against a container target, this run against a url target"},
		{"healthy against healthy", bundleDir("series-1"), mustLoad(t, "series-7"), evidence.StatusPassed, evidence.Green, nil,
			"judged by evidence/baseline.json: Mann–Whitney U"},
		{"healthy against healthy, the other way", bundleDir("series-2"), mustLoad(t, "series-1"), evidence.StatusPassed, evidence.Green, nil,
			"baseline: testdata/series-2 (run series-2, started 2026-12-01T09:46:08Z, target container, verdict GREEN)"},
		{"a RED baseline", bundleDir("slow4"), mustLoad(t, "series-4"), evidence.StatusFailed, evidence.Red,
			[]string{"samples.csv_first_byte_seconds regressed"}, "the baseline's own verdict is RED"},
		{"no baseline given", "", mustLoad(t, "series-2"), evidence.StatusNotRun, evidence.NotRun,
			[]string{"no baseline bundle was given"}, ""},
		{"missing baseline", filepath.Join(t.TempDir(), "absent"), mustLoad(t, "series-2"), evidence.StatusNotRun, evidence.NotRun,
			[]string{"cannot be read, so nothing was compared", "SHA256SUMS: no such file"}, ""},
		{"tampered baseline", copyBundle(t, "series-1", true, func(f map[string][]byte) { f[FileLoadResult] = append(f[FileLoadResult], '\n') }),
			mustLoad(t, "series-2"), evidence.StatusNotRun, evidence.NotRun, []string{"load-result.json: SHA-256"}, ""},
		{"baseline without load samples", copyBundle(t, "series-1", false, func(f map[string][]byte) { f[FileLoadResult] = nil }),
			mustLoad(t, "series-2"), evidence.StatusNotRun, evidence.NotRun, []string{"has no load samples"}, ""},
		{"this run without load samples", bundleDir("series-1"), noSamples, evidence.StatusNotRun, evidence.NotRun,
			[]string{"this run has no load samples"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := BaselineCheck(tt.baseline, tt.cur, rules, thresholds)
			if c.ID != CheckID || c.Status != tt.wantStatus {
				t.Errorf("check %s status %s, want %s %s; failures %q", c.ID, c.Status, CheckID, tt.wantStatus, c.Failures)
			}
			for _, want := range tt.wantFailures {
				if !slices.ContainsFunc(c.Failures, func(f string) bool { return strings.Contains(f, want) }) {
					t.Errorf("no failure line with %q in %q", want, c.Failures)
				}
			}
			if tt.wantFailures == nil && len(c.Failures) > 0 {
				t.Errorf("failures %q, want none", c.Failures)
			}
			if tt.wantNote != "" && !slices.ContainsFunc(c.Notes, func(n string) bool { return strings.Contains(n, tt.wantNote) }) {
				t.Errorf("no note with %q in %q", tt.wantNote, c.Notes)
			}
			// The verdict of a run whose every other required check passed, "baseline" required.
			required := []string{"A1", CheckID}
			checks := []evidence.Check{evidence.NewCheck("A1", "complete", nil, nil), c}
			if got := evidence.Decide(checks, required); got != tt.wantVerdict {
				t.Errorf("verdict %s, want %s", got, tt.wantVerdict)
			}
			r := evidence.Report{SchemaVersion: evidence.SchemaVersion, Verdict: tt.wantVerdict, Thresholds: thresholds, Required: required, Checks: checks}
			if err := r.Validate(); err != nil {
				t.Errorf("a report with this check does not validate: %v", err)
			}
		})
	}
}

// TestBaselineCheckMeasures: the check records each distribution's change and p-value, judged by a
// threshold when one has the name.
func TestBaselineCheckMeasures(t *testing.T) {
	thresholds := map[string]evidence.Rule{"baseline.csv_latency_median_change_percent": {Op: "<=", Value: 50, Unit: "%"}}
	c := BaselineCheck(bundleDir("series-1"), mustLoad(t, "series-7"), mustRules(t), thresholds)
	want := []string{"baseline.csv_latency_median_change_percent", "baseline.csv_latency_p_value",
		"baseline.csv_first_byte_median_change_percent", "baseline.csv_first_byte_p_value",
		"baseline.csv_stream_median_change_percent", "baseline.csv_stream_p_value",
		"baseline.pdf_latency_median_change_percent", "baseline.pdf_latency_p_value",
		"baseline.pdf_first_byte_median_change_percent", "baseline.pdf_first_byte_p_value",
		"baseline.pdf_stream_median_change_percent", "baseline.pdf_stream_p_value"}
	var got []string
	for _, m := range c.Measures {
		got = append(got, m.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("measures %v, want %v", got, want)
	}
	// series-7's CSV latency median is +103 %: no regression by the rules, but this run's own
	// threshold says ≤ 50 %, so the check fails on that measure.
	if m := c.Measures[0]; m.Rule == nil || m.Pass || c.Status != evidence.StatusFailed {
		t.Errorf("%s = %v %s judged by %v (pass %t), check %s; want it to fail its threshold", m.Name, m.Value, m.Unit, m.Rule, m.Pass, c.Status)
	}
}
