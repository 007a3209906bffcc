package evidence

import (
	"fmt"
	"slices"
	"strings"
)

// Judge judges one measured value against the rule named name in thresholds and records that rule
// in the result. A name with no rule is informational: Rule is nil and Pass is true.
//
// An empty unit adopts the rule's unit. A unit that differs from the rule's fails the measure, with
// a Note saying so: a latency in milliseconds must never pass a threshold written in seconds.
func Judge(thresholds map[string]Rule, name string, value float64, unit string) Measure {
	m := Measure{Name: name, Value: value, Unit: unit, Pass: true}
	rule, ok := thresholds[name]
	if !ok {
		return m
	}
	if m.Unit == "" {
		m.Unit = rule.Unit
	}
	m.Rule = &rule
	m.Pass, m.Note = m.Judgement()
	return m
}

// Judgement re-derives whether m passes its recorded rule, and if not for a reason other than its
// value, why. It is the single place a measure is judged, so Judge, Decide and the renderers
// cannot disagree; a renderer reads it rather than trusting Pass. A measure that is not
// applicable has no value to judge and passes; a waived one is judged like any other (whether it
// counts against its check is Fails's business).
func (m Measure) Judgement() (pass bool, note string) {
	switch {
	case m.Rule == nil, m.NotApplicable != "":
		return true, ""
	case !validOp(m.Rule.Op):
		return false, fmt.Sprintf("unknown operator %q", m.Rule.Op)
	case m.Rule.Unit != "" && m.Unit != m.Rule.Unit:
		return false, fmt.Sprintf("unit %q does not match the threshold's unit %q", m.Unit, m.Rule.Unit)
	}
	return m.Rule.Holds(m.Value), ""
}

// Fails reports whether m fails its check: it breaks its rule (Judgement) and is not waived. A
// measure that is not applicable never fails.
func (m Measure) Fails() bool {
	pass, _ := m.Judgement()
	return !pass && m.Waived == ""
}

// NotApplicableMeasure is the measure name that cannot apply to the API the run judged, for the
// reason given: no value, no rule, never failing.
func NotApplicableMeasure(name, reason string) Measure {
	return Measure{Name: name, Pass: true, NotApplicable: reason}
}

// NewCheck builds a check from what was measured: failed if any measure fails it (Fails: a waived
// measure does not) or any failure was recorded, otherwise passed. A check that did not run is
// built by hand with StatusSkipped or StatusNotRun instead, one that cannot apply to the API with
// StatusNotApplicable and a Reason.
func NewCheck(id, title string, measures []Measure, failures []string) Check {
	c := Check{ID: id, Title: title, Status: StatusPassed, Measures: measures, Failures: failures}
	if len(failures) > 0 || slices.ContainsFunc(measures, Measure.Fails) {
		c.Status = StatusFailed
	}
	return c
}

// Outcome is what a check amounts to for the verdict, whatever its recorded Status claims.
type Outcome int

// The outcomes of a check: one per verdict, and not applicable, which counts as not run where the
// check is required and does not count at all where it is not.
const (
	OutcomePassed Outcome = iota
	OutcomeFailed
	OutcomeNotRun
	OutcomeNotApplicable
)

// Outcome derives a check's outcome from its evidence rather than trusting its Status:
//
//   - A measure that fails it (Fails: breaks its rule, re-judged rather than read from Pass, and
//     is not waived) makes the check failed, whatever its Status: a failed measurement is a fact
//     even in a check that was interrupted afterwards, or marked not applicable.
//   - Failure lines make a failed, passed or not_applicable check failed: a not-applicable mark
//     must never hide a defect (its reason is Reason, not a failure line). On a skipped or
//     not_run check they are the reason it did not run, not evidence of a defect.
//   - A check marked failed with no failing measure and no failure line is a claim without evidence:
//     it counts as not run, so it can never be GREEN, but it cannot prove RED either.
//   - Otherwise passed is passed, not_applicable is not applicable, and every other status
//     (skipped, not_run, unknown) is not run.
func (c Check) Outcome() Outcome {
	if slices.ContainsFunc(c.Measures, Measure.Fails) {
		return OutcomeFailed
	}
	switch {
	case (c.Status == StatusFailed || c.Status == StatusPassed || c.Status == StatusNotApplicable) && len(c.Failures) > 0:
		return OutcomeFailed
	case c.Status == StatusPassed:
		return OutcomePassed
	case c.Status == StatusNotApplicable:
		return OutcomeNotApplicable
	}
	return OutcomeNotRun
}

// Decide computes the verdict of a run from its checks. Precedence:
//
//  1. RED if any check — required or not — failed on evidence: a measure that breaks its rule and
//     is not waived, or a failure line on a check that ran or was marked not applicable. A real
//     defect is reported even when other checks did not run; a check marked failed without such
//     evidence does not make RED (see Check.Outcome).
//  2. NOT RUN if required is empty, a required ID is absent from checks, or any check with a
//     required ID did not pass (skipped, pending, interrupted, not_run, not_applicable, or marked
//     failed without evidence).
//  3. GREEN otherwise: every required check is present and passed.
//
// Checks outside required that were skipped or are not applicable do not affect the verdict, nor
// do waived measures.
func Decide(checks []Check, required []string) Verdict {
	return Explain(checks, required).Verdict
}

// Decision is a verdict with the check IDs that led to it, for the renderers' summary line.
type Decision struct {
	Verdict  Verdict
	Required int      // distinct required IDs
	Passed   []string // required IDs that passed
	Failed   []string // IDs (required or not) that failed on evidence
	NotRun   []string // required IDs absent, not run, or not applicable
}

// Explain decides the verdict of a run as Decide does and says which checks led to it.
func Explain(checks []Check, required []string) Decision {
	d := Decision{}
	byID := map[string][]Outcome{}
	for _, c := range checks {
		o := c.Outcome()
		byID[c.ID] = append(byID[c.ID], o)
		if o == OutcomeFailed && !slices.Contains(d.Failed, c.ID) {
			d.Failed = append(d.Failed, c.ID)
		}
	}
	seen := map[string]bool{}
	for _, id := range required {
		if seen[id] {
			continue
		}
		seen[id] = true
		d.Required++
		outs := byID[id]
		switch {
		case slices.Contains(outs, OutcomeFailed):
		case len(outs) > 0 && !slices.ContainsFunc(outs, func(o Outcome) bool { return o != OutcomePassed }):
			d.Passed = append(d.Passed, id)
		default: // absent, not run, or not applicable although required
			d.NotRun = append(d.NotRun, id)
		}
	}
	switch {
	case len(d.Failed) > 0:
		d.Verdict = Red
	case d.Required == 0 || len(d.NotRun) > 0:
		d.Verdict = NotRun
	default:
		d.Verdict = Green
	}
	return d
}

// Summary is the one-line explanation of the decision printed under the verdict.
func (d Decision) Summary() string {
	if d.Required == 0 {
		s := "No required checks were declared, so nothing was proven."
		if len(d.Failed) > 0 {
			s += " Failed: " + strings.Join(d.Failed, ", ") + "."
		}
		return s
	}
	s := fmt.Sprintf("%d of %d required checks passed", len(d.Passed), d.Required)
	if len(d.Failed) > 0 {
		s += fmt.Sprintf("; %d failed (%s)", len(d.Failed), strings.Join(d.Failed, ", "))
	}
	if len(d.NotRun) > 0 {
		s += fmt.Sprintf("; %d did not run (%s)", len(d.NotRun), strings.Join(d.NotRun, ", "))
	}
	return s + "."
}

// ExitCode is the process exit code for a verdict: 0 GREEN, 1 RED, 2 NOT RUN. Anything else is
// not a pass either and maps to 2.
func ExitCode(v Verdict) int {
	switch v {
	case Green:
		return 0
	case Red:
		return 1
	}
	return 2
}
