package evidence

import (
	"errors"
	"fmt"
)

// Validate reports every way r contradicts itself: a wrong schema version, a verdict that does not
// follow from its checks (Decide), a measure whose recorded Pass disagrees with its rule, a measure
// judged by a rule other than the one recorded in Thresholds, or one recorded as informational
// although a threshold exists for it (a value that escaped judgement; a measure that is not
// applicable has no value, and may have no rule); a check not applicable without a reason, or a
// measure both not applicable and waived. render.WriteBundle refuses an invalid report, so an
// edited bundle is what usually fails here.
func (r Report) Validate() error {
	var errs []error
	if r.SchemaVersion != SchemaVersion {
		errs = append(errs, fmt.Errorf("schema version %q, want %q", r.SchemaVersion, SchemaVersion))
	}
	if want := Decide(r.Checks, r.Required); r.Verdict != want {
		errs = append(errs, fmt.Errorf("verdict %q does not follow from the checks, which give %q", r.Verdict, want))
	}
	for _, c := range r.Checks {
		if c.Status == StatusNotApplicable && c.Reason == "" {
			errs = append(errs, fmt.Errorf("check %s is not applicable but records no reason", c.ID))
		}
		for _, m := range c.Measures {
			if pass, _ := m.Judgement(); pass != m.Pass {
				errs = append(errs, fmt.Errorf("check %s: measure %s records pass=%t, its rule gives %t", c.ID, m.Name, m.Pass, pass))
			}
			if m.NotApplicable != "" && m.Waived != "" {
				errs = append(errs, fmt.Errorf("check %s: measure %s is both not applicable and waived", c.ID, m.Name))
			}
			rule, ok := r.Thresholds[m.Name]
			switch {
			case ok && m.Rule == nil && m.NotApplicable != "":
			case ok && m.Rule == nil:
				errs = append(errs, fmt.Errorf("check %s: measure %s has threshold %s but was recorded as informational", c.ID, m.Name, rule))
			case !ok && m.Rule != nil:
				errs = append(errs, fmt.Errorf("check %s: measure %s was judged by %s, which is not among the thresholds", c.ID, m.Name, *m.Rule))
			case ok && *m.Rule != rule:
				errs = append(errs, fmt.Errorf("check %s: measure %s was judged by %s, the thresholds say %s", c.ID, m.Name, *m.Rule, rule))
			}
		}
	}
	return errors.Join(errs...)
}
