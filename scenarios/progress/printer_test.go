package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
)

// TestPrinter shows the same run on a terminal and in a CI log: only the terminal redraws lines
// in place and uses colour, only the CI log thins the load lines out, and Quiet prints nothing.
func TestPrinter(t *testing.T) {
	events := []Event{
		{Kind: KindStep, Text: "seeding 3 records into smoke"},
		{Kind: KindSeed, Dataset: "smoke", Done: 1, Total: 3, Rate: 10, ETA: 1500 * time.Millisecond},
		{Kind: KindSeed, Dataset: "smoke", Done: 3, Total: 3, Rate: 12},
		{Kind: KindLoad, Done: 1, Total: 8}, {Kind: KindLoad, Done: 2, Total: 8}, {Kind: KindLoad, Done: 3, Total: 8},
		{Kind: KindLoad, Done: 8, Total: 8},
		{Kind: KindCheck, Check: &Check{ID: "A3", Title: "fast", Status: "failed", Main: "a3.csv_p95_seconds = 3 s (want <= 1 s)"}},
	}
	for _, tt := range []struct {
		name       string
		p          *Printer
		want, lack []string
	}{
		{"terminal", &Printer{TTY: true, Color: true},
			[]string{"\r\x1b[K  seeding smoke: 1/3 records, 10 records/s, ETA 1.5 s", "\r\x1b[K  load: 3/8 exports received", "\x1b[31m✗\x1b[0m A3", "▸ seeding 3 records"}, nil},
		{"CI log", &Printer{},
			[]string{"▸ seeding 3 records into smoke\n", "  seeding smoke: 3/3 records, 12 records/s\n", "  load: 2/8 exports received\n", "  load: 8/8 exports received\n",
				"✗ A3     fast            a3.csv_p95_seconds = 3 s (want <= 1 s)\n"},
			[]string{"\r", "\x1b", "  load: 1/8", "  load: 3/8"}},
		{"quiet", &Printer{Quiet: true}, nil, []string{"seeding", "load", "A3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.p.W = &b
			for _, e := range events {
				tt.p.Handle(e)
			}
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in\n%q", w, out)
				}
			}
			for _, l := range tt.lack {
				if strings.Contains(out, l) {
					t.Errorf("%q in\n%q", l, out)
				}
			}
		})
	}
}

func TestSummary(t *testing.T) {
	rule := &evidence.Rule{Op: "<=", Value: 1, Unit: "s"}
	r := evidence.Report{Verdict: evidence.Red, Required: []string{"A1", "A3", "A4", "A5"}, Checks: []evidence.Check{
		{ID: "A1", Title: "complete", Status: evidence.StatusPassed, Measures: []evidence.Measure{{Name: "a1.missing_rows", Value: 0, Unit: "rows", Rule: &evidence.Rule{Op: "==", Unit: "rows"}, Pass: true}}},
		{ID: "A4", Title: "bounded", Status: evidence.StatusFailed, Measures: []evidence.Measure{
			{Name: "a4.peak_memory_bytes", Value: 312475648, Unit: "bytes", Rule: &evidence.Rule{Op: "<=", Value: 268435456, Unit: "bytes"}}}},
		{ID: "A3", Title: "fast", Status: evidence.StatusFailed, Measures: []evidence.Measure{
			{Name: "a3.pdf_p95_seconds", Value: 0.4, Unit: "s", Rule: rule, Pass: true},
			{Name: "a3.csv_p95_seconds", Value: 3.25, Unit: "s", Rule: rule}}},
		{ID: "F1", Title: "replica killed", Status: evidence.StatusSkipped, Failures: []string{"not a deployment of replicas"}},
	}}
	var b bytes.Buffer
	(&Printer{W: &b, Quiet: true}).Summary(r, "/out/r1/EVIDENCE.md", "/out/r1/EVIDENCE.html")
	for _, w := range []string{
		"  ✓ A1     complete        a1.missing_rows = 0 rows (want == 0 rows)\n",
		"  ✗ A3     fast            a3.csv_p95_seconds = 3.25 s (want <= 1 s)\n",        // the failing measure, not the first
		"  ✗ A4     bounded         a4.peak_memory_bytes = 298 MiB (want <= 256 MiB)\n", // by its unit
		"  – A5                    not run  absent from the run\n",
		"  – F1     replica killed not applicable  not a deployment of replicas\n", // not required of this run
		"verdict: RED\nevidence: /out/r1/EVIDENCE.md\n          /out/r1/EVIDENCE.html\n",
	} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("no %q in\n%s", w, b.String())
		}
	}
}

// TestSummaryProfile: the verdict line says what the profile left out, one line follows per check
// or measure not applicable and per waived measure, each with its reason, and a waived measure is
// never shown as passed. Only a failing measure that is not waived makes the run RED.
func TestSummaryProfile(t *testing.T) {
	zero := &evidence.Rule{Op: "==", Value: 0, Unit: "responses"}
	waived := evidence.Measure{Name: "a5.saturated_without_retry_after", Value: 4, Unit: "responses", Rule: zero,
		Waived: "the API answers overload with 502"}
	held := evidence.Measure{Name: "a5.rate_limited_without_retry_after", Value: 0, Unit: "responses", Rule: zero, Pass: true,
		Waived: "no rate limit to announce"}
	report := func(broken bool) evidence.Report {
		a1 := evidence.NewCheck("A1", "complete", []evidence.Measure{{Name: "a1.missing_rows", Value: 0, Unit: "rows", Rule: &evidence.Rule{Op: "==", Unit: "rows"}, Pass: true},
			evidence.NotApplicableMeasure("a1.trailer_mismatches", "the API writes no trailer")}, nil)
		if broken {
			a1 = evidence.NewCheck("A1", "complete", []evidence.Measure{{Name: "a1.missing_rows", Value: 3, Unit: "rows", Rule: &evidence.Rule{Op: "==", Unit: "rows"}},
				evidence.NotApplicableMeasure("a1.trailer_mismatches", "the API writes no trailer")}, nil)
		}
		r := evidence.Report{Profile: "clickhouse", Required: []string{"A1", "A5"}, Checks: []evidence.Check{a1,
			evidence.NewCheck("A5", "protected", []evidence.Measure{waived, held}, nil),
			{ID: "A6", Title: "observable", Status: evidence.StatusNotApplicable, Reason: "no metrics endpoint"},
		}}
		r.Verdict = evidence.Decide(r.Checks, r.Required)
		return r
	}
	for _, tt := range []struct {
		broken bool
		want   []string
	}{
		{false, []string{
			"  ✓ A5     protected       a5.saturated_without_retry_after = 4 responses (want == 0 responses): WAIVED (breaks its rule): the API answers overload with 502\n",
			"  – A6     observable     not applicable  no metrics endpoint\n",
			"verdict: GREEN — 1 check and 1 measure not applicable to this API, 2 measures waived (profile clickhouse)\n" +
				"  not applicable: A1 a1.trailer_mismatches: the API writes no trailer\n" +
				"  not applicable: A6: no metrics endpoint\n" +
				"  waived: A5 a5.saturated_without_retry_after = 4 responses (want == 0 responses): WAIVED (breaks its rule): the API answers overload with 502\n" +
				"  waived: A5 a5.rate_limited_without_retry_after = 0 responses (want == 0 responses): WAIVED (holds anyway): no rate limit to announce\n" +
				"evidence: /out/EVIDENCE.md\n",
		}},
		{true, []string{
			"  ✗ A1     complete        a1.missing_rows = 3 rows (want == 0 rows)\n",
			"verdict: RED — 1 check and 1 measure not applicable to this API, 2 measures waived (profile clickhouse)\n",
		}},
	} {
		var b bytes.Buffer
		(&Printer{W: &b, Quiet: true}).Summary(report(tt.broken), "/out/EVIDENCE.md")
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("no %q in\n%s", w, b.String())
			}
		}
		for _, line := range strings.Split(b.String(), "\n") {
			for _, name := range []string{waived.Name, held.Name} {
				if _, after, ok := strings.Cut(line, name); ok && strings.Contains(strings.ToLower(after), "pass") {
					t.Errorf("a waived measure shown as passed: %s", line)
				}
			}
		}
	}
	var b bytes.Buffer
	(&Printer{W: &b, Quiet: true, Color: true}).Summary(report(false))
	if !strings.Contains(b.String(), "verdict: \x1b[32;1mGREEN\x1b[0m — 1 check and 1 measure") {
		t.Errorf("verdict line in colour: %q", b.String())
	}
}

// A check marked not applicable shows so in the progress, unless evidence fails it; one the run
// requires all the same is not run in the summary.
func TestCheckOfNotApplicable(t *testing.T) {
	na := evidence.Check{ID: "A6", Title: "observable", Status: evidence.StatusNotApplicable, Reason: "no metrics endpoint"}
	if pc := CheckOf(na); pc.Status != statusNotApplicable || pc.Main != "no metrics endpoint" {
		t.Errorf("%+v", pc)
	}
	failed := na
	failed.Failures = []string{"the scrape broke"}
	if pc := CheckOf(failed); pc.Status != string(evidence.StatusFailed) || pc.Main != "the scrape broke" {
		t.Errorf("%+v", pc)
	}
	var b bytes.Buffer
	(&Printer{W: &b, Quiet: true}).Summary(evidence.Report{Verdict: evidence.NotRun, Required: []string{"A6"}, Checks: []evidence.Check{na}})
	if w := "  – A6     observable     not run  not applicable to this API (no metrics endpoint), yet required\n"; !strings.Contains(b.String(), w) {
		t.Errorf("no %q in\n%s", w, b.String())
	}
}
