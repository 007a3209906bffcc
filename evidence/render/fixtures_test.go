package render

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
)

// fixedStart is the injected clock of every fixture: renderers must not read a clock of their own.
var fixedStart = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// greenReport is a complete, passing run.
func greenReport(t *testing.T) evidence.Report {
	t.Helper()
	rules, err := evidence.LoadThresholds("")
	if err != nil {
		t.Fatal(err)
	}
	j := func(name string, v float64) evidence.Measure { return evidence.Judge(rules, name, v, "") }
	checks := []evidence.Check{
		evidence.NewCheck("seed", "seed", []evidence.Measure{evidence.Judge(rules, "seed.records", 10000, "records")}, nil),
		evidence.NewCheck("smoke", "smoke", nil, nil),
		evidence.NewCheck("load", "load", []evidence.Measure{evidence.Judge(rules, "load.exports", 200, "exports"), evidence.Judge(rules, "load.rows_per_second", 32361.37245285785, "rows/s")}, nil),
		evidence.NewCheck("A1", "complete", []evidence.Measure{j("a1.missing_rows", 0), j("a1.duplicate_rows", 0), j("a1.mismatched_fields", 0), j("a1.trailer_mismatches", 0), evidence.Judge(rules, "a1.csv_exports", 1412, "exports")}, nil),
		evidence.NewCheck("A2", "well-formed", []evidence.Measure{j("a2.csv_parse_errors", 0), j("a2.pdf_invalid", 0), j("a2.pdf_page_mismatch", 0), j("a2.pdf_missing_ids", 0), j("a2.pdf_header_missing_pages", 0), evidence.Judge(rules, "a2.pdf_exports", 38, "documents")}, nil),
		evidence.NewCheck("A3", "fast", []evidence.Measure{j("a3.csv_p95_seconds", 0.412), j("a3.pdf_p95_seconds", 3.25), j("a3.csv_rows_per_second", 187500.5), j("a3.failed_exports", 0)}, nil),
		evidence.NewCheck("A4", "bounded", []evidence.Measure{j("a4.peak_memory_bytes", 41943040), j("a4.memory_growth_ratio", 0.0625), j("a4.rss_crosscheck_ratio", 1.01)}, nil),
		evidence.NewCheck("A5", "protected", []evidence.Measure{j("a5.rate_limited_without_retry_after", 0), j("a5.saturated_without_retry_after", 0), j("a5.rate_limited_responses", 37), j("a5.saturated_responses", 4), j("a5.server_errors", 0), j("a5.restarts", 0), j("a5.panics_in_logs", 0)}, nil),
		evidence.NewCheck("A6", "observable", []evidence.Measure{j("a6.missing_metrics", 0), j("a6.lint_problems", 0), j("a6.unreconciled", 0)}, nil),
		evidence.NewCheck("capacity", "capacity: the highest sustained exports/s within the SLO", []evidence.Measure{j("capacity.slo_csv_p95_seconds", 0.52),
			j("capacity.slo_pdf_p95_seconds", 3.9), j("capacity.slo_first_byte_p95_seconds", 0.04), j("capacity.slo_failure_share", 0),
			j("capacity.slo_503_share", 0), evidence.Judge(rules, "capacity.knee_exports_per_second", 8.25, "exports/s")}, nil),
	}
	var required []string // the fixture's own checks: every one is required
	for i := range checks {
		checks[i].Duration = time.Duration(i+1) * 1500 * time.Millisecond
		required = append(required, checks[i].ID)
	}
	r := evidence.Report{
		RunID:    "20260314T092653Z-3f2a",
		Started:  fixedStart,
		Finished: fixedStart.Add(3*time.Minute + 25*time.Second + 250*time.Millisecond),
		Environment: evidence.Environment{
			Target:        "container",
			TargetURL:     "http://127.0.0.1:49153",
			ImageDigest:   "sha256:9b2d5f0c0e3c3b8f7f2a4a2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e",
			GitCommit:     "4c1e2a9d7b3f",
			GitDirty:      false,
			GoVersion:     "go1.26.8",
			DockerVersion: "28.1.1",
			Machine:       "linux/amd64, 2 CPUs, 7.7 GiB",
		},
		Thresholds: rules,
		Required:   required,
		Checks:     checks,
		Monitoring: []evidence.Artifact{
			{Path: "alerts/exporter.rules.yml", SHA256: strings.Repeat("ab", 32), Bytes: 4096},
			{Path: "dashboards/exporter.json", SHA256: strings.Repeat("cd", 32), Bytes: 18211},
		},
		Artifacts: []evidence.Artifact{
			{Path: "metrics-before.txt", SHA256: strings.Repeat("01", 32), Bytes: 5120},
		},
	}
	r.Verdict = evidence.Decide(r.Checks, r.Required)
	return r
}

// redReport is a run with a bit of everything: a failed threshold, a failure line with characters
// that need escaping, a measure that could not be taken (NaN), a unit mismatch, an informational
// measure, an interrupted check, a required check that never ran, a dirty tree, and thresholds
// overridden and added by a file.
func redReport(t *testing.T) evidence.Report {
	t.Helper()
	r := greenReport(t)
	r.Thresholds["a4.rss_crosscheck_ratio"] = evidence.Rule{Op: "<=", Value: 4, Unit: "ratio"}
	r.Thresholds["x.custom_ratio"] = evidence.Rule{Op: "<", Value: 0.25}
	j := func(name string, v float64, unit string) evidence.Measure {
		return evidence.Judge(r.Thresholds, name, v, unit)
	}
	r.Environment.GitDirty = true
	r.Environment.Target = "process"
	r.Environment.ImageDigest = ""
	r.Environment.DockerVersion = ""
	r.Environment.Note = "container engine not available | fell back to process"
	r.Checks = r.Checks[:5] // seed, smoke, load, A1, A2
	r.Checks[3] = evidence.NewCheck("A1", "complete",
		[]evidence.Measure{j("a1.missing_rows", 1, ""), j("a1.duplicate_rows", 0, ""), j("a1.mismatched_fields", 2, ""), j("a1.trailer_mismatches", 0, "")},
		[]string{`row id=T-000042 missing`, "field notes of T-000007: got \"=1+2\", want \"'=1+2\"\nsecond line | with pipe"})
	r.Checks[3].Duration = 2 * time.Second
	r.Checks = append(r.Checks,
		evidence.NewCheck("A3", "fast", []evidence.Measure{j("a3.csv_p95_seconds", 2.5, ""), j("a3.pdf_p95_seconds", math.NaN(), ""), j("a3.csv_rows_per_second", 61000, ""), j("a3.failed_exports", 0, ""), j("a3.csv_p50_seconds", 0.125, "s")}, nil),
		evidence.NewCheck("A4", "bounded", []evidence.Measure{j("a4.peak_memory_bytes", 312475648, ""), j("a4.memory_growth_ratio", 1200, "ms")}, nil),
		evidence.Check{ID: "A5", Title: "protected", Status: evidence.StatusSkipped, Failures: []string{"interrupted by user"}, Duration: 750 * time.Millisecond},
	)
	r.Verdict = evidence.Decide(r.Checks, r.Required)
	if r.Verdict != evidence.Red {
		t.Fatalf("fixture verdict %s, want RED", r.Verdict)
	}
	return r
}
