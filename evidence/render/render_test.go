package render

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/internal/testkit/golden"

	"github.com/exportatscale/exportatscale/evidence"
)

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
				golden.Check(t, filepath.Join("testdata", fx.name+"."+rd.ext+".golden"), first.Bytes())
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
