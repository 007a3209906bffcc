package render

import (
	"bytes"
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
)

// The reasons of profileReport, each of which the reports must show.
const (
	reasonNoMetrics   = "the profile maps no metrics endpoint"
	reasonNoResident  = "the API exposes no resident memory figure"
	reasonOverload    = "the API answers overload with 502 and no Retry-After"
	reasonRateLimited = "the API has no rate limit to announce"
)

// profileReport is a GREEN run driven by a profile: A6 does not apply to the API, A4's cross-check
// measure does not either, and A5 has a waived measure that fails its rule and a waived one that
// holds. With fail, A3 also has a measure that fails and is not waived, which makes it RED.
func profileReport(t *testing.T, fail bool) evidence.Report {
	t.Helper()
	r := greenReport(t)
	r.Profile = "clickhouse"
	r.Required = slices.DeleteFunc(r.Required, func(id string) bool { return id == "A6" })
	j := func(name string, v float64) evidence.Measure { return evidence.Judge(r.Thresholds, name, v, "") }
	waive := func(m evidence.Measure, why string) evidence.Measure { m.Waived = why; return m }
	for i, c := range r.Checks {
		switch c.ID {
		case "A3":
			if fail {
				r.Checks[i] = evidence.NewCheck("A3", "fast", []evidence.Measure{j("a3.csv_p95_seconds", 2.5)}, nil)
			}
		case "A4":
			na := evidence.NotApplicableMeasure("a4.rss_crosscheck_ratio", reasonNoResident)
			r.Checks[i] = evidence.NewCheck("A4", "bounded", []evidence.Measure{j("a4.peak_memory_bytes", 41943040), na}, nil)
		case "A5":
			r.Checks[i] = evidence.NewCheck("A5", "protected", []evidence.Measure{
				waive(j("a5.saturated_without_retry_after", 4), reasonOverload),
				waive(j("a5.rate_limited_without_retry_after", 0), reasonRateLimited),
				j("a5.server_errors", 0)}, nil)
		case "A6":
			r.Checks[i] = evidence.Check{ID: "A6", Title: "observable", Status: evidence.StatusNotApplicable, Reason: reasonNoMetrics}
		}
		r.Checks[i].Duration = c.Duration
	}
	r.Verdict = evidence.Decide(r.Checks, r.Required)
	return r
}

func TestProfileVerdict(t *testing.T) {
	for _, tt := range []struct {
		fail     bool
		verdict  evidence.Verdict
		headline string
	}{
		{false, evidence.Green, "GREEN — 1 check and 1 measure not applicable to this API, 2 measures waived (profile clickhouse)"},
		{true, evidence.Red, "RED — 1 check and 1 measure not applicable to this API, 2 measures waived (profile clickhouse)"},
	} {
		r := profileReport(t, tt.fail)
		if r.Verdict != tt.verdict || r.Headline() != tt.headline {
			t.Errorf("fail=%t: %s, %q; want %s, %q", tt.fail, r.Verdict, r.Headline(), tt.verdict, tt.headline)
		}
		if err := normalize(r).Validate(); err != nil {
			t.Errorf("fail=%t: %v", tt.fail, err)
		}
	}
}

// TestRenderProfile: the verdict line, each exclusion with its reason, and each waived measure as
// WAIVED with its reason, in both reports.
func TestRenderProfile(t *testing.T) {
	r := profileReport(t, false)
	for _, tt := range []struct {
		name   string
		render func(io.Writer, evidence.Report) error
		want   []string
	}{
		{"markdown", Markdown, []string{
			"# Verdict: GREEN — 1 check and 1 measure not applicable to this API, 2 measures waived (profile clickhouse)\n",
			"## Waived by the profile\n\n" +
				"- **A5 protected**: a5.saturated_without_retry_after = 4 responses (want == 0 responses): WAIVED (breaks its rule): " + reasonOverload + "\n" +
				"- **A5 protected**: a5.rate_limited_without_retry_after = 0 responses (want == 0 responses): WAIVED (holds anyway): " + reasonRateLimited + "\n",
			"## Not applicable to this API\n\n- **A4 bounded**: a4.rss_crosscheck_ratio: " + reasonNoResident + "\n- **A6 observable**: " + reasonNoMetrics + "\n",
			"| A6 observable (not required) | not applicable | 13.5 s | — | — | — | — |\n",
			"| | | | a4.rss_crosscheck_ratio | — | — | not applicable to this API: " + reasonNoResident + " |\n",
			"| a5.saturated_without_retry_after | 4 responses | == 0 responses | **WAIVED** (breaks its rule): " + reasonOverload + " |\n",
		}},
		{"html", HTML, []string{
			"<h1>Verdict: GREEN — 1 check and 1 measure not applicable to this API, 2 measures waived (profile clickhouse)</h1>",
			`<h2 id="waived">Waived by the profile</h2>`,
			"<li><strong>A5 protected</strong>: a5.saturated_without_retry_after = 4 responses (want == 0 responses): WAIVED (breaks its rule): " + reasonOverload + "</li>",
			`<h2 id="not-applicable">Not applicable to this API</h2>`,
			"<li><strong>A6 observable</strong>: " + reasonNoMetrics + "</li>",
			"<li><strong>A4 bounded</strong>: a4.rss_crosscheck_ratio: " + reasonNoResident + "</li>",
			`<td class="check-na">A6 observable (not required)</td><td class="na">not applicable</td>`,
			`<td class="na">not applicable to this API: ` + reasonNoResident + "</td>",
			`<td class="waived">WAIVED (breaks its rule): ` + reasonOverload + "</td>",
			`<td class="waived">WAIVED (holds anyway): ` + reasonRateLimited + "</td>",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.render(&b, r); err != nil {
				t.Fatal(err)
			}
			out := strings.ReplaceAll(b.String(), "&lt;", "<") // html/template escapes "<" in text
			out = strings.ReplaceAll(out, "&#43;", "+")
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in\n%s", w, out)
				}
			}
			if strings.Count(out, "Not applicable to this") != 1 {
				t.Errorf("not one list of what does not apply:\n%s", out)
			}
			neverPassed(t, out)
		})
	}
}

// neverPassed fails t when what follows a waived measure's name on a line of out (its value,
// threshold and result; the check's own status comes before it) says PASS or passed.
func neverPassed(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		for _, name := range []string{"a5.saturated_without_retry_after", "a5.rate_limited_without_retry_after"} {
			if _, after, ok := strings.Cut(line, name); ok && strings.Contains(strings.ToLower(after), "pass") {
				t.Errorf("a waived measure shown as passed: %s", line)
			}
		}
	}
}

// A waived key figure reads WAIVED, never a plain pass or a FAIL; one not applicable reads so.
func TestRenderProfileKeyFigures(t *testing.T) {
	r := profileReport(t, false)
	for i, c := range r.Checks {
		switch c.ID {
		case "A3":
			m := evidence.Judge(r.Thresholds, "a3.pdf_p95_seconds", 7.5, "")
			m.Waived = "the PDF renderer is the vendor's"
			r.Checks[i] = evidence.NewCheck("A3", "fast", []evidence.Measure{m}, nil)
		case "A4":
			r.Checks[i] = evidence.NewCheck("A4", "bounded", []evidence.Measure{evidence.NotApplicableMeasure("a4.peak_memory_bytes", reasonNoResident)}, nil)
		}
	}
	r.Verdict = evidence.Decide(r.Checks, r.Required)
	var md, html bytes.Buffer
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&html, r); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"| PDF p95 latency | 7.5 s | <= 5 s **WAIVED** | `a3.pdf_p95_seconds` |", "| Peak memory | — | not applicable to this API | `a4.peak_memory_bytes` |"} {
		if !strings.Contains(md.String(), w) {
			t.Errorf("no %q in\n%s", w, md.String())
		}
	}
	for _, w := range []string{`<div class="kf waived"><span class="kf-label">PDF p95 latency</span><span class="kf-value">7.5 s</span><span class="kf-rule">WAIVED: want &lt;= 5 s</span>`,
		`<div class="kf na"><span class="kf-label">Peak memory</span><span class="kf-value">—</span><span class="kf-rule">not applicable to this API</span>`} {
		if !strings.Contains(html.String(), w) {
			t.Errorf("no %q in\n%s", w, html.String())
		}
	}
}

// A check not applicable to the API and one not required of the run share one list; a check not
// applicable yet required is not run, and says why.
func TestRenderNotApplicableMerged(t *testing.T) {
	r := profileReport(t, false)
	r.Checks = append(r.Checks, evidence.Check{ID: "F1", Title: "replica killed", Status: evidence.StatusSkipped,
		Failures: []string{"the target is not a deployment of replicas"}},
		evidence.Check{ID: "F2", Title: "resumed", Status: evidence.StatusNotApplicable, Reason: "the API has no resume option"})
	r.Required = append(r.Required, "F2")
	r.Verdict = evidence.Decide(r.Checks, r.Required)
	var b bytes.Buffer
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"# Verdict: NOT RUN — 1 check and 1 measure not applicable to this API, 2 measures waived (profile clickhouse)\n",
		"## Not run\n\n- **F2 resumed**: not applicable to this API (the API has no resume option), yet required: it counts as not run\n",
		"## Not applicable to this API or run\n\n- **A4 bounded**: a4.rss_crosscheck_ratio: " + reasonNoResident + "\n- **A6 observable**: " + reasonNoMetrics +
			"\n- **F1 replica killed**: the target is not a deployment of replicas\n",
		"| F2 resumed | not run (not applicable, yet required) |",
	} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("no %q in\n%s", w, b.String())
		}
	}
}

// junit.xml skips a check not applicable to the API, with its reason, and lists a waived measure
// as WAIVED among the passing check's measures, not as a failure.
func TestRenderJUnitProfile(t *testing.T) {
	var b bytes.Buffer
	if err := JUnit(&b, profileReport(t, false)); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if s := doc.Suite; s.Failures != 0 || s.Skipped != 1 {
		t.Errorf("failures %d, skipped %d; want 0, 1", s.Failures, s.Skipped)
	}
	for _, c := range doc.Suite.Cases {
		switch c.Name {
		case "A6 observable":
			if c.Skipped == nil || c.Skipped.Message != "not applicable to this API" || c.Skipped.Text != reasonNoMetrics {
				t.Errorf("A6 as %+v", c.Skipped)
			}
		case "A5 protected":
			if c.Failure != nil || c.SystemOut == nil || !strings.Contains(c.SystemOut.Text, "WAIVED (breaks its rule): "+reasonOverload) {
				t.Errorf("A5 as %+v", c)
			}
		}
	}
}
