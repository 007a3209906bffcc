package evidence

import (
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func spec(node types.NodeType, text string, state types.SpecState, msg string) types.SpecReport {
	return types.SpecReport{LeafNodeType: node, LeafNodeText: text, State: state, Failure: types.Failure{Message: msg}}
}

func TestChecksFromGinkgo(t *testing.T) {
	it := types.NodeTypeIt
	passed := NewCheck("A1", "complete", nil, nil)
	failedMeasure := NewCheck("A1", "complete", []Measure{Judge(map[string]Rule{"x": {Op: "==", Value: 0}}, "x", 1, "")}, nil)
	required := []string{"A1", "A2", SuiteCheckID}
	tests := []struct {
		name     string
		specs    []types.SpecReport
		recorded map[string]Check
		verdict  Verdict
		status   map[string]Status
	}{
		{"all passed and recorded", []types.SpecReport{spec(it, "A1 complete", types.SpecStatePassed, ""), spec(it, "A2 well-formed", types.SpecStatePassed, "")},
			map[string]Check{"A1": passed, "A2": NewCheck("A2", "well-formed", nil, nil)}, Green,
			map[string]Status{"A1": StatusPassed, "A2": StatusPassed, SuiteCheckID: StatusPassed}},
		{"passed without measurements", []types.SpecReport{spec(it, "A1 complete", types.SpecStatePassed, ""), spec(it, "A2 well-formed", types.SpecStatePassed, "")},
			map[string]Check{"A1": passed}, NotRun, map[string]Status{"A2": StatusNotRun}},
		{"spec failed", []types.SpecReport{spec(it, "A1 complete", types.SpecStateFailed, "boom"), spec(it, "A2 well-formed", types.SpecStatePassed, "")},
			map[string]Check{"A1": failedMeasure, "A2": NewCheck("A2", "", nil, nil)}, Red, map[string]Status{"A1": StatusFailed}},
		{"spec failed but its check was recorded as passed", []types.SpecReport{spec(it, "A1 complete", types.SpecStateFailed, "boom"), spec(it, "A2 well-formed", types.SpecStatePassed, "")},
			map[string]Check{"A1": passed, "A2": NewCheck("A2", "", nil, nil)}, Red, map[string]Status{"A1": StatusFailed}},
		{"spec skipped", []types.SpecReport{spec(it, "A1 complete", types.SpecStateSkipped, "no data"), spec(it, "A2 well-formed", types.SpecStatePassed, "")},
			map[string]Check{"A1": passed, "A2": NewCheck("A2", "", nil, nil)}, NotRun, map[string]Status{"A1": StatusSkipped}},
		{"interrupted", []types.SpecReport{spec(it, "A1 complete", types.SpecStateInterrupted, "signal"), spec(it, "A2 well-formed", types.SpecStatePassed, "")},
			map[string]Check{"A1": passed, "A2": NewCheck("A2", "", nil, nil)}, NotRun, map[string]Status{"A1": StatusSkipped}},
		{"setup failed", []types.SpecReport{spec(types.NodeTypeBeforeSuite, "", types.SpecStateFailed, "no engine")},
			nil, NotRun, map[string]Status{"A1": StatusNotRun, "A2": StatusNotRun, SuiteCheckID: StatusNotRun}},
		{"cleanup failed", []types.SpecReport{spec(it, "A1 complete", types.SpecStatePassed, ""), spec(it, "A2 well-formed", types.SpecStatePassed, ""),
			spec(types.NodeTypeCleanupAfterSuite, "", types.SpecStateFailed, "exporter exited with 1 after SIGTERM")},
			map[string]Check{"A1": passed, "A2": NewCheck("A2", "", nil, nil)}, Red, map[string]Status{SuiteCheckID: StatusFailed}},
		{"after-suite interrupted", []types.SpecReport{spec(it, "A1 complete", types.SpecStatePassed, ""), spec(it, "A2 well-formed", types.SpecStatePassed, ""),
			spec(types.NodeTypeAfterSuite, "", types.SpecStateInterrupted, "")},
			map[string]Check{"A1": passed, "A2": NewCheck("A2", "", nil, nil)}, NotRun, map[string]Status{SuiteCheckID: StatusSkipped}},
		{"a required spec is missing", []types.SpecReport{spec(it, "A1 complete", types.SpecStatePassed, "")},
			map[string]Check{"A1": passed}, NotRun, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks := ChecksFromGinkgo(types.Report{SpecReports: tt.specs}, tt.recorded, required)
			if got := Decide(checks, required); got != tt.verdict {
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
