package compare

import (
	"fmt"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
)

// CheckID is the evidence ID of the baseline check. An acceptance run given a baseline requires
// it; one without does not.
const CheckID = "baseline"

// CheckTitle is the title of the baseline check.
const CheckTitle = "coarse, cross-run: no significant regression against the baseline run"

// BaselineCheck compares the run cur with the baseline bundle in dir by rules and returns the
// check CheckID:
//
//   - failed when any measure regressed, with one failure line per regression naming the measure,
//     both values and the rule;
//   - not run — never passed — when dir is empty, the baseline cannot be read (Load), either side
//     has no load samples, or not one distribution could be tested;
//   - passed otherwise.
//
// Its measures are the relative change of every distribution's median and the test's p-value:
// information, unless thresholds hold a rule under their name (evidence.Judge). The notes name
// the baseline and the rules. The pipeline calls it with the run's own checks and samples; the
// tests call it with bundles read from testdata.
func BaselineCheck(dir string, cur Bundle, rules Rules, thresholds map[string]evidence.Rule) evidence.Check {
	c, _ := Baseline(dir, cur, rules, thresholds)
	return c
}

// Baseline is BaselineCheck that also returns every compared measure as an evidence.Delta, for the
// report's baseline table (EVIDENCE.html); no deltas when nothing was compared.
func Baseline(dir string, cur Bundle, rules Rules, thresholds map[string]evidence.Rule) (evidence.Check, []evidence.Delta) {
	notRun := func(format string, a ...any) (evidence.Check, []evidence.Delta) {
		return evidence.Check{ID: CheckID, Title: CheckTitle, Status: evidence.StatusNotRun, Failures: []string{fmt.Sprintf(format, a...)}}, nil
	}
	if dir == "" {
		return notRun("no baseline bundle was given")
	}
	base, err := Load(dir)
	if err != nil {
		return notRun("the baseline %s cannot be read, so nothing was compared: %v", dir, err)
	}
	if len(base.Samples) == 0 {
		return notRun("the baseline %s has no load samples (%s) to compare with", dir, FileLoadResult)
	}
	if len(cur.Samples) == 0 {
		return notRun("this run has no load samples to compare with the baseline")
	}
	c := Compare(base, cur, rules)

	var measures []evidence.Measure
	var failures, untested []string
	tested := 0
	for _, r := range c.Rows {
		if r.Kind == KindDistribution {
			d, _ := findDistribution(r.Measure)
			if r.Verdict == Untested {
				untested = append(untested, fmt.Sprintf("%s: %s", r.Measure, r.Note))
			} else {
				tested++
			}
			key := "baseline." + d.key
			measures = append(measures,
				evidence.Judge(thresholds, key+"_median_change_percent", 100*r.Change, "%"),
				evidence.Judge(thresholds, key+"_p_value", r.P, "p"))
		}
		if r.Verdict == Regression {
			failures = append(failures, regressionLine(r, c.Rules))
		}
	}
	if tested == 0 {
		return notRun("no distribution could be tested against the baseline %s: %s", dir, strings.Join(untested, "; "))
	}
	check := evidence.NewCheck(CheckID, CheckTitle, measures, failures)
	b := c.Base
	check.Notes = append(check.Notes,
		fmt.Sprintf("baseline: %s (run %s, started %s, target %s, verdict %s)", dir, b.ID, b.Started.UTC().Format(time.RFC3339), b.Target, b.Verdict),
		"judged by evidence/baseline.json: "+c.Rules.String())
	if b.Target != c.New.Target && c.New.Target != "" {
		check.Notes = append(check.Notes, fmt.Sprintf("the baseline ran against a %s target, this run against a %s target", b.Target, c.New.Target))
	}
	if b.Verdict != evidence.Green {
		check.Notes = append(check.Notes, fmt.Sprintf("the baseline's own verdict is %s", b.Verdict))
	}
	if len(untested) > 0 {
		check.Notes = append(check.Notes, "not tested: "+strings.Join(untested, "; "))
	}
	deltas := make([]evidence.Delta, 0, len(c.Rows))
	for _, r := range c.Rows {
		deltas = append(deltas, evidence.Delta{Measure: r.Measure, Unit: r.Unit, Base: r.Base, New: r.New, Delta: r.Delta,
			Verdict: string(r.Verdict), Note: r.Note})
	}
	return check, deltas
}
