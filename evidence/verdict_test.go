package evidence

import (
	"math"
	"strings"
	"testing"
)

var testRules = map[string]Rule{
	"zero":     {"==", 0, "rows"},
	"le":       {"<=", 2, "s"},
	"ge":       {">=", 50000, "rows/s"},
	"lt":       {"<", 1, ""},
	"gt":       {">", 1, ""},
	"big":      {"==", 268435456, "bytes"},
	"badop":    {"=<", 1, ""},
	"unitless": {"<=", 1, ""},
}

func TestRuleHolds(t *testing.T) {
	for _, tc := range []struct {
		rule Rule
		v    float64
		want bool
	}{
		{Rule{"==", 0, ""}, 0, true},
		{Rule{"==", 0, ""}, 1, false},
		{Rule{"==", 0, ""}, math.Copysign(0, -1), true},
		{Rule{"==", 0, ""}, 1e-300, false}, // exact: no epsilon
		{Rule{"==", 268435456, ""}, 268435456, true},
		{Rule{"==", 268435456, ""}, 268435457, false},
		{Rule{"==", 1 << 53, ""}, 1<<53 + 2, false},
		{Rule{"<=", 2, ""}, 2, true},
		{Rule{"<=", 2, ""}, math.Nextafter(2, 3), false},
		{Rule{">=", 1, ""}, 1, true},
		{Rule{">=", 1, ""}, 0, false},
		{Rule{"<", 1, ""}, 1, false},
		{Rule{"<", 1, ""}, 0.5, true},
		{Rule{">", 1, ""}, 1, false},
		{Rule{">", 1, ""}, 2, true},
		{Rule{"<=", 2, ""}, math.NaN(), false},
		{Rule{">=", 1, ""}, math.NaN(), false},
		{Rule{"==", 0, ""}, math.NaN(), false},
		{Rule{"<=", 2, ""}, math.Inf(1), false},
		{Rule{">=", 1, ""}, math.Inf(1), true},
		{Rule{"~", 1, ""}, 1, false},
		{Rule{"", 1, ""}, 1, false},
	} {
		if got := tc.rule.Holds(tc.v); got != tc.want {
			t.Errorf("%v holds for %v = %t, want %t", tc.rule, tc.v, got, tc.want)
		}
	}
}

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name, unit string
		v          float64
		wantPass   bool
		wantUnit   string
		wantRule   bool
		wantNote   string
	}{
		{name: "zero", v: 0, wantPass: true, wantUnit: "rows", wantRule: true},
		{name: "zero", v: 3, wantPass: false, wantUnit: "rows", wantRule: true},
		{name: "zero", unit: "rows", v: 0, wantPass: true, wantUnit: "rows", wantRule: true},
		{name: "le", unit: "ms", v: 1, wantPass: false, wantUnit: "ms", wantRule: true, wantNote: `unit "ms" does not match`},
		{name: "le", v: 2, wantPass: true, wantUnit: "s", wantRule: true},
		{name: "le", v: 2.001, wantPass: false, wantUnit: "s", wantRule: true},
		{name: "le", v: math.NaN(), wantPass: false, wantUnit: "s", wantRule: true},
		{name: "ge", v: 49999.9, wantPass: false, wantUnit: "rows/s", wantRule: true},
		{name: "ge", v: 50000, wantPass: true, wantUnit: "rows/s", wantRule: true},
		{name: "big", v: 268435456, wantPass: true, wantUnit: "bytes", wantRule: true},
		{name: "unitless", unit: "anything", v: 1, wantPass: true, wantUnit: "anything", wantRule: true},
		{name: "badop", v: 1, wantPass: false, wantRule: true, wantNote: "unknown operator"},
		{name: "info.only", unit: "x", v: 42, wantPass: true, wantUnit: "x"},
		{name: "info.only", v: math.NaN(), wantPass: true},
	} {
		m := Judge(testRules, tc.name, tc.v, tc.unit)
		if m.Pass != tc.wantPass || m.Unit != tc.wantUnit || (m.Rule != nil) != tc.wantRule ||
			!strings.Contains(m.Note, tc.wantNote) || (tc.wantNote == "" && m.Note != "") {
			t.Errorf("Judge(%s, %v, %q) = %+v", tc.name, tc.v, tc.unit, m)
		}
		if m.Rule != nil && *m.Rule != testRules[tc.name] {
			t.Errorf("Judge(%s) recorded rule %v, want %v", tc.name, *m.Rule, testRules[tc.name])
		}
		if m.Name != tc.name || !(m.Value == tc.v || math.IsNaN(tc.v)) {
			t.Errorf("Judge(%s, %v) recorded %s = %v", tc.name, tc.v, m.Name, m.Value)
		}
	}
	// The recorded rule is a copy: changing the thresholds afterwards does not rewrite history.
	rules := map[string]Rule{"a": {"<=", 1, ""}}
	m := Judge(rules, "a", 1, "")
	rules["a"] = Rule{"<=", 0, ""}
	if m.Rule.Value != 1 {
		t.Error("Judge recorded a rule that aliases the thresholds map")
	}
}

func TestNewCheck(t *testing.T) {
	pass := Judge(testRules, "zero", 0, "")
	fail := Judge(testRules, "zero", 1, "")
	info := Judge(testRules, "info", 7, "")
	for _, tc := range []struct {
		name     string
		measures []Measure
		failures []string
		want     Status
	}{
		{"nothing", nil, nil, StatusPassed},
		{"passing measures", []Measure{pass, info}, nil, StatusPassed},
		{"failing measure", []Measure{pass, fail}, nil, StatusFailed},
		{"failure line", []Measure{pass}, []string{"HTTP 500"}, StatusFailed},
		{"forged pass", []Measure{{Name: "zero", Value: 5, Rule: &Rule{"==", 0, ""}, Pass: true}}, nil, StatusFailed},
	} {
		c := NewCheck("A1", "complete", tc.measures, tc.failures)
		if c.Status != tc.want || c.ID != "A1" || c.Title != "complete" {
			t.Errorf("%s: NewCheck = %+v, want status %s", tc.name, c, tc.want)
		}
	}
}

func TestDecide(t *testing.T) {
	passed := func(id string) Check { return NewCheck(id, "", []Measure{Judge(testRules, "zero", 0, "")}, nil) }
	withStatus := func(id string, s Status, failures ...string) Check {
		return Check{ID: id, Status: s, Failures: failures}
	}
	failedMeasure := func(id string, s Status) Check {
		return Check{ID: id, Status: s, Measures: []Measure{Judge(testRules, "le", 9, "")}}
	}
	req := []string{"A1", "A2", "A3"}
	for _, tc := range []struct {
		name     string
		checks   []Check
		required []string
		want     Verdict
	}{
		{"all passed", []Check{passed("A1"), passed("A2"), passed("A3")}, req, Green},
		{"order does not matter", []Check{passed("A3"), passed("A1"), passed("A2")}, req, Green},
		{"extra passed check", []Check{passed("A1"), passed("A2"), passed("A3"), passed("X")}, req, Green},
		{"extra skipped check", []Check{passed("A1"), passed("A2"), passed("A3"), withStatus("X", StatusSkipped)}, req, Green},
		{"one failed", []Check{passed("A1"), NewCheck("A2", "", nil, []string{"boom"}), passed("A3")}, req, Red},
		{"one failed measure", []Check{passed("A1"), failedMeasure("A2", StatusFailed), passed("A3")}, req, Red},
		{"extra check failed", []Check{passed("A1"), passed("A2"), passed("A3"), failedMeasure("X", StatusFailed)}, req, Red},
		{"one skipped", []Check{passed("A1"), withStatus("A2", StatusSkipped), passed("A3")}, req, NotRun},
		{"one not_run", []Check{passed("A1"), withStatus("A2", StatusNotRun), passed("A3")}, req, NotRun},
		{"interrupted", []Check{passed("A1"), withStatus("A2", StatusSkipped, "interrupted by user"), passed("A3")}, req, NotRun},
		{"pending", []Check{passed("A1"), withStatus("A2", StatusSkipped), passed("A3")}, req, NotRun},
		{"required missing", []Check{passed("A1"), passed("A3")}, req, NotRun},
		{"empty checks", nil, req, NotRun},
		{"empty required", []Check{passed("A1")}, nil, NotRun},
		{"nothing at all", nil, nil, NotRun},
		{"unknown status", []Check{passed("A1"), withStatus("A2", "ok"), passed("A3")}, req, NotRun},
		{"empty status", []Check{passed("A1"), withStatus("A2", ""), passed("A3")}, req, NotRun},
		{"failed without evidence", []Check{passed("A1"), withStatus("A2", StatusFailed), passed("A3")}, req, NotRun},
		{"failed beats skipped", []Check{failedMeasure("A1", StatusFailed), withStatus("A2", StatusSkipped), passed("A3")}, req, Red},
		{"failed beats missing", []Check{NewCheck("A1", "", nil, []string{"boom"})}, req, Red},
		{"failed measure in an interrupted check", []Check{passed("A1"), failedMeasure("A2", StatusSkipped), passed("A3")}, req, Red},
		{"reason on a skipped check is not a failure", []Check{passed("A1"), withStatus("A2", StatusSkipped, "target did not start"), passed("A3")}, req, NotRun},
		{"status passed contradicted by failure line", []Check{passed("A1"), withStatus("A2", StatusPassed, "boom"), passed("A3")}, req, Red},
		{"status passed contradicted by measure", []Check{passed("A1"), failedMeasure("A2", StatusPassed), passed("A3")}, req, Red},
		{"forged Pass is re-judged", []Check{passed("A1"), {ID: "A2", Status: StatusPassed, Measures: []Measure{{Name: "le", Value: 9, Unit: "s", Rule: &Rule{"<=", 2, "s"}, Pass: true}}}, passed("A3")}, req, Red},
		{"duplicate ID, one skipped", []Check{passed("A1"), passed("A2"), withStatus("A2", StatusSkipped), passed("A3")}, req, NotRun},
		{"duplicate required ID", []Check{passed("A1")}, []string{"A1", "A1"}, Green},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.checks, tc.required); got != tc.want {
				t.Errorf("Decide = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDecisionSummary(t *testing.T) {
	checks := []Check{
		NewCheck("A1", "", nil, nil),
		NewCheck("A2", "", nil, []string{"x"}),
		{ID: "A3", Status: StatusSkipped},
	}
	for _, tc := range []struct {
		required []string
		want     string
	}{
		{[]string{"A1", "A2", "A3", "A4"}, "1 of 4 required checks passed; 1 failed (A2); 2 did not run (A3, A4)."},
		{[]string{"A1"}, "1 of 1 required checks passed; 1 failed (A2)."},
		{nil, "No required checks were declared, so nothing was proven. Failed: A2."},
	} {
		if got := Explain(checks, tc.required).Summary(); got != tc.want {
			t.Errorf("summary(%v) = %q, want %q", tc.required, got, tc.want)
		}
	}
}

func TestExitCode(t *testing.T) {
	for v, want := range map[Verdict]int{Green: 0, Red: 1, NotRun: 2, "": 2, "green": 2, "PASSED": 2} {
		if got := ExitCode(v); got != want {
			t.Errorf("ExitCode(%q) = %d, want %d", v, got, want)
		}
	}
}
