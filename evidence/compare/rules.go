package compare

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/exportatscale/exportatscale/evidence"
)

// MethodMannWhitneyU names the one test Rules know: the Mann–Whitney U test of
// benchmath.AssumeNothing, which assumes nothing about the shape of a distribution.
const MethodMannWhitneyU = "mann-whitney-u"

// The directions a Rule calls worse.
const (
	Up   = "up"   // a larger value is worse: a latency, a count of failures
	Down = "down" // a smaller value is worse: a rate
)

// Rules are how two runs are compared: the statistical test, and per measure which direction is
// worse and how large a change must be to count. See evidence/baseline.json.
type Rules struct {
	Test Test `json:"test"`
	// Distributions judge the load test's samples, by name (Distributions lists the names).
	Distributions map[string]Rule `json:"distributions"`
	// Counts are compared exactly. Worse may be empty: any change is then reported, never judged.
	Counts map[string]Rule `json:"counts"`
	// Scalars give a single measured value a worse direction and a minimum change; a measure in
	// none of the three maps is information.
	Scalars map[string]Rule `json:"scalars"`
}

// Test is the statistical test of the distributions.
type Test struct {
	Method string  `json:"method"` // MethodMannWhitneyU
	Alpha  float64 `json:"alpha"`  // the test rejects "same distribution" when p < Alpha
}

// Rule judges one measure: Worse is Up or Down, and a change counts once the value (a
// distribution's median) moved at least MinChangePercent that way. Up 200 means at least three
// times the baseline; Down 80 means at most a fifth of it. An improvement needs the same factor
// the other way: a third of the baseline, or five times it (see judge).
type Rule struct {
	Worse            string  `json:"worse,omitempty"`
	MinChangePercent float64 `json:"min_change_percent,omitempty"`
}

// String renders the rule as "up ≥ 200 %", or "any change" for a count without a direction.
func (r Rule) String() string {
	if r.Worse == "" {
		return "any change"
	}
	if r.MinChangePercent == 0 {
		return r.Worse + " is worse"
	}
	return fmt.Sprintf("%s ≥ %s %%", r.Worse, trimFloat(r.MinChangePercent))
}

// judge judges a move from base to cur (both > 0) by the rule: Regression when cur is at least
// MinChangePercent of base beyond it the worse way, Improvement when base is that far beyond cur
// the worse way (what swapping the runs would call a regression), Same otherwise.
func (r Rule) judge(base, cur float64) Verdict {
	worse, better := 100*(cur-base)/base, 100*(base-cur)/cur
	if r.Worse == Down {
		worse, better = 100*(base-cur)/base, 100*(cur-base)/cur
	}
	switch {
	case base == cur:
		return Same
	case worse > 0 && worse >= r.MinChangePercent:
		return Regression
	case better > 0 && better >= r.MinChangePercent:
		return Improvement
	}
	return Same
}

// DefaultRules returns the embedded rules (evidence/baseline.json).
func DefaultRules() (Rules, error) {
	r, err := defaultRules()
	if err != nil {
		return Rules{}, err
	}
	return r.clone(), nil
}

var defaultRules = sync.OnceValues(func() (Rules, error) {
	r, err := ParseRules(evidence.BaselineRules())
	if err != nil {
		return Rules{}, fmt.Errorf("embedded baseline rules: %w", err)
	}
	return r, nil
})

// LoadRules returns the rules in the JSON file at path, or the defaults when path is empty. A file
// replaces the defaults as a whole: the rules a comparison is judged by are then all on one page.
func LoadRules(path string) (Rules, error) {
	if path == "" {
		return DefaultRules()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Rules{}, fmt.Errorf("read baseline rules: %w", err)
	}
	r, err := ParseRules(b)
	if err != nil {
		return Rules{}, fmt.Errorf("baseline rules %s: %w", path, err)
	}
	return r, nil
}

func (r Rules) clone() Rules {
	r.Distributions, r.Counts, r.Scalars = maps.Clone(r.Distributions), maps.Clone(r.Counts), maps.Clone(r.Scalars)
	return r
}

// ParseRules decodes and validates a rules document. Unknown fields, an unknown test or
// distribution, a rule without a direction where one is needed, a minimum change on a count (counts
// are exact) and a measure under two kinds are errors, so a typo cannot silently loosen a rule.
func ParseRules(b []byte) (Rules, error) {
	// Pointers tell a missing minimum apart from a zero one.
	type rawRule struct {
		Worse            string   `json:"worse"`
		MinChangePercent *float64 `json:"min_change_percent"`
	}
	var raw struct {
		Test *struct {
			Method string   `json:"method"`
			Alpha  *float64 `json:"alpha"`
		} `json:"test"`
		Distributions map[string]rawRule `json:"distributions"`
		Counts        map[string]rawRule `json:"counts"`
		Scalars       map[string]rawRule `json:"scalars"`
	}
	if err := evidence.DecodeStrict(b, &raw, "rules"); err != nil {
		return Rules{}, err
	}
	var errs []error
	var r Rules
	switch t := raw.Test; {
	case t == nil:
		errs = append(errs, errors.New("test: missing"))
	case t.Method != MethodMannWhitneyU:
		errs = append(errs, fmt.Errorf("test: unknown method %q (want %q)", t.Method, MethodMannWhitneyU))
	case t.Alpha == nil || !(*t.Alpha > 0 && *t.Alpha < 1):
		errs = append(errs, errors.New("test: alpha must be within (0, 1)"))
	default:
		r.Test = Test{Method: t.Method, Alpha: *t.Alpha}
	}
	seen := map[string]string{}
	section := func(kind string, in map[string]rawRule, needWorse, needMin, allowMin bool) map[string]Rule {
		out := make(map[string]Rule, len(in))
		for _, name := range slices.Sorted(maps.Keys(in)) {
			rr := in[name]
			bad := func(format string, a ...any) {
				errs = append(errs, fmt.Errorf("%s %s: %s", kind, name, fmt.Sprintf(format, a...)))
			}
			if other, dup := seen[name]; dup {
				bad("also listed under %s", other)
				continue
			}
			seen[name] = kind
			rule := Rule{Worse: rr.Worse}
			if rr.MinChangePercent != nil {
				rule.MinChangePercent = *rr.MinChangePercent
			}
			switch {
			case name == "":
				bad("empty measure name")
			case kind == "distributions" && !slices.Contains(Distributions(), name):
				bad("no such distribution (want one of %s)", strings.Join(Distributions(), ", "))
			case rr.Worse != Up && rr.Worse != Down && (needWorse || rr.Worse != ""):
				bad("worse must be %q or %q, not %q", Up, Down, rr.Worse)
			case rr.MinChangePercent != nil && !allowMin:
				bad("counts are compared exactly: no min_change_percent")
			case rr.MinChangePercent == nil && needMin:
				bad("missing min_change_percent")
			case math.IsNaN(rule.MinChangePercent) || math.IsInf(rule.MinChangePercent, 0) || rule.MinChangePercent < 0:
				bad("min_change_percent must be a finite number >= 0")
			case rule.Worse == Down && rule.MinChangePercent >= 100:
				bad("a value cannot fall by %s %% or more", trimFloat(rule.MinChangePercent))
			default:
				out[name] = rule
			}
		}
		return out
	}
	r.Distributions = section("distributions", raw.Distributions, true, true, true)
	r.Counts = section("counts", raw.Counts, false, false, false)
	r.Scalars = section("scalars", raw.Scalars, true, true, true)
	if err := errors.Join(errs...); err != nil {
		return Rules{}, err
	}
	return r, nil
}

// String summarises the rules in one line, for the notes of a check and the head of a table.
func (r Rules) String() string {
	var dist []string
	for _, d := range distributions {
		if rule, ok := r.Distributions[d.name]; ok {
			dist = append(dist, d.label+" "+rule.String())
		}
	}
	worse, any := 0, 0
	for _, rule := range r.Counts {
		if rule.Worse == "" {
			any++
		} else {
			worse++
		}
	}
	s := fmt.Sprintf("Mann–Whitney U (benchmath.AssumeNothing) at α = %s, and the median moves at least: %s; "+
		"counts exact (%d regress when they rise, %d only reported when they change)",
		trimFloat(r.Test.Alpha), strings.Join(dist, ", "), worse, any)
	for _, name := range slices.Sorted(maps.Keys(r.Scalars)) {
		s += fmt.Sprintf("; %s %s", name, r.Scalars[name])
	}
	return s
}
