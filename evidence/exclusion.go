package evidence

import (
	"fmt"
	"slices"
	"strings"
)

// Exclusion is a check, or one measure of a check, that the run's profile left out of the verdict:
// not applicable to the API, or waived.
type Exclusion struct {
	Check   string // the check's ID
	Measure string // the measure's name; "" when the whole check is meant
	Reason  string // why, as recorded (Check.Reason, Measure.NotApplicable or Measure.Waived)
	// Holds is, for a waived measure, whether it satisfies its rule anyway (Judgement); false for
	// one that breaks it, and for anything not applicable (which has no value to hold).
	Holds bool
}

// NotApplicable lists what does not apply to the API the run judged, in the order of the checks:
// each check whose outcome is OutcomeNotApplicable and that is not required (a required one counts
// as not run, and is reported as such), then, for every other check, each measure whose
// NotApplicable is set. A not-applicable check's own measures are not listed apart: the check
// covers them. A check marked not applicable that failed on evidence is failed, and not listed.
func (r Report) NotApplicable() []Exclusion {
	var out []Exclusion
	for _, c := range r.Checks {
		if r.excluded(c) {
			out = append(out, Exclusion{Check: c.ID, Reason: c.Reason})
			continue
		}
		for _, m := range c.Measures {
			if m.NotApplicable != "" {
				out = append(out, Exclusion{Check: c.ID, Measure: m.Name, Reason: m.NotApplicable})
			}
		}
	}
	return out
}

// Waived lists every waived measure (Waived set, NotApplicable not) in the order of the checks,
// with whether it holds anyway, but those of a check that NotApplicable lists whole.
func (r Report) Waived() []Exclusion {
	var out []Exclusion
	for _, c := range r.Checks {
		if r.excluded(c) {
			continue
		}
		for _, m := range c.Measures {
			if m.Waived != "" && m.NotApplicable == "" {
				holds, _ := m.Judgement()
				out = append(out, Exclusion{Check: c.ID, Measure: m.Name, Reason: m.Waived, Holds: holds})
			}
		}
	}
	return out
}

// excluded reports whether c as a whole does not apply to the API: its outcome is not applicable
// and the run does not require it.
func (r Report) excluded(c Check) bool {
	return c.Outcome() == OutcomeNotApplicable && !slices.Contains(r.Required, c.ID)
}

// Headline is the verdict line for people: the verdict, then what the profile left out of it, then
// the profile's name.
//
//	GREEN
//	GREEN (profile clickhouse)
//	GREEN — 4 checks not applicable to this API (profile clickhouse)
//	GREEN — 1 check and 2 measures not applicable to this API (profile clickhouse)
//	RED — 2 checks not applicable to this API, 1 measure waived (profile clickhouse)
//
// "checks" counts the checks NotApplicable lists whole, "measures" the measures it lists, "waived"
// the measures Waived lists (held or not). A report without a profile and without any of these
// reads as its bare verdict, as it always did. The verdict is the recorded one, or the one Decide
// gives when none was recorded.
func (r Report) Headline() string {
	v := r.Verdict
	if v == "" {
		v = Decide(r.Checks, r.Required)
	}
	var checks, measures int
	for _, e := range r.NotApplicable() {
		if e.Measure == "" {
			checks++
		} else {
			measures++
		}
	}
	var parts []string
	switch {
	case checks > 0 && measures > 0:
		parts = append(parts, count(checks, "check")+" and "+count(measures, "measure")+" not applicable to this API")
	case checks > 0:
		parts = append(parts, count(checks, "check")+" not applicable to this API")
	case measures > 0:
		parts = append(parts, count(measures, "measure")+" not applicable to this API")
	}
	if n := len(r.Waived()); n > 0 {
		parts = append(parts, count(n, "measure")+" waived")
	}
	s := string(v)
	if len(parts) > 0 {
		s += " — " + strings.Join(parts, ", ")
	}
	if r.Profile != "" {
		s += " (profile " + r.Profile + ")"
	}
	return s
}

// count is "1 check", "4 checks".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
