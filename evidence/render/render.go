package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/human"
)

// normalize fills what a renderer must never print empty: the schema version, the verdict (decided
// from the checks when the caller left it unset) and empty rather than null collections.
func normalize(r evidence.Report) evidence.Report {
	r.SchemaVersion = evidence.SchemaVersion
	if r.Verdict == "" {
		r.Verdict = evidence.Decide(r.Checks, r.Required)
	}
	if r.Thresholds == nil {
		r.Thresholds = map[string]evidence.Rule{}
	}
	if r.Required == nil {
		r.Required = []string{}
	}
	for _, s := range []*[]evidence.Artifact{&r.Monitoring, &r.Artifacts} {
		if *s == nil {
			*s = []evidence.Artifact{}
		}
	}
	if r.Checks == nil {
		r.Checks = []evidence.Check{}
	}
	return r
}

// displayChecks is every check of the report followed by a not_run placeholder for each required
// ID the run never produced, so a missing check is shown rather than silently absent.
func displayChecks(r evidence.Report) []evidence.Check {
	out := slices.Clone(r.Checks)
	for _, id := range r.Required {
		if !slices.ContainsFunc(out, func(c evidence.Check) bool { return c.ID == id }) {
			out = append(out, evidence.Check{ID: id, Status: evidence.StatusNotRun, Failures: []string{"absent from the run"}})
		}
	}
	return out
}

// statusText is how a check reads in the reports: its outcome, which may differ from the status it
// was recorded with (see evidence.Check.Outcome).
func statusText(c evidence.Check) string {
	switch c.Outcome() {
	case evidence.OutcomePassed:
		return "passed"
	case evidence.OutcomeFailed:
		return "FAILED"
	case evidence.OutcomeNotApplicable:
		return "not applicable"
	}
	if c.Status == evidence.StatusFailed {
		return "not run (failed without evidence)"
	}
	if c.Status == "" || c.Status == evidence.StatusNotRun {
		return "not run"
	}
	return "not run (" + string(c.Status) + ")"
}

// checkName is "A1 complete", or just the ID when the title adds nothing.
func checkName(c evidence.Check) string {
	if c.Title == "" || c.Title == c.ID {
		return c.ID
	}
	return c.ID + " " + c.Title
}

// JSON writes the report as indented JSON (evidence.json), with the schema version set.
func JSON(w io.Writer, r evidence.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // keep "<=" readable
	return enc.Encode(normalize(r))
}

// Markdown writes EVIDENCE.md: the verdict line first (evidence.Report.Headline), a one-line
// summary, the key figures, the failures, the waived measures, the reasons for checks that did not
// run and what does not apply to the API or the run; then a table of every check and judged
// measure with its threshold and result, the informational measures (no threshold) apart, notes,
// the environment, the thresholds used (each that differs from the embedded default followed by
// the default, or marked "not a default"), and the monitoring files and artifacts with their
// SHA-256. Every value is formatted for a person by its unit (package evidence/human).
func Markdown(w io.Writer, r evidence.Report) error {
	v := newView(normalize(r))
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# Verdict: %s\n\n", v.Headline)
	p("%s\n\n", v.Summary)
	if v.Report.Verdict != v.Decided {
		p("> **Warning:** the recorded verdict %s does not follow from the checks below, which give %s.\n\n", v.Report.Verdict, v.Decided)
	}

	p("## Key figures\n\n| Figure | Value | Threshold | Measure |\n|---|---|---|---|\n")
	for _, f := range v.Figures {
		rule := f.Rule
		switch f.Class {
		case "fail":
			rule += " **FAIL**"
		case "waived":
			rule += " **WAIVED**"
		case "na":
			rule = "not applicable to this API"
		}
		p("| %s | %s | %s | `%s` |\n", f.Label, mdCell(f.Value), mdCell(rule), f.Measure)
	}
	p("\n")
	writeNotes(&b, "Failures", v.Failures)
	writeNotes(&b, "Waived by the profile", v.Waived)
	writeNotes(&b, "Not run", v.NotRun)
	writeNotes(&b, v.NotApplicableTitle, v.NotApplicable)

	writeChecks(&b, v.Checks)
	if len(v.Informational) > 0 {
		p("## Informational measures\n\nMeasured for information, with no threshold: they do not affect the verdict.\n\n")
		p("| Check | Measure | Value |\n|---|---|---|\n")
		for _, m := range v.Informational {
			p("| %s | %s | %s |\n", mdCell(m.Check), mdCell(m.Name), mdCell(m.Value))
		}
		p("\n")
	}
	writeNotes(&b, "Notes", v.Notes)

	p("## Environment\n\n")
	p("| | |\n|---|---|\n")
	for _, row := range v.Environment {
		p("| %s | %s |\n", row[0], mdCell(row[1]))
	}
	p("\n")

	p("## Thresholds\n\n")
	if len(v.Thresholds) == 0 {
		p("None recorded.\n\n")
	} else {
		p("| Measure | Rule |\n|---|---|\n")
		for _, row := range v.Thresholds {
			p("| %s | %s |\n", mdCell(row[0]), mdCell(row[1]))
		}
		p("\n")
	}

	p("## Monitoring files checked against\n\n")
	writeArtifactTable(&b, v.Report.Monitoring)
	p("## Artifacts\n\n")
	writeArtifactTable(&b, v.Report.Artifacts)
	p("Every file of the bundle, this one included, is listed in `SHA256SUMS`; check it with `evidence verify <dir>`.\n")

	_, err := w.Write(b.Bytes())
	return err
}

// writeChecks writes the table of checks: one row per judged measure, the check's name, status
// and time on its first.
func writeChecks(b *bytes.Buffer, checks []checkRow) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## Checks\n\n")
	p("| Check | Status | Time | Measure | Value | Threshold | Result |\n")
	p("|---|---|---|---|---|---|---|\n")
	for _, c := range checks {
		lead := fmt.Sprintf("| %s | %s | %s ", mdCell(c.Name), c.Status, c.Time)
		if len(c.Measures) == 0 {
			what := "—"
			if c.Informational > 0 {
				what = informationalText(c.Informational)
			}
			p("%s| %s | — | — | — |\n", lead, what)
			continue
		}
		for i, mc := range c.Measures {
			if i > 0 {
				lead = "| | | "
			}
			switch mc.Class {
			case "fail":
				mc.Result = "**FAIL**" + strings.TrimPrefix(mc.Result, "FAIL")
			case "waived":
				mc.Result = "**WAIVED**" + strings.TrimPrefix(mc.Result, "WAIVED")
			}
			p("%s| %s | %s | %s | %s |\n", lead, mdCell(mc.Name), mdCell(mc.Value), mdCell(mc.Threshold), mdCell(mc.Result))
		}
	}
	p("\n")

}

// writeNotes writes a section of one bullet per note, named by its check; nothing when empty.
func writeNotes(b *bytes.Buffer, title string, notes []note) {
	if len(notes) == 0 {
		return
	}
	fmt.Fprintf(b, "## %s\n\n", title)
	for _, n := range notes {
		fmt.Fprintf(b, "- **%s**: %s\n", oneLine(n.Check), oneLine(n.Text))
	}
	b.WriteString("\n")
}

func writeArtifactTable(b *bytes.Buffer, as []evidence.Artifact) {
	if len(as) == 0 {
		b.WriteString("None recorded.\n\n")
		return
	}
	b.WriteString("| File | SHA-256 | Size |\n|---|---|---|\n")
	for _, a := range as {
		fmt.Fprintf(b, "| %s | `%s` | %s |\n", mdCell(a.Path), a.SHA256, human.Bytes(float64(a.Bytes)))
	}
	b.WriteString("\n")
}

// environmentRows are the Environment table of the Markdown and HTML reports: where and against
// what the run happened, label and value.
func environmentRows(r evidence.Report) [][2]string {
	e := r.Environment
	commit := e.GitCommit
	if commit == "" {
		commit = "unknown"
	}
	if e.GitDirty {
		commit += " (dirty: uncommitted changes)"
	}
	duration := "—"
	if !r.Started.IsZero() && !r.Finished.IsZero() {
		duration = human.Duration(r.Finished.Sub(r.Started))
	}
	rows := [][2]string{{"Run ID", r.RunID}, {"Target", e.Target}, {"Target URL", e.TargetURL}}
	if e.Image != "" { // only an image target has a reference of its own
		rows = append(rows, [2]string{"Image", e.Image})
	}
	if t := e.Topology; t != nil { // only a deployment of replicas has one
		rows = append(rows, topologyRows(*t)...)
	}
	return append(rows, [][2]string{{"Image digest", e.ImageDigest}, {"Git commit", commit}, {"Go", e.GoVersion},
		{"Docker", e.DockerVersion}, {"Machine", e.Machine}, {"Started", formatTime(r.Started)},
		{"Finished", formatTime(r.Finished)}, {"Duration", duration}, {"Note", e.Note}}...)
}

// topologyRows describe a deployment of replicas: its proxy, its database, and each replica with
// its share of the exports.
func topologyRows(t evidence.Topology) [][2]string {
	rows := [][2]string{{"Proxy", t.Proxy}, {"Database", t.Database}}
	for _, r := range t.Replicas {
		share := "exports not measured"
		if r.Exports >= 0 {
			share = human.Count(float64(r.Exports), "exports")
		}
		rows = append(rows, [2]string{"Replica " + r.Name, fmt.Sprintf("%s (%s)", r.URL, share)})
	}
	return rows
}

// thresholdRows are the Thresholds table of the Markdown and HTML reports, by measure name: each
// rule, marked where it is not a default or overrides one.
func thresholdRows(r evidence.Report) [][2]string {
	names := make([]string, 0, len(r.Thresholds))
	for name := range r.Thresholds {
		names = append(names, name)
	}
	sort.Strings(names)
	defaults, _ := evidence.LoadThresholds("") // unparsable defaults fail every run long before a render
	rows := make([][2]string, 0, len(names))
	for _, name := range names {
		rule := ruleText(r.Thresholds[name])
		switch d, ok := defaults[name]; {
		case !ok:
			rule += " (not a default)"
		case d != r.Thresholds[name]:
			rule += " (default " + ruleText(d) + ")"
		}
		rows = append(rows, [2]string{name, rule})
	}
	return rows
}
