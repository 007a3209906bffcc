package pipeline

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/api"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/harness/target"
)

// Def is one check of the acceptance run: one row of the table, defined in a file of its own
// (check_*.go). Everything that lists checks is derived from the table: the suite's specs, Run.All,
// the self-tests and the required set of the verdict. A new check is one file plus one row.
type Def struct {
	ID    string // the check's ID in the evidence, and the first word of its spec
	Title string // short title in the evidence
	// Spec is the rest of the Ginkgo spec's text: what the check proves, in one line.
	Spec   string
	Labels []string
	// Timeout bounds the spec (0: defaultTimeout).
	Timeout time.Duration
	// Applies says whether the check applies to a run with the given capabilities: "" when it
	// does, else why not. A check that applies is required; one that does not is neither run nor
	// required, and its spec says why it was skipped.
	Applies func(Capabilities) string
	// FromReport marks the check the suite's report makes itself (setup and teardown), which the
	// run cannot measure: it has no spec and Run.All leaves it out, but it is required.
	FromReport bool

	run func(context.Context, *Run) evidence.Check
}

// defaultTimeout bounds a check whose row gives no Timeout.
const defaultTimeout = time.Minute

// Capabilities are what a run can be judged on beyond the common checks, from its target and its
// options.
type Capabilities struct {
	// Replicas: a deployment of replicas behind a proxy, each with metrics of its own (F1).
	Replicas bool
	// Database: a deployment over a database of its own that the harness can restart (F2).
	Database bool
	// Baseline: an earlier run's bundle was given to compare with (baseline).
	Baseline bool
	// Compare: a baseline deployment runs beside the target, for the A/B comparison (regression).
	Compare bool
	// Profile names the profile of the API judged ("" for this repository's v1 API), and Lacks is
	// what the API does not have, from the profile: the zero value lacks nothing.
	Profile string
	Lacks   profile.Capabilities
	// Soak: a soak duration was given (soak).
	Soak bool
}

// API is what the API judged has.
func (c Capabilities) API() profile.Capabilities { return c.Lacks.Missing() }

// Judging is c judging an API that has what has says.
func (c Capabilities) Judging(has profile.Capabilities) Capabilities {
	c.Lacks = has.Missing()
	return c
}

// CapabilitiesOf reads the capabilities of a started target judged through profile p (nil: this
// repository's v1 API); baseline is the --baseline bundle ("" for none).
func CapabilitiesOf(t target.Target, baseline string, p *profile.Profile) Capabilities {
	_, rep := t.(target.Replicated)
	_, src := t.(target.MetricsSource)
	_, db := t.(target.Database)
	return withProfile(Capabilities{Replicas: rep && src, Database: db, Baseline: baseline != ""}, p)
}

// CapabilitiesOfKind are the capabilities a target of kind would have had, for a run whose target
// could not be started: its required set must still name every check the run owed.
func CapabilitiesOfKind(kind target.Kind, baseline string, p *profile.Profile) Capabilities {
	c := kind == target.KindCluster
	return withProfile(Capabilities{Replicas: c, Database: c, Baseline: baseline != ""}, p)
}

// NotApplicableTo is why d does not apply to the API a run with c judges ("" when it applies, or
// when it does not for a reason of the run's, such as no baseline given): such a check is
// recorded as not applicable, with this reason.
func (d Def) NotApplicableTo(c Capabilities) string {
	if d.Applies(c.anyAPI()) != "" {
		return ""
	}
	return d.Applies(c)
}

// anyAPI is c judging an API that declares everything: a row that applies to it but not to c
// does not apply because of the API (not applicable to it), not because of the run.
func (c Capabilities) anyAPI() Capabilities {
	c.Lacks = profile.Capabilities{}
	return c
}

func withProfile(c Capabilities, p *profile.Profile) Capabilities {
	if p == nil {
		p = api.V1Profile()
	}
	c.Profile = p.Name
	return c.Judging(p.Capabilities())
}

// always applies to every run.
func always(Capabilities) string { return "" }

// table is the run, in order: the steps feed the assertions, the faults come after everything
// judged the deployment whole, and the suite's own check last.
var table = []Def{
	seedCheck, smokeCheck, loadCheck,
	a1Check, a2Check, a3Check, a4Check, a5Check, a6Check, capacityCheck,
	soakCheck,
	baselineCheck, regressionCheck, f1Check, f2Check,
	suiteCheck,
}

// Table returns the checks of the run, in order: a fresh slice each call.
func Table() []Def { return slices.Clone(table) }

// Required are the IDs of the checks of defs that apply to caps: what the run must pass to be GREEN.
func Required(defs []Def, caps Capabilities) []string { return applying(defs, caps, true) }

// applying are the IDs of the rows of defs that apply to caps, those the suite's report makes
// included only when fromReport.
func applying(defs []Def, caps Capabilities, fromReport bool) []string {
	var ids []string
	for _, d := range defs {
		if (fromReport || !d.FromReport) && d.Applies(caps) == "" {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

// SpecText is the text of d's spec: its ID first, so the evidence can name the check.
func (d Def) SpecText() string { return d.ID + " " + d.Spec }

// SpecTimeout bounds d's spec.
func (d Def) SpecTimeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return defaultTimeout
}

// define makes a row from a check's two halves: measure returns plain data and no verdict, judge
// turns that data and the thresholds into the check. A measure that lacks what an earlier step
// should have produced returns missing(…) and the check is skipped, never passed; any other
// error fails it.
func define[D any](d Def, measure func(context.Context, *Run) (D, error), judge func(Thresholds, D) evidence.Check) Def {
	d.run = func(ctx context.Context, r *Run) evidence.Check {
		data, err := measure(ctx, r)
		var m missingError
		switch {
		case errors.As(err, &m):
			return skipped(d.ID, d.Title, string(m))
		case err != nil:
			return failed(d.ID, d.Title, err)
		}
		c := judge(r.cfg.Thresholds, data)
		c.ID, c.Title = d.ID, d.Title
		return c
	}
	return d
}

// missingError is what a measure returns when an earlier step did not produce its input.
type missingError string

func (e missingError) Error() string { return string(e) + " is missing" }

func missing(what string) error { return missingError(what) }

// Check runs one row against the run and records its check (for the baseline, which compares
// what was recorded). A row that does not apply to the run's target is not run.
func (r *Run) Check(ctx context.Context, d Def) evidence.Check {
	var c evidence.Check
	switch {
	case d.run == nil:
		c = evidence.Check{ID: d.ID, Title: d.Title, Status: evidence.StatusNotRun,
			Failures: []string{"made by the suite's report, not by the run"}}
	case d.NotApplicableTo(r.caps) != "":
		c = evidence.Check{ID: d.ID, Title: d.Title, Status: evidence.StatusNotApplicable, Reason: d.NotApplicableTo(r.caps)}
	case d.Applies(r.caps) != "":
		c = evidence.Check{ID: d.ID, Title: d.Title, Status: evidence.StatusNotRun, Failures: []string{d.Applies(r.caps)}}
	default:
		c = d.run(ctx, r)
	}
	r.recorded[c.ID] = c
	return c
}

// All runs every check of the run's table that applies, in order, and returns them, for callers
// that are not a Ginkgo suite (the self-tests); a check that does not apply to the API judged is
// among them, not applicable.
func (r *Run) All(ctx context.Context) []evidence.Check {
	var checks []evidence.Check
	for _, d := range r.cfg.Table {
		if d.run == nil || (d.Applies(r.caps) != "" && d.NotApplicableTo(r.caps) == "") {
			continue
		}
		checks = append(checks, r.Check(ctx, d)) // one not applicable to the API is recorded so
	}
	return checks
}

// Planned are the IDs of the checks of defs that a run with caps makes (Run.All): the required
// ones but those the suite's report makes.
func Planned(defs []Def, caps Capabilities) []string { return applying(defs, caps, false) }

// Planned are the IDs of the checks All runs: Planned of its table and capabilities.
func (r *Run) Planned() []string { return Planned(r.cfg.Table, r.caps) }

// skipped is the check of a step that could not run because an earlier one did not produce what
// it needs: not run, never passed.
func skipped(id, title, what string) evidence.Check {
	return evidence.Check{ID: id, Title: title, Status: evidence.StatusSkipped,
		Failures: []string{what + " is missing: an earlier step did not complete, so this cannot be judged"}}
}

// failed is the check of a step that broke off: it names what went wrong.
func failed(id, title string, err error) evidence.Check {
	c := evidence.NewCheck(id, title, nil, []string{err.Error()})
	c.Status = evidence.StatusFailed
	return c
}

// needs is the Applies of a check that needs one capability: without it, why is reason.
func needs(has func(Capabilities) bool, reason string) func(Capabilities) string {
	return func(c Capabilities) string {
		if has(c) {
			return ""
		}
		return reason + ", so the check is not required"
	}
}

// firstOf is the Applies of a check that needs several things: the first reason it does not apply.
func firstOf(applies ...func(Capabilities) string) func(Capabilities) string {
	return func(c Capabilities) string {
		for _, a := range applies {
			if why := a(c); why != "" {
				return why
			}
		}
		return ""
	}
}

// Some runs the rows of the run's table named by ids, in the order given, for callers that
// need only part of the run (the cluster and proxy tests). An ID the table lacks yields a check
// that did not run, saying so.
func (r *Run) Some(ctx context.Context, ids ...string) []evidence.Check {
	var checks []evidence.Check
	for _, id := range ids {
		i := slices.IndexFunc(r.cfg.Table, func(d Def) bool { return d.ID == id })
		if i < 0 {
			checks = append(checks, evidence.Check{ID: id, Status: evidence.StatusNotRun, Failures: []string{"no such check in the table"}})
			continue
		}
		checks = append(checks, r.Check(ctx, r.cfg.Table[i]))
	}
	return checks
}
