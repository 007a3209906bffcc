package pipeline

import (
	"fmt"

	"github.com/exportatscale/exportatscale/evidence"
)

// The judging half of every check. A judge takes what was measured and the thresholds (data, see
// evidence.LoadThresholds) and returns an evidence.Check with every measured value and the rule it
// was judged by.
//
// A check that had nothing to judge (no export verified, no memory sampled) is NOT RUN, never
// passed; a defect found without a dedicated measure (ids out of order, a series that cannot be
// reconciled) is a failure line, which fails the check. A judged measure whose rule is missing
// from the thresholds fails its check too, so a typo or a dropped rule can never pass silently;
// only informational measures (other percentiles, throughputs, counts) may go without a rule.

// Thresholds maps measure names to rules, as evidence.LoadThresholds returns them.
type Thresholds = map[string]evidence.Rule

// maxDetails bounds the explanation lines of one kind a failed check carries.
const maxDetails = 12

// builder collects one check's measures, hard failures and explanations.
type builder struct {
	th       Thresholds
	measures []evidence.Measure
	failures []string // each fails the check
	details  []string // explain a failed measure; attached only when the check failed
	notes    []string // qualify the measures, whatever the status
	notRun   string   // why the check could not be judged
}

func (b *builder) note(s string) { b.notes = append(b.notes, s) }

// measure records a judged measure; without a rule for name the check fails.
func (b *builder) measure(name string, v float64, unit string) {
	if _, ok := b.th[name]; !ok {
		b.fail("no threshold for %s", name)
	}
	b.measures = append(b.measures, evidence.Judge(b.th, name, v, unit))
}

// info records an informational measure, judged only if the thresholds happen to hold a rule for it.
func (b *builder) info(name string, v float64, unit string) {
	b.measures = append(b.measures, evidence.Judge(b.th, name, v, unit))
}

// notApplicable records that the API judged has no measure name, and why.
func (b *builder) notApplicable(name, reason string) {
	b.measures = append(b.measures, evidence.NotApplicableMeasure(name, reason))
}

// waive marks the measure name, recorded already, waived for reason ("" leaves it judged): it
// keeps its value and rule, and shows as waived, never as passed.
func (b *builder) waive(name, reason string) {
	for i := range b.measures {
		if b.measures[i].Name == name && reason != "" {
			b.measures[i].Waived = reason
		}
	}
}

func (b *builder) fail(format string, args ...any) {
	b.failures = append(b.failures, fmt.Sprintf(format, args...))
}

// explain adds up to maxDetails lines of one kind of explanation.
func (b *builder) explain(lines ...string) {
	b.details = append(b.details, lines[:min(len(lines), maxDetails)]...)
}

// check is the judged check, without its ID and title (define sets them from the row). Each list
// of examples explains a failure as explain does.
func (b *builder) check(examples ...[]string) evidence.Check {
	for _, e := range examples {
		b.explain(e...)
	}
	c := evidence.NewCheck("", "", b.measures, b.failures)
	c.Notes = b.notes
	if c.Status == evidence.StatusFailed {
		c.Failures = append(c.Failures, b.details...)
		if len(c.Failures) == 0 {
			for _, m := range c.Measures {
				if !m.Pass && m.Rule != nil {
					c.Failures = append(c.Failures, fmt.Sprintf("%s = %v %s breaks %s %v", m.Name, m.Value, m.Unit, m.Rule.Op, m.Rule.Value))
				}
			}
		}
		return c
	}
	if b.notRun != "" {
		c.Status = evidence.StatusNotRun
		c.Failures = append(c.Failures, b.notRun)
	}
	return c
}
