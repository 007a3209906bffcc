package ginkgoreport

import (
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/pipeline"
)

func spec(node types.NodeType, text string, state types.SpecState, msg string) types.SpecReport {
	return types.SpecReport{LeafNodeType: node, LeafNodeText: text, State: state, Failure: types.Failure{Message: msg}}
}

func TestChecks(t *testing.T) {
	it := types.NodeTypeIt
	passed := evidence.NewCheck("A1", "complete", nil, nil)
	failedMeasure := evidence.NewCheck("A1", "complete", []evidence.Measure{evidence.Judge(map[string]evidence.Rule{"x": {Op: "==", Value: 0}}, "x", 1, "")}, nil)
	required := []string{"A1", "A2", pipeline.SuiteCheckID}
	tests := []struct {
		name     string
		specs    []types.SpecReport
		recorded map[string]evidence.Check
		verdict  evidence.Verdict
		status   map[string]evidence.Status
	}{
		{"all passed and recorded", []types.SpecReport{spec(it, "A1 complete", types.SpecStatePassed, ""), spec(it, "A2 well-formed", types.SpecStatePassed, "")},
			map[string]evidence.Check{"A1": passed, "A2": evidence.NewCheck("A2", "well-formed", nil, nil)}, evidence.Green,
			map[string]evidence.Status{"A1": evidence.StatusPassed, "A2": evidence.StatusPassed, pipeline.SuiteCheckID: evidence.StatusPassed}},
		{"passed without measurements", []types.SpecReport{spec(it, "A1 complete", types.SpecStatePassed, ""), spec(it, "A2 well-formed", types.SpecStatePassed, "")},
			map[string]evidence.Check{"A1": passed}, evidence.NotRun, map[string]evidence.Status{"A2": evidence.StatusNotRun}},
		{"spec failed", []types.SpecReport{spec(it, "A1 complete", types.SpecStateFailed, "boom"), spec(it, "A2 well-formed", types.SpecStatePassed, "")},
			map[string]evidence.Check{"A1": failedMeasure, "A2": evidence.NewCheck("A2", "", nil, nil)}, evidence.Red, map[string]evidence.Status{"A1": evidence.StatusFailed}},
		{"spec failed but its check was recorded as passed", []types.SpecReport{spec(it, "A1 complete", types.SpecStateFailed, "boom"), spec(it, "A2 well-formed", types.SpecStatePassed, "")},
			map[string]evidence.Check{"A1": passed, "A2": evidence.NewCheck("A2", "", nil, nil)}, evidence.Red, map[string]evidence.Status{"A1": evidence.StatusFailed}},
		{"spec skipped", []types.SpecReport{spec(it, "A1 complete", types.SpecStateSkipped, "no data"), spec(it, "A2 well-formed", types.SpecStatePassed, "")},
			map[string]evidence.Check{"A1": passed, "A2": evidence.NewCheck("A2", "", nil, nil)}, evidence.NotRun, map[string]evidence.Status{"A1": evidence.StatusSkipped}},
		{"interrupted", []types.SpecReport{spec(it, "A1 complete", types.SpecStateInterrupted, "signal"), spec(it, "A2 well-formed", types.SpecStatePassed, "")},
			map[string]evidence.Check{"A1": passed, "A2": evidence.NewCheck("A2", "", nil, nil)}, evidence.NotRun, map[string]evidence.Status{"A1": evidence.StatusSkipped}},
		{"setup failed", []types.SpecReport{spec(types.NodeTypeBeforeSuite, "", types.SpecStateFailed, "no engine")},
			nil, evidence.NotRun, map[string]evidence.Status{"A1": evidence.StatusNotRun, "A2": evidence.StatusNotRun, pipeline.SuiteCheckID: evidence.StatusNotRun}},
		{"cleanup failed", []types.SpecReport{spec(it, "A1 complete", types.SpecStatePassed, ""), spec(it, "A2 well-formed", types.SpecStatePassed, ""),
			spec(types.NodeTypeCleanupAfterSuite, "", types.SpecStateFailed, "exporter exited with 1 after SIGTERM")},
			map[string]evidence.Check{"A1": passed, "A2": evidence.NewCheck("A2", "", nil, nil)}, evidence.Red, map[string]evidence.Status{pipeline.SuiteCheckID: evidence.StatusFailed}},
		{"after-suite interrupted", []types.SpecReport{spec(it, "A1 complete", types.SpecStatePassed, ""), spec(it, "A2 well-formed", types.SpecStatePassed, ""),
			spec(types.NodeTypeAfterSuite, "", types.SpecStateInterrupted, "")},
			map[string]evidence.Check{"A1": passed, "A2": evidence.NewCheck("A2", "", nil, nil)}, evidence.NotRun, map[string]evidence.Status{pipeline.SuiteCheckID: evidence.StatusSkipped}},
		{"not applicable to the API", []types.SpecReport{spec(it, "A1 complete", types.SpecStatePassed, ""), spec(it, "A2 well-formed", types.SpecStatePassed, ""),
			spec(it, "A6 observable", types.SpecStateSkipped, "A6 does not apply")},
			map[string]evidence.Check{"A1": passed, "A2": evidence.NewCheck("A2", "", nil, nil), "A6": {ID: "A6", Status: evidence.StatusNotApplicable, Reason: "no metrics"}},
			evidence.Green, map[string]evidence.Status{"A6": evidence.StatusNotApplicable}},
		{"a required spec is missing", []types.SpecReport{spec(it, "A1 complete", types.SpecStatePassed, "")},
			map[string]evidence.Check{"A1": passed}, evidence.NotRun, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks := Checks(types.Report{SpecReports: tt.specs}, tt.recorded, required)
			if got := evidence.Decide(checks, required); got != tt.verdict {
				t.Errorf("verdict %s, want %s (checks %+v)", got, tt.verdict, checks)
			}
			for id, want := range tt.status {
				found := false
				for _, c := range checks {
					if c.ID == id {
						found = true
						if c.Status != want {
							t.Errorf("%s: status %s, want %s", id, c.Status, want)
						}
					}
				}
				if !found {
					t.Errorf("no check %s", id)
				}
			}
		})
	}
}

func TestStatus(t *testing.T) {
	for state, want := range map[types.SpecState]evidence.Status{
		types.SpecStatePassed:                         evidence.StatusPassed,
		types.SpecStateFailed:                         evidence.StatusFailed,
		types.SpecStatePanicked:                       evidence.StatusFailed,
		types.SpecStateTimedout:                       evidence.StatusFailed,
		types.SpecStateSkipped:                        evidence.StatusSkipped,
		types.SpecStatePending:                        evidence.StatusSkipped,
		types.SpecStateInterrupted:                    evidence.StatusSkipped,
		types.SpecStateAborted:                        evidence.StatusSkipped,
		types.SpecStateInvalid:                        evidence.StatusSkipped,
		types.SpecStatePassed | types.SpecStateFailed: evidence.StatusSkipped, // not a real state
	} {
		if got := Status(state); got != want {
			t.Errorf("Status(%v) = %s, want %s", state, got, want)
		}
	}
}
