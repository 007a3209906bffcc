package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/human"
	"io"
	"slices"
	"sort"
	"strings"
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
// was recorded with (see classify).
func statusText(c evidence.Check) string {
	switch c.Outcome() {
	case evidence.OutcomePassed:
		return "passed"
	case evidence.OutcomeFailed:
		return "FAILED"
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

// Markdown writes EVIDENCE.md: the verdict first, a one-line summary, a table of every check
// and measure with its threshold and result, failures and reasons for checks that did not run, the
// environment, the thresholds used (each that differs from the embedded default followed by the
// default, or marked "not a default"), and the monitoring files and artifacts with their SHA-256.
func Markdown(w io.Writer, r evidence.Report) error {
	r = normalize(r)
	d := evidence.Explain(r.Checks, r.Required)
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# Verdict: %s\n\n", r.Verdict)
	p("%s\n\n", d.Summary())
	if r.Verdict != d.Verdict {
		p("> **Warning:** the recorded verdict %s does not follow from the checks below, which give %s.\n\n", r.Verdict, d.Verdict)
	}

	checks := displayChecks(r)
	p("## Checks\n\n")
	p("| Check | Status | Time | Measure | Value | Threshold | Result |\n")
	p("|---|---|---|---|---|---|---|\n")
	for _, c := range checks {
		name := checkName(c)
		if !slices.Contains(r.Required, c.ID) {
			name += " (not required)"
		}
		lead := fmt.Sprintf("| %s | %s | %s ", mdCell(name), statusText(c), formatDuration(c.Duration))
		if len(c.Measures) == 0 {
			p("%s| — | — | — | — |\n", lead)
			continue
		}
		for i, m := range c.Measures {
			if i > 0 {
				lead = "| | | "
			}
			mc := measureCells(m)
			if mc.Class == "fail" {
				mc.Result = "**FAIL**" + strings.TrimPrefix(mc.Result, "FAIL")
			}
			p("%s| %s | %s | %s | %s |\n", lead, mdCell(mc.Name), mdCell(mc.Value), mdCell(mc.Threshold), mdCell(mc.Result))
		}
	}
	p("\n")

	var failed, notRun []evidence.Check
	for _, c := range checks {
		switch c.Outcome() {
		case evidence.OutcomeFailed:
			failed = append(failed, c)
		case evidence.OutcomeNotRun:
			if slices.Contains(r.Required, c.ID) || len(c.Failures) > 0 {
				notRun = append(notRun, c)
			}
		}
	}
	if len(failed) > 0 {
		p("## Failures\n\n")
		for _, c := range failed {
			for _, m := range c.Measures {
				if pass, _ := m.Judgement(); !pass {
					p("- **%s**: %s\n", oneLine(checkName(c)), oneLine(describe(m)))
				}
			}
			for _, f := range c.Failures {
				p("- **%s**: %s\n", oneLine(checkName(c)), oneLine(f))
			}
		}
		p("\n")
	}
	if len(notRun) > 0 {
		p("## Not run\n\n")
		for _, c := range notRun {
			reasons := c.Failures
			if len(reasons) == 0 {
				reasons = []string{statusText(c)}
			}
			for _, f := range reasons {
				p("- **%s**: %s\n", oneLine(checkName(c)), oneLine(f))
			}
		}
		p("\n")
	}

	var noted bool
	for _, c := range checks {
		for _, n := range c.Notes {
			if !noted {
				p("## Notes\n\n")
				noted = true
			}
			p("- **%s**: %s\n", oneLine(checkName(c)), oneLine(n))
		}
	}
	if noted {
		p("\n")
	}

	p("## Environment\n\n")
	p("| | |\n|---|---|\n")
	for _, row := range environmentRows(r) {
		p("| %s | %s |\n", row[0], mdCell(row[1]))
	}
	p("\n")

	p("## Thresholds\n\n")
	if len(r.Thresholds) == 0 {
		p("None recorded.\n\n")
	} else {
		p("| Measure | Rule |\n|---|---|\n")
		for _, row := range thresholdRows(r) {
			p("| %s | %s |\n", mdCell(row[0]), mdCell(row[1]))
		}
		p("\n")
	}

	p("## Monitoring files checked against\n\n")
	writeArtifactTable(&b, r.Monitoring)
	p("## Artifacts\n\n")
	writeArtifactTable(&b, r.Artifacts)
	p("Every file of the bundle, this one included, is listed in `SHA256SUMS`; check it with `evidence verify <dir>`.\n")

	_, err := w.Write(b.Bytes())
	return err
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
