package render

import (
	"slices"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/human"
)

// view is a report as EVIDENCE.md and EVIDENCE.html both show it, formatted for a person, so that
// each renderer only lays it out and the two cannot tell different stories.
type view struct {
	Report   evidence.Report
	Headline string           // the verdict line: the verdict, what the profile left out, the profile
	Summary  string           // the decision in one line
	Decided  evidence.Verdict // the verdict the checks give, shown if it differs from the recorded one

	Figures       []keyFigure // the headline
	Checks        []checkRow  // every check, with its judged measures
	Informational []infoRow   // the measures without a rule, apart from the judged ones
	Failures      []note      // each failed check with what failed: measures, then failure lines
	Waived        []note      // each waived measure, whether it holds, and why it is waived
	NotRun        []note      // why each required check did not run
	// NotApplicable lists, under NotApplicableTitle, what does not apply to the API (the checks and
	// measures of Report.NotApplicable, with their reasons), then why each check that is not
	// required did not run: one list of what the verdict leaves out.
	NotApplicable      []note
	NotApplicableTitle string
	Notes              []note
	Environment        [][2]string
	Thresholds         [][2]string
}

// checkRow is one check of the checks table.
type checkRow struct {
	ID, Name, Status, Time string
	Class                  string  // pass, fail, notrun or na (not applicable to the API)
	Measures               []cells // the judged measures; the informational ones are in view.Informational
	Informational          int     // how many informational measures the check has
}

// infoRow is one informational measure, named by its check.
type infoRow struct {
	Check string
	cells
}

// note is a line of text about a check.
type note struct{ Check, Text string }

// keyFigure is one number of the headline, found by its measure's name among the checks.
type keyFigure struct {
	Label, Measure string
	Value          string // "—" when the run has no such measure
	Rule           string // the threshold, empty for an informational measure or one not applicable
	Class          string // pass, fail, waived, info, na, or missing
}

// headline names the key figures of a run, in the order they open the report: what a person
// asks first. Each is a measure the harness records (harness/pipeline, in its check files).
var headline = []struct{ label, measure string }{
	{"Load throughput", "load.rows_per_second"},
	{"CSV p95 latency", "a3.csv_p95_seconds"},
	{"PDF p95 latency", "a3.pdf_p95_seconds"},
	{"Peak memory", "a4.peak_memory_bytes"},
	{"CSV exports verified", "a1.csv_exports"},
	{"PDF exports verified", "a2.pdf_exports"},
}

// newView formats r, which normalize has filled, for the reports.
func newView(r evidence.Report) view {
	d := evidence.Explain(r.Checks, r.Required)
	v := view{Report: r, Headline: r.Headline(), Summary: d.Summary(), Decided: d.Verdict, Thresholds: thresholdRows(r)}
	v.Figures = keyFigures(r)
	v.exclusions(r)
	var notRequired []note // why each check that is not required did not run: it does not apply to this run
	for _, c := range displayChecks(r) {
		name := checkName(c)
		row := checkRow{ID: c.ID, Name: name, Status: statusText(c), Time: formatDuration(c.Duration)}
		required := slices.Contains(r.Required, c.ID)
		if !required {
			row.Name += " (not required)"
		}
		switch o := c.Outcome(); {
		case o == evidence.OutcomePassed:
			row.Class = "pass"
		case o == evidence.OutcomeFailed:
			row.Class = "fail"
			for _, m := range c.Measures {
				if m.Fails() {
					v.Failures = append(v.Failures, note{name, describe(m)})
				}
			}
			for _, f := range c.Failures {
				v.Failures = append(v.Failures, note{name, f})
			}
		case o == evidence.OutcomeNotApplicable && !required:
			row.Class = "na" // listed by exclusions
		default:
			row.Class = "notrun"
			reasons := c.Failures
			switch {
			case o == evidence.OutcomeNotApplicable:
				row.Status = "not run (not applicable, yet required)"
				reasons = []string{"not applicable to this API (" + orNone(c.Reason) + "), yet required: it counts as not run"}
			case len(reasons) == 0:
				reasons = []string{statusText(c)}
			}
			list := &v.NotRun
			if !required {
				list = &notRequired
			}
			for _, f := range reasons {
				*list = append(*list, note{name, f})
			}
		}
		for _, m := range c.Measures {
			if m.Rule == nil && m.NotApplicable == "" {
				v.Informational = append(v.Informational, infoRow{name, measureCells(m)})
				row.Informational++
				continue
			}
			row.Measures = append(row.Measures, measureCells(m))
		}
		v.Checks = append(v.Checks, row)
		for _, n := range c.Notes {
			v.Notes = append(v.Notes, note{name, n})
		}
	}
	v.notApplicable(notRequired)
	for _, row := range environmentRows(r) {
		if row[1] == "" {
			row[1] = "—"
		}
		v.Environment = append(v.Environment, row)
	}
	return v
}

// exclusions fills the notes of what the run's profile left out of the verdict: what does not
// apply to the API (Report.NotApplicable), and the waived measures (Report.Waived) with whether
// each holds anyway. The checks are named as in the checks table.
func (v *view) exclusions(r evidence.Report) {
	names := map[string]string{}
	measures := map[[2]string]evidence.Measure{}
	for _, c := range r.Checks {
		if _, ok := names[c.ID]; !ok {
			names[c.ID] = checkName(c)
		}
		for _, m := range c.Measures {
			if _, ok := measures[[2]string{c.ID, m.Name}]; !ok {
				measures[[2]string{c.ID, m.Name}] = m
			}
		}
	}
	for _, e := range r.NotApplicable() {
		text := orNone(e.Reason)
		if e.Measure != "" {
			text = e.Measure + ": " + text
		}
		v.NotApplicable = append(v.NotApplicable, note{names[e.Check], text})
	}
	for _, e := range r.Waived() {
		v.Waived = append(v.Waived, note{names[e.Check], describe(measures[[2]string{e.Check, e.Measure}])})
	}
}

// notApplicable appends to the list of what does not apply to the API the checks that are not
// required of this run and did not run, and titles the one list by what it holds.
func (v *view) notApplicable(notRequired []note) {
	api := len(v.NotApplicable) > 0
	v.NotApplicable = append(v.NotApplicable, notRequired...)
	switch {
	case api && len(notRequired) > 0:
		v.NotApplicableTitle = "Not applicable to this API or run"
	case api:
		v.NotApplicableTitle = "Not applicable to this API"
	default:
		v.NotApplicableTitle = "Not applicable to this run"
	}
}

// orNone is a recorded reason, or says there is none.
func orNone(reason string) string {
	if reason == "" {
		return "no reason recorded"
	}
	return reason
}

// keyFigures are the headline's figures as r recorded them: the first measure of each name, or a
// dash where the run has none. A figure is never derived from anything else.
func keyFigures(r evidence.Report) []keyFigure {
	out := make([]keyFigure, 0, len(headline))
	for _, h := range headline {
		f := keyFigure{Label: h.label, Measure: h.measure, Value: "—", Class: "missing"}
	find:
		for _, c := range r.Checks {
			for _, m := range c.Measures {
				if m.Name != h.measure {
					continue
				}
				mc := measureCells(m)
				f.Value, f.Class = mc.Value, mc.Class
				if m.Rule != nil && m.NotApplicable == "" {
					f.Rule = mc.Threshold
				}
				break find
			}
		}
		out = append(out, f)
	}
	return out
}

// informationalText is what a check row shows in place of measures when all it has are
// informational ones, listed apart.
func informationalText(n int) string {
	if n == 1 {
		return "1 informational measure, listed apart"
	}
	return human.Count(float64(n), "informational measures") + ", listed apart"
}
