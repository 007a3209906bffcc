package evidence

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

	"github.com/onsi/ginkgo/v2/types"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedStart is the injected clock of every fixture: renderers must not read a clock of their own.
var fixedStart = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// greenReport is a complete, passing run.
func greenReport(t *testing.T) Report {
	t.Helper()
	rules, err := LoadThresholds("")
	if err != nil {
		t.Fatal(err)
	}
	j := func(name string, v float64) Measure { return Judge(rules, name, v, "") }
	checks := []Check{
		NewCheck("seed", "seed", []Measure{Judge(rules, "seed.records", 10000, "records")}, nil),
		NewCheck("smoke", "smoke", nil, nil),
		NewCheck("load", "load", []Measure{Judge(rules, "load.exports", 200, "exports")}, nil),
		NewCheck("A1", "complete", []Measure{j("a1.missing_rows", 0), j("a1.duplicate_rows", 0), j("a1.mismatched_fields", 0), j("a1.trailer_mismatches", 0)}, nil),
		NewCheck("A2", "well-formed", []Measure{j("a2.csv_parse_errors", 0), j("a2.pdf_invalid", 0), j("a2.pdf_page_mismatch", 0), j("a2.pdf_missing_ids", 0), j("a2.pdf_header_missing_pages", 0)}, nil),
		NewCheck("A3", "fast", []Measure{j("a3.csv_p95_seconds", 0.412), j("a3.pdf_p95_seconds", 3.25), j("a3.csv_rows_per_second", 187500.5), j("a3.failed_exports", 0)}, nil),
		NewCheck("A4", "bounded", []Measure{j("a4.peak_memory_bytes", 41943040), j("a4.memory_growth_ratio", 0.0625), j("a4.rss_crosscheck_ratio", 1.01)}, nil),
		NewCheck("A5", "protected", []Measure{j("a5.rate_limited_without_retry_after", 0), j("a5.saturated_without_retry_after", 0), j("a5.rate_limited_responses", 37), j("a5.saturated_responses", 4), j("a5.server_errors", 0), j("a5.restarts", 0), j("a5.panics_in_logs", 0)}, nil),
		NewCheck("A6", "observable", []Measure{j("a6.missing_metrics", 0), j("a6.lint_problems", 0), j("a6.unreconciled", 0)}, nil),
	}
	for i := range checks {
		checks[i].Duration = time.Duration(i+1) * 1500 * time.Millisecond
	}
	r := Report{
		RunID:    "20260314T092653Z-3f2a",
		Started:  fixedStart,
		Finished: fixedStart.Add(3*time.Minute + 25*time.Second + 250*time.Millisecond),
		Environment: Environment{
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
		Required:   DefaultRequired(),
		Checks:     checks,
		Monitoring: []Artifact{
			{Path: "alerts/exporter.rules.yml", SHA256: strings.Repeat("ab", 32), Bytes: 4096},
			{Path: "dashboards/exporter.json", SHA256: strings.Repeat("cd", 32), Bytes: 18211},
		},
		Artifacts: []Artifact{
			{Path: "metrics-before.txt", SHA256: strings.Repeat("01", 32), Bytes: 5120},
		},
	}
	r.Verdict = Decide(r.Checks, r.Required)
	return r
}

// redReport is a run with a bit of everything: a failed threshold, a failure line with characters
// that need escaping, a measure that could not be taken (NaN), a unit mismatch, an informational
// measure, an interrupted check, a required check that never ran, a dirty tree, and thresholds
// overridden and added by a file.
func redReport(t *testing.T) Report {
	t.Helper()
	r := greenReport(t)
	r.Thresholds["a4.rss_crosscheck_ratio"] = Rule{Op: "<=", Value: 4, Unit: "ratio"}
	r.Thresholds["x.custom_ratio"] = Rule{Op: "<", Value: 0.25}
	j := func(name string, v float64, unit string) Measure { return Judge(r.Thresholds, name, v, unit) }
	r.Environment.GitDirty = true
	r.Environment.Target = "process"
	r.Environment.ImageDigest = ""
	r.Environment.DockerVersion = ""
	r.Environment.Note = "container engine not available | fell back to process"
	r.Checks = r.Checks[:5] // seed, smoke, load, A1, A2
	r.Checks[3] = NewCheck("A1", "complete",
		[]Measure{j("a1.missing_rows", 1, ""), j("a1.duplicate_rows", 0, ""), j("a1.mismatched_fields", 2, ""), j("a1.trailer_mismatches", 0, "")},
		[]string{`row id=T-000042 missing`, "field notes of T-000007: got \"=1+2\", want \"'=1+2\"\nsecond line | with pipe"})
	r.Checks[3].Duration = 2 * time.Second
	r.Checks = append(r.Checks,
		NewCheck("A3", "fast", []Measure{j("a3.csv_p95_seconds", 2.5, ""), j("a3.pdf_p95_seconds", math.NaN(), ""), j("a3.csv_rows_per_second", 61000, ""), j("a3.failed_exports", 0, ""), j("a3.csv_p50_seconds", 0.125, "s")}, nil),
		NewCheck("A4", "bounded", []Measure{j("a4.peak_memory_bytes", 312475648, ""), j("a4.memory_growth_ratio", 1200, "ms")}, nil),
		Check{ID: "A5", Title: "protected", Status: StatusFromGinkgo(types.SpecStateInterrupted), Failures: []string{"interrupted by user"}, Duration: 750 * time.Millisecond},
	)
	r.Verdict = Decide(r.Checks, r.Required)
	if r.Verdict != Red {
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
		render func(*bytes.Buffer, Report) error
	}{
		{"md", func(b *bytes.Buffer, r Report) error { return RenderMarkdown(b, r) }},
		{"json", func(b *bytes.Buffer, r Report) error { return RenderJSON(b, r) }},
		{"junit.xml", func(b *bytes.Buffer, r Report) error { return RenderJUnit(b, r) }},
	}
	for _, fx := range []struct {
		name   string
		report func(*testing.T) Report
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
	for _, r := range []Report{greenReport(t), redReport(t), {}} {
		var b bytes.Buffer
		if err := RenderMarkdown(&b, r); err != nil {
			t.Fatal(err)
		}
		want := "# Verdict: " + string(Decide(r.Checks, r.Required)) + "\n"
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
		render func(io.Writer, Report) error
		want   []string
	}{
		{"markdown", RenderMarkdown, []string{"## Notes\n\n- **A1 complete**: " + note + "\n"}},
		{"html", RenderHTML, []string{`<h2 id="notes">Notes</h2>`, "<li><strong>A1 complete</strong>: " + note + "</li>"}},
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
	if err := RenderMarkdown(&b, redReport(t)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| a4.rss_crosscheck_ratio | <= 4 ratio (default <= 3 ratio) |",
		"| x.custom_ratio | < 0.25 (not a default) |",
		"| a4.memory_growth_ratio | <= 0.5 ratio |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
}

func TestRenderMarkdownWarnsOnContradictoryVerdict(t *testing.T) {
	r := redReport(t)
	r.Verdict = Green
	var b bytes.Buffer
	if err := RenderMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "does not follow from the checks below, which give RED") {
		t.Errorf("no warning for a contradictory verdict:\n%s", b.String())
	}
}

func TestRenderJSONRoundTrip(t *testing.T) {
	for _, r := range []Report{greenReport(t), redReport(t)} {
		var b bytes.Buffer
		if err := RenderJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		var got Report
		if err := json.Unmarshal(b.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		want := normalize(r)
		// NaN != NaN, so compare the re-rendered bytes instead of the values.
		var again bytes.Buffer
		if err := RenderJSON(&again, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), again.Bytes()) {
			t.Errorf("JSON does not round-trip:\n%s\n---\n%s", b.String(), again.String())
		}
		if got.SchemaVersion != SchemaVersion || got.Verdict != want.Verdict || !reflect.DeepEqual(got.Environment, want.Environment) || !got.Started.Equal(want.Started) {
			t.Errorf("round trip lost data: %+v", got)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("round-tripped report does not validate: %v", err)
		}
	}
}

func TestMeasureJSONNonFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, -0.5, 268435456} {
		b, err := json.Marshal(Measure{Name: "m", Value: v})
		if err != nil {
			t.Fatalf("marshal %v: %v", v, err)
		}
		var m Measure
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if !(m.Value == v || math.IsNaN(v) && math.IsNaN(m.Value)) || m.Name != "m" {
			t.Errorf("%v round-tripped through %s to %+v", v, b, m)
		}
	}
	for _, bad := range []string{`{"name":"m"}`, `{"name":"m","value":null}`, `{"name":"m","value":"12"}`, `{"name":"m","value":true}`} {
		var m Measure
		if err := json.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("unmarshal %s: no error", bad)
		}
	}
}

func TestRenderJUnitParses(t *testing.T) {
	var b bytes.Buffer
	if err := RenderJUnit(&b, redReport(t)); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	// seed smoke load A1 A2 A3 A4 A5 + absent A6
	if s := doc.Suite; s.Tests != 9 || s.Failures != 3 || s.Skipped != 2 || len(s.Cases) != 9 {
		t.Errorf("suite counts tests=%d failures=%d skipped=%d cases=%d", s.Tests, s.Failures, s.Skipped, len(s.Cases))
	}
	last := doc.Suite.Cases[8]
	if last.Name != "A6" || last.Skipped == nil || last.Failure != nil {
		t.Errorf("absent required check rendered as %+v", last)
	}
}

func TestRenderJUnitControlCharacters(t *testing.T) {
	r := Report{Required: []string{"A1", "A2"}, Checks: []Check{
		{ID: "A1", Status: StatusSkipped, Failures: []string{"nul \x00 bell \a end ]]> bad \xff"}},
		NewCheck("A2", "x\x01y", []Measure{{Name: "m\x02", Value: 1}}, []string{"esc \x1b[31m"}),
	}}
	var b bytes.Buffer
	if err := RenderJUnit(&b, r); err != nil {
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

func TestMeasureJSONMirrorsMeasure(t *testing.T) {
	// measureJSON must carry every field of Measure, or a field would silently vanish from evidence.json.
	mt, jt := reflect.TypeFor[Measure](), reflect.TypeFor[measureJSON]()
	if mt.NumField() != jt.NumField() {
		t.Fatalf("Measure has %d fields, measureJSON %d", mt.NumField(), jt.NumField())
	}
	for i := range mt.NumField() {
		if mt.Field(i).Name != jt.Field(i).Name || mt.Field(i).Tag != jt.Field(i).Tag {
			t.Errorf("field %d: Measure.%s %s, measureJSON.%s %s", i, mt.Field(i).Name, mt.Field(i).Tag, jt.Field(i).Name, jt.Field(i).Tag)
		}
	}
	m := Measure{Name: "n", Value: 1.5, Unit: "u", Rule: &Rule{"<=", 2, "u"}, Pass: true, Note: "note"}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got Measure
	if err := json.Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("round trip of %+v gave %+v (%v)", m, got, err)
	}
}

func TestFormatFloat(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 2: "2", 0.1: "0.1", 268435456: "268435456", 1e21: "1000000000000000000000",
		-5: "-5", 1.0625: "1.0625", math.Inf(1): "+Inf", math.Inf(-1): "-Inf",
	} {
		if got := formatFloat(v); got != want {
			t.Errorf("formatFloat(%v) = %q, want %q", v, got, want)
		}
	}
	if got := formatFloat(math.NaN()); got != "NaN" {
		t.Errorf("formatFloat(NaN) = %q", got)
	}
	for v, want := range map[float64]string{
		512: "512 bytes", 1024: "1024 bytes (1 KiB)", 268435456: "268435456 bytes (256 MiB)",
		312475648: "312475648 bytes (298 MiB)", 1610612736: "1610612736 bytes (1.5 GiB)",
	} {
		if got := humanBytes(v); got != want {
			t.Errorf("humanBytes(%v) = %q, want %q", v, got, want)
		}
	}
}

// A deployment of replicas shows its proxy, its database and each replica's share of the exports
// in the Environment table; a run against one exporter has none of these rows (the goldens).
func TestEnvironmentRowsTopology(t *testing.T) {
	r := Report{RunID: "r", Environment: Environment{Target: "cluster", Topology: &Topology{
		Proxy: "HAProxy 2.6.12", Database: "PostgreSQL 15.18",
		Replicas: []ReplicaShare{{Name: "replica-1", URL: "http://127.0.0.1:1", Exports: 7}, {Name: "replica-2", URL: "http://127.0.0.1:2", Exports: -1}},
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
