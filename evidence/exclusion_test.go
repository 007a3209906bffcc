package evidence

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var zeroRule = &Rule{Op: "==", Value: 0, Unit: "answers"}

// broken breaks its rule; waived is the same measure waived by a profile.
var (
	broken = Measure{Name: "a5.saturated_without_retry_after", Value: 4, Unit: "answers", Rule: zeroRule}
	holds  = Measure{Name: "a5.server_errors", Value: 0, Unit: "answers", Rule: zeroRule, Pass: true}
	waived = func() Measure { m := broken; m.Waived = "the API answers overload with 502"; return m }()
	na     = Measure{Name: "a6.unreconciled", Rule: zeroRule, Pass: true, NotApplicable: "no metrics endpoint"}
)

func TestMeasureFails(t *testing.T) {
	for _, tt := range []struct {
		m           Measure
		pass, fails bool
	}{
		{broken, false, true},
		{holds, true, false},
		{waived, false, false}, // judged as it is, but does not count
		{na, true, false},      // no value: nothing to judge
		{NotApplicableMeasure("x", "why"), true, false},
		{func() Measure { m := na; m.Value = 7; return m }(), true, false}, // a stray value is not judged
	} {
		if pass, _ := tt.m.Judgement(); pass != tt.pass || tt.m.Fails() != tt.fails {
			t.Errorf("%+v: judgement %t, fails %t; want %t, %t", tt.m, pass, tt.m.Fails(), tt.pass, tt.fails)
		}
	}
}

func TestOutcomeNotApplicableAndWaived(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    Check
		want Outcome
	}{
		{"not applicable", Check{ID: "A6", Status: StatusNotApplicable, Reason: "no metrics"}, OutcomeNotApplicable},
		{"not applicable, informational measure", Check{ID: "A6", Status: StatusNotApplicable, Reason: "r", Measures: []Measure{{Name: "i", Value: 3, Pass: true}}}, OutcomeNotApplicable},
		{"not applicable hides no failing measure", Check{ID: "A6", Status: StatusNotApplicable, Reason: "r", Measures: []Measure{broken}}, OutcomeFailed},
		{"not applicable hides no failure line", Check{ID: "A6", Status: StatusNotApplicable, Reason: "r", Failures: []string{"scrape broke"}}, OutcomeFailed},
		{"passed with a waived failing measure", Check{ID: "A5", Status: StatusPassed, Measures: []Measure{holds, waived}}, OutcomePassed},
		{"waived does not excuse another", Check{ID: "A5", Status: StatusPassed, Measures: []Measure{waived, broken}}, OutcomeFailed},
		{"passed with a measure not applicable", Check{ID: "A6", Status: StatusPassed, Measures: []Measure{holds, na}}, OutcomePassed},
		{"failed without evidence, a waived measure is none", Check{ID: "A5", Status: StatusFailed, Measures: []Measure{waived}}, OutcomeNotRun},
	} {
		if got := tt.c.Outcome(); got != tt.want {
			t.Errorf("%s: outcome %d, want %d", tt.name, got, tt.want)
		}
	}
	if c := NewCheck("A5", "protected", []Measure{holds, waived}, nil); c.Status != StatusPassed {
		t.Errorf("NewCheck with only a waived measure failing: %s, want passed", c.Status)
	}
	if c := NewCheck("A5", "protected", []Measure{waived, broken}, nil); c.Status != StatusFailed {
		t.Errorf("NewCheck with a measure failing beside a waived one: %s, want failed", c.Status)
	}
}

func TestDecideNotApplicableAndWaived(t *testing.T) {
	a1 := NewCheck("A1", "complete", []Measure{holds}, nil)
	a5 := NewCheck("A5", "protected", []Measure{holds, waived}, nil)
	a6 := Check{ID: "A6", Status: StatusNotApplicable, Reason: "no metrics endpoint"}
	for _, tt := range []struct {
		name     string
		checks   []Check
		required []string
		want     Verdict
	}{
		{"only a waived measure fails", []Check{a1, a5, a6}, []string{"A1", "A5"}, Green},
		{"a measure not waived fails", []Check{a1, NewCheck("A5", "", []Measure{waived, broken}, nil), a6}, []string{"A1", "A5"}, Red},
		{"a not-applicable check required counts as not run", []Check{a1, a6}, []string{"A1", "A6"}, NotRun},
		{"not applicable with a failure line is RED", []Check{a1, {ID: "A6", Status: StatusNotApplicable, Reason: "r", Failures: []string{"x"}}}, []string{"A1"}, Red},
	} {
		if got := Decide(tt.checks, tt.required); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	if d := Explain([]Check{a1, a6}, []string{"A1", "A6"}); !reflect.DeepEqual(d.NotRun, []string{"A6"}) || !reflect.DeepEqual(d.Passed, []string{"A1"}) {
		t.Errorf("required not-applicable check explained as %+v", d)
	}
}

func TestMeasureJSONKeepsExclusions(t *testing.T) {
	for _, m := range []Measure{waived, na} {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var got Measure
		if err := json.Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %+v through %s gave %+v (%v)", m, b, got, err)
		}
	}
	b, _ := json.Marshal(holds)
	if strings.Contains(string(b), "waived") || strings.Contains(string(b), "not_applicable") {
		t.Errorf("a plain measure writes the new fields: %s", b)
	}
	r := Report{Profile: "clickhouse", Checks: []Check{{ID: "A6", Status: StatusNotApplicable, Reason: "no metrics endpoint"}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b, &got); err != nil || got.Profile != "clickhouse" || got.Checks[0].Reason != "no metrics endpoint" ||
		got.Checks[0].Status != StatusNotApplicable {
		t.Errorf("round trip through %s gave %+v (%v)", b, got, err)
	}
}

func TestExclusionLists(t *testing.T) {
	r := Report{Profile: "clickhouse", Required: []string{"A1", "A5", "A4"}, Checks: []Check{
		NewCheck("A1", "complete", []Measure{holds, na}, nil),
		NewCheck("A5", "protected", []Measure{holds, waived, func() Measure { m := holds; m.Waived = "w"; return m }()}, nil),
		{ID: "A6", Status: StatusNotApplicable, Reason: "no metrics endpoint", Measures: []Measure{na, waived}},
		{ID: "F1", Status: StatusNotApplicable, Reason: "r", Failures: []string{"failed anyway"}}, // failed: not listed
		{ID: "A4", Status: StatusNotApplicable, Reason: "url service"},                            // required: not run, not listed
	}}
	wantNA := []Exclusion{{Check: "A1", Measure: "a6.unreconciled", Reason: "no metrics endpoint"}, {Check: "A6", Reason: "no metrics endpoint"}}
	if got := r.NotApplicable(); !reflect.DeepEqual(got, wantNA) {
		t.Errorf("NotApplicable %+v, want %+v", got, wantNA)
	}
	wantW := []Exclusion{{Check: "A5", Measure: waived.Name, Reason: waived.Waived}, {Check: "A5", Measure: holds.Name, Reason: "w", Holds: true}}
	if got := r.Waived(); !reflect.DeepEqual(got, wantW) {
		t.Errorf("Waived %+v, want %+v", got, wantW)
	}
}

func TestHeadline(t *testing.T) {
	naCheck := func(id string) Check { return Check{ID: id, Status: StatusNotApplicable, Reason: "r"} }
	a5 := NewCheck("A5", "protected", []Measure{holds, waived}, nil)
	pass := NewCheck("A1", "complete", []Measure{holds}, nil)
	for _, tt := range []struct {
		r    Report
		want string
	}{
		{Report{Verdict: Green, Required: []string{"A1"}, Checks: []Check{pass}}, "GREEN"},
		{Report{Required: []string{"A1"}, Checks: []Check{pass}}, "GREEN"}, // decided when not recorded
		{Report{Verdict: NotRun}, "NOT RUN"},
		{Report{Verdict: Green, Profile: "clickhouse", Required: []string{"A1"}, Checks: []Check{pass}}, "GREEN (profile clickhouse)"},
		{Report{Verdict: Green, Profile: "clickhouse", Required: []string{"A1"}, Checks: []Check{pass, naCheck("A4"), naCheck("A6"), naCheck("F1"), naCheck("F2")}},
			"GREEN — 4 checks not applicable to this API (profile clickhouse)"},
		{Report{Verdict: Red, Profile: "clickhouse", Required: []string{"A5"}, Checks: []Check{a5, naCheck("A4"), naCheck("A6"), NewCheck("A1", "", []Measure{broken}, nil)}},
			"RED — 2 checks not applicable to this API, 1 measure waived (profile clickhouse)"},
		{Report{Verdict: Green, Profile: "p", Checks: []Check{naCheck("A6"), NewCheck("A1", "", []Measure{na, NotApplicableMeasure("b", "r")}, nil)}},
			"GREEN — 1 check and 2 measures not applicable to this API (profile p)"},
		{Report{Verdict: Green, Checks: []Check{NewCheck("A1", "", []Measure{na}, nil)}}, "GREEN — 1 measure not applicable to this API"},
		{Report{Verdict: Green, Checks: []Check{a5}}, "GREEN — 1 measure waived"},
		{Report{Verdict: NotRun, Required: []string{"A6"}, Checks: []Check{naCheck("A6")}}, "NOT RUN"}, // required: not run, not excluded
	} {
		if got := tt.r.Headline(); got != tt.want {
			t.Errorf("Headline() = %q, want %q", got, tt.want)
		}
	}
}

func TestValidateExclusions(t *testing.T) {
	both := na
	both.Waived = "w"
	r := Report{SchemaVersion: SchemaVersion, Verdict: NotRun, Thresholds: map[string]Rule{na.Name: *zeroRule, "a6.missing_metrics": *zeroRule},
		Checks: []Check{
			{ID: "A6", Status: StatusNotApplicable},
			NewCheck("A1", "", []Measure{both, NotApplicableMeasure("a6.missing_metrics", "no metrics")}, nil),
		}}
	err := r.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"check A6 is not applicable but records no reason", "measure a6.unreconciled is both not applicable and waived"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "a6.missing_metrics") {
		t.Errorf("a measure not applicable without a rule is reported: %v", err)
	}
}
