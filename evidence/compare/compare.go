package compare

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"golang.org/x/perf/benchmath"

	"github.com/exportatscale/exportatscale/evidence"
)

// Kind is how a measure is compared.
type Kind string

// The kinds of measure.
const (
	KindDistribution Kind = "distribution" // the load test's samples: a test and a minimum change
	KindCount        Kind = "count"        // exact
	KindScalar       Kind = "scalar"       // one value: information, or a minimum change
)

// Verdict is the judgement of one measure.
type Verdict string

// The verdicts of a row. Only Regression fails a baseline check.
const (
	Regression  Verdict = "regression"  // worse by the measure's rule
	Improvement Verdict = "improvement" // better by the same rule
	Same        Verdict = "same"        // no change that the rule counts
	Changed     Verdict = "changed"     // a count without a worse direction changed
	Info        Verdict = "info"        // no rule: the delta is shown, not judged
	Untested    Verdict = "untested"    // the rule could not be applied; Note says why
)

// Run describes one side of a comparison.
type Run struct {
	Dir     string
	ID      string
	Started time.Time
	Target  string
	Verdict evidence.Verdict
}

func describe(b Bundle) Run {
	r := b.Report
	return Run{Dir: b.Dir, ID: r.RunID, Started: r.Started, Target: r.Environment.Target, Verdict: r.Verdict}
}

// Row is one measure of both runs, judged. For a distribution Base and New are the medians and
// N1, N2 the sample sizes.
type Row struct {
	Measure string
	Kind    Kind
	Unit    string
	Base    float64
	New     float64
	Delta   float64 // New − Base
	Change  float64 // Delta / |Base|: 0 when both are 0, NaN when only Base is
	P       float64 // the test's p-value (distributions; NaN otherwise)
	N1, N2  int
	Verdict Verdict
	Rule    *Rule // the rule it was judged by; nil for information
	Note    string
}

// Comparison is a new run judged against a baseline run.
type Comparison struct {
	Base, New Run
	Rules     Rules
	Rows      []Row
}

// Regressions are the rows judged Regression, in table order.
func (c Comparison) Regressions() []Row {
	var out []Row
	for _, r := range c.Rows {
		if r.Verdict == Regression {
			out = append(out, r)
		}
	}
	return out
}

// Compare judges cur against base by rules. The rows are the distributions first (those with
// samples on either side), then every measure of base's report that cur's report also has, in
// base's order.
func Compare(base, cur Bundle, rules Rules) Comparison {
	c := Comparison{Base: describe(base), New: describe(cur), Rules: rules}
	for _, d := range distributions {
		b, n := d.values(base.Samples), d.values(cur.Samples)
		if len(b) == 0 && len(n) == 0 {
			continue
		}
		c.Rows = append(c.Rows, compareDistribution(d, b, n, rules))
	}
	have := map[string]evidence.Measure{}
	for _, m := range measures(cur.Report) {
		have[m.Name] = m
	}
	for _, m := range measures(base.Report) {
		if n, ok := have[m.Name]; ok {
			c.Rows = append(c.Rows, compareMeasure(m, n, rules))
		}
	}
	return c
}

// measures are the report's measures, each name once (the first), in check order; a measure not
// applicable to the API has no value, and is left out.
func measures(r evidence.Report) []evidence.Measure {
	var out []evidence.Measure
	seen := map[string]bool{}
	for _, c := range r.Checks {
		for _, m := range c.Measures {
			if m.NotApplicable == "" && !seen[m.Name] {
				seen[m.Name] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// compareDistribution tests b against n and judges the move of the median by d's rule.
func compareDistribution(d distribution, b, n []float64, rules Rules) Row {
	row := Row{Measure: d.name, Kind: KindDistribution, Unit: d.unit, N1: len(b), N2: len(n),
		Base: math.NaN(), New: math.NaN(), P: math.NaN(), Verdict: Untested}
	if rule, ok := rules.Distributions[d.name]; ok {
		row.Rule = &rule
	}
	th := &benchmath.Thresholds{CompareAlpha: rules.Test.Alpha}
	sb, sn := benchmath.NewSample(slices.Clone(b), th), benchmath.NewSample(slices.Clone(n), th)
	if len(b) > 0 {
		row.Base = benchmath.AssumeNothing.Summary(sb, 0.95).Center
	}
	if len(n) > 0 {
		row.New = benchmath.AssumeNothing.Summary(sn, 0.95).Center
	}
	row.Delta, row.Change = delta(row.Base, row.New)
	switch {
	case len(b) == 0:
		row.Note = "no samples in the baseline"
		return row
	case len(n) == 0:
		row.Note = "no samples in the new run"
		return row
	}
	cmp := benchmath.AssumeNothing.Compare(sb, sn)
	row.P = cmp.P
	significant := cmp.P < rules.Test.Alpha
	switch {
	case !significant && len(cmp.Warnings) > 0:
		row.Note = joinErrors(cmp.Warnings)
	case !significant:
		row.Verdict, row.Note = Same, fmt.Sprintf("not significant: p %s ≥ α = %s", pEquals(cmp.P), trimFloat(rules.Test.Alpha))
	case row.Rule == nil:
		row.Verdict, row.Note = Changed, "significant, but no rule says which way is worse"
	case row.Base <= 0 || row.New <= 0:
		row.Note = "a median of 0 or less has no relative change"
	default:
		row.Verdict = row.Rule.judge(row.Base, row.New)
		if row.Verdict == Same {
			row.Note = fmt.Sprintf("significant (p %s), but the median moved less than the rule's %s %%", pEquals(cmp.P), trimFloat(row.Rule.MinChangePercent))
		}
	}
	return row
}

// compareMeasure judges one measure both reports have.
func compareMeasure(b, n evidence.Measure, rules Rules) Row {
	row := Row{Measure: b.Name, Kind: KindScalar, Unit: b.Unit, Base: b.Value, New: n.Value, P: math.NaN(), Verdict: Info}
	row.Delta, row.Change = delta(b.Value, n.Value)
	if rule, ok := rules.Counts[b.Name]; ok {
		row.Kind, row.Rule = KindCount, &rule
	} else if rule, ok := rules.Scalars[b.Name]; ok {
		row.Rule = &rule
	}
	finite := !math.IsNaN(b.Value) && !math.IsInf(b.Value, 0) && !math.IsNaN(n.Value) && !math.IsInf(n.Value, 0)
	switch {
	case b.Unit != n.Unit:
		row.Verdict, row.Note = Untested, fmt.Sprintf("units differ: %q in the baseline, %q in the new run", b.Unit, n.Unit)
	case !finite && row.Rule != nil:
		row.Verdict, row.Note = Untested, "not a finite number"
	case row.Rule == nil:
	case row.Kind == KindCount:
		row.Verdict = judgeCount(*row.Rule, b.Value, n.Value)
	case b.Value <= 0 || n.Value <= 0:
		row.Verdict, row.Note = Untested, "a value of 0 or less has no relative change"
	default:
		row.Verdict = row.Rule.judge(b.Value, n.Value)
	}
	return row
}

// judgeCount compares two counts exactly.
func judgeCount(rule Rule, b, n float64) Verdict {
	switch {
	case b == n:
		return Same
	case rule.Worse == "":
		return Changed
	case (rule.Worse == Up) == (n > b):
		return Regression
	}
	return Improvement
}

func delta(b, n float64) (d, change float64) {
	d = n - b
	switch {
	case d == 0:
		return 0, 0
	case b == 0:
		return d, math.NaN()
	}
	return d, d / math.Abs(b)
}

func joinErrors(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}
