package render

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

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

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update after checking the change):\n%s", name, got)
	}
}

func TestRenderGolden(t *testing.T) {
	renderers := []struct {
		ext    string
		render func(*bytes.Buffer, evidence.Report) error
	}{
		{"md", func(b *bytes.Buffer, r evidence.Report) error { return Markdown(b, r) }},
		{"json", func(b *bytes.Buffer, r evidence.Report) error { return JSON(b, r) }},
		{"junit.xml", func(b *bytes.Buffer, r evidence.Report) error { return JUnit(b, r) }},
	}
	for _, fx := range []struct {
		name   string
		report func(*testing.T) evidence.Report
	}{{"green", greenReport}, {"red", redReport}} {
		for _, rd := range renderers {
			t.Run(fx.name+"."+rd.ext, func(t *testing.T) {
				var first, second bytes.Buffer
				if err := rd.render(&first, fx.report(t)); err != nil {
					t.Fatal(err)
				}
				if err := rd.render(&second, fx.report(t)); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(first.Bytes(), second.Bytes()) {
					t.Fatal("two renders of the same report differ")
				}
				golden(t, fx.name+"."+rd.ext+".golden", first.Bytes())
			})
		}
	}
}

func TestRenderMarkdownVerdictFirst(t *testing.T) {
	for _, r := range []evidence.Report{greenReport(t), redReport(t), {}} {
		var b bytes.Buffer
		if err := Markdown(&b, r); err != nil {
			t.Fatal(err)
		}
		want := "# Verdict: " + string(evidence.Decide(r.Checks, r.Required)) + "\n"
		if !strings.HasPrefix(b.String(), want) {
			t.Errorf("EVIDENCE.md starts %q, want %q", b.String()[:40], want)
		}
	}
}

// TestRenderNotes gives a failed check a note, as A1 diagnosing stripped trailers does: both
// reports show it under Notes, named by its check, beside the check's failures.
func TestRenderNotes(t *testing.T) {
	const note = "trailers stripped by an intermediary: 7 of 7 CSV bodies complete and exact, trailers missing on every export"
	r := redReport(t)
	for i := range r.Checks {
		if r.Checks[i].ID == "A1" {
			r.Checks[i].Notes = []string{note}
		}
	}
	for _, tt := range []struct {
		name   string
		render func(io.Writer, evidence.Report) error
		want   []string
	}{
		{"markdown", Markdown, []string{"## Notes\n\n- **A1 complete**: " + note + "\n"}},
		{"html", HTML, []string{`<h2 id="notes">Notes</h2>`, "<li><strong>A1 complete</strong>: " + note + "</li>"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.render(&b, r); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("no %q in the report", w)
				}
			}
		})
	}
}

func TestRenderMarkdownMarksOverrides(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, redReport(t)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| a4.rss_crosscheck_ratio | <= 400 % (default <= 300 %) |",
		"| x.custom_ratio | < 0.25 (not a default) |",
		"| a4.memory_growth_ratio | <= 50 % |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
}

func TestRenderMarkdownWarnsOnContradictoryVerdict(t *testing.T) {
	r := redReport(t)
	r.Verdict = evidence.Green
	var b bytes.Buffer
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "does not follow from the checks below, which give RED") {
		t.Errorf("no warning for a contradictory verdict:\n%s", b.String())
	}
}

// roundTrip writes r as evidence.json, reads it back and writes what it read again, failing t
// when the two writes differ: NaN != NaN, so the re-rendered bytes are compared instead of the
// values. It returns the first write and the report read from it, for what a test checks further.
func roundTrip(t *testing.T, r evidence.Report) ([]byte, evidence.Report) {
	t.Helper()
	var b bytes.Buffer
	if err := JSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var got evidence.Report
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := JSON(&again, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), again.Bytes()) {
		t.Errorf("JSON does not round-trip:\n%s\n---\n%s", b.String(), again.String())
	}
	return b.Bytes(), got
}

func TestRenderJSONRoundTrip(t *testing.T) {
	for _, r := range []evidence.Report{greenReport(t), redReport(t)} {
		_, got := roundTrip(t, r)
		want := normalize(r)
		if got.SchemaVersion != evidence.SchemaVersion || got.Verdict != want.Verdict || !reflect.DeepEqual(got.Environment, want.Environment) || !got.Started.Equal(want.Started) {
			t.Errorf("round trip lost data: %+v", got)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("round-tripped report does not validate: %v", err)
		}
	}
}

func TestRenderJUnitParses(t *testing.T) {
	var b bytes.Buffer
	if err := JUnit(&b, redReport(t)); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	// seed smoke load A1 A2 A3 A4 A5 + absent A6 and capacity
	if s := doc.Suite; s.Tests != 10 || s.Failures != 3 || s.Skipped != 3 || len(s.Cases) != 10 {
		t.Errorf("suite counts tests=%d failures=%d skipped=%d cases=%d", s.Tests, s.Failures, s.Skipped, len(s.Cases))
	}
	last := doc.Suite.Cases[8]
	if last.Name != "A6" || last.Skipped == nil || last.Failure != nil {
		t.Errorf("absent required check rendered as %+v", last)
	}
}

func TestRenderJUnitControlCharacters(t *testing.T) {
	r := evidence.Report{Required: []string{"A1", "A2"}, Checks: []evidence.Check{
		{ID: "A1", Status: evidence.StatusSkipped, Failures: []string{"nul \x00 bell \a end ]]> bad \xff"}},
		evidence.NewCheck("A2", "x\x01y", []evidence.Measure{{Name: "m\x02", Value: 1}}, []string{"esc \x1b[31m"}),
	}}
	var b bytes.Buffer
	if err := JUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("junit.xml with control characters does not parse: %v\n%s", err, b.String())
	}
	if got := doc.Suite.Cases[0].Skipped.Text; got != "nul \uFFFD bell \uFFFD end ]]> bad \uFFFD" {
		t.Errorf("skipped text %q", got)
	}
}

// A deployment of replicas shows its proxy, its database and each replica's share of the exports
// in the Environment table; a run against one exporter has none of these rows (the goldens).
func TestEnvironmentRowsTopology(t *testing.T) {
	r := evidence.Report{RunID: "r", Environment: evidence.Environment{Target: "cluster", Topology: &evidence.Topology{
		Proxy: "HAProxy 2.6.12", Database: "PostgreSQL 15.18",
		Replicas: []evidence.ReplicaShare{{Name: "replica-1", URL: "http://127.0.0.1:1", Exports: 7}, {Name: "replica-2", URL: "http://127.0.0.1:2", Exports: -1}},
	}}}
	got := map[string]string{}
	for _, row := range environmentRows(r) {
		got[row[0]] = row[1]
	}
	for k, want := range map[string]string{"Proxy": "HAProxy 2.6.12", "Database": "PostgreSQL 15.18",
		"Replica replica-1": "http://127.0.0.1:1 (7 exports)", "Replica replica-2": "http://127.0.0.1:2 (exports not measured)"} {
		if got[k] != want {
			t.Errorf("row %q = %q, want %q", k, got[k], want)
		}
	}
}

// A check that is not required and did not run does not apply to the run: it is listed apart from
// the required checks that did not run, in both renderings, and the verdict stays GREEN.
func TestRenderNotApplicable(t *testing.T) {
	r := greenReport(t)
	r.Checks = append(r.Checks, evidence.Check{ID: "F1", Title: "replica killed", Status: evidence.StatusSkipped,
		Failures: []string{"skipped: F1: the target is not a deployment of replicas"}})
	r.Verdict = evidence.Decide(r.Checks, r.Required)
	if r.Verdict != evidence.Green {
		t.Fatalf("verdict %s", r.Verdict)
	}
	for name, render := range map[string]func(io.Writer, evidence.Report) error{"markdown": Markdown, "html": HTML} {
		var b bytes.Buffer
		if err := render(&b, r); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		i, j := strings.Index(out, "Not applicable to this run"), strings.Index(out, "not a deployment of replicas")
		if i < 0 || j < i || strings.Contains(out, ">Not run<") || strings.Contains(out, "## Not run") {
			t.Errorf("%s: the check that does not apply is not listed as such:\n%s", name, out)
		}
	}
}
