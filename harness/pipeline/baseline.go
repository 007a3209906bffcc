package pipeline

import (
	"maps"
	"slices"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/compare"
)

// Baseline compares this run with the baseline bundle in dir and returns the check
// compare.CheckID: failed on a significant regression, naming the measure; not run, never passed,
// when the baseline cannot be read or either run has no load samples (compare.BaselineCheck).
//
// The run is compared as its own bundle will be read: its load samples from the load-result.json
// the Load step wrote, its measures from recorded, the checks recorded so far by ID (the suite's
// record of every step and assertion). It is judged by the embedded rules
// (evidence/baseline.json). Call it after the assertions.
func (r *Run) Baseline(dir string, recorded map[string]evidence.Check) evidence.Check {
	notRun := func(why string) evidence.Check {
		return evidence.Check{ID: compare.CheckID, Title: compare.CheckTitle, Status: evidence.StatusNotRun, Failures: []string{why}}
	}
	rules, err := compare.DefaultRules()
	if err != nil {
		return notRun(err.Error())
	}
	cur := compare.Bundle{Report: evidence.Report{RunID: r.cfg.Suffix, Environment: evidence.Environment{Target: string(r.cfg.Target.Kind())}}}
	for _, id := range slices.Sorted(maps.Keys(recorded)) {
		cur.Report.Checks = append(cur.Report.Checks, recorded[id])
	}
	if raw, ok := r.artifacts[compare.FileLoadResult]; ok {
		if cur.Samples, err = compare.ParseSamples(raw); err != nil {
			return notRun("this run's " + compare.FileLoadResult + ": " + err.Error())
		}
	}
	check, deltas := compare.Baseline(dir, cur, rules, r.cfg.Thresholds)
	r.baseline = deltas
	return check
}

// BaselineDeltas are the measures Baseline compared, for the report's baseline table; nil before
// Baseline ran or when it compared nothing.
func (r *Run) BaselineDeltas() []evidence.Delta { return r.baseline }
