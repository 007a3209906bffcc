package pipeline

import (
	"context"
	"maps"
	"slices"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/compare"
)

// baselineInput is this run as its own bundle will be read, and the baseline to compare it with.
type baselineInput struct {
	Dir     string
	Current compare.Bundle
	Rules   compare.Rules
	// keep receives the measures compared, for the report's baseline table.
	keep func([]evidence.Delta)
}

// measureBaseline reads this run as its own bundle will be read: its load samples from the
// load-result.json the Load step wrote, its measures from the checks recorded so far. The rules
// are the embedded ones (evidence/baseline.json).
func measureBaseline(_ context.Context, r *Run) (baselineInput, error) {
	rules, err := compare.DefaultRules()
	if err != nil {
		return baselineInput{}, err
	}
	cur := compare.Bundle{Report: evidence.Report{RunID: r.cfg.Suffix, Environment: evidence.Environment{Target: string(r.cfg.Target.Kind())}}}
	for _, id := range slices.Sorted(maps.Keys(r.recorded)) {
		cur.Report.Checks = append(cur.Report.Checks, r.recorded[id])
	}
	if raw, ok := r.artifacts[compare.FileLoadResult]; ok {
		if cur.Samples, err = compare.ParseSamples(raw); err != nil {
			return baselineInput{}, missingError("this run's " + compare.FileLoadResult + " (" + err.Error() + ")")
		}
	}
	return baselineInput{Dir: r.cfg.Baseline, Current: cur, Rules: rules, keep: func(d []evidence.Delta) { r.baseline = d }}, nil
}

// judgeBaseline judges the comparison: failed on a significant regression, naming the measure;
// not run, never passed, when the baseline cannot be read or either run has no load samples
// (compare.Baseline).
func judgeBaseline(th Thresholds, in baselineInput) evidence.Check {
	check, deltas := compare.Baseline(in.Dir, in.Current, in.Rules, th)
	in.keep(deltas)
	return check
}

// BaselineDeltas are the measures the baseline check compared, for the report's baseline table;
// nil before it ran or when it compared nothing.
func (r *Run) BaselineDeltas() []evidence.Delta { return r.baseline }

// baselineCheck compares this run with an earlier run's bundle (--baseline), after the
// assertions: required when a baseline was given, not run otherwise. It is the coarse, cross-run
// comparison: two runs made at different times differ by the machine as well as by the release.
var baselineCheck = define(Def{ID: compare.CheckID, Title: compare.CheckTitle,
	Spec:    "steady: no measure regressed against the --baseline run (evidence/baseline.json)",
	Labels:  []string{"baseline"},
	Applies: needs(func(c Capabilities) bool { return c.Baseline }, "no --baseline was given")}, measureBaseline, judgeBaseline)
