package testkit

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/render"
)

// BundleOf is a run to write as an evidence bundle for a test: its required checks all pass, A1
// with a judged measure, unless Edit changes them.
type BundleOf struct {
	IDs         []string // the run's checks, all required
	Profile     string   // the profile the run was driven by, "" for none
	Environment evidence.Environment
	Monitoring  []evidence.Artifact
	Edit        func([]evidence.Check) []evidence.Check
}

// Bundle writes b's bundle into a new temporary directory, with the clock fixed, and returns it.
func Bundle(t testing.TB, b BundleOf) string {
	t.Helper()
	rules := Thresholds(t)
	var checks []evidence.Check
	for _, id := range b.IDs {
		c := evidence.NewCheck(id, "", nil, nil)
		if id == "A1" {
			c.Measures = []evidence.Measure{evidence.Judge(rules, "a1.missing_rows", 0, "")}
		}
		checks = append(checks, c)
	}
	if b.Edit != nil {
		checks = b.Edit(checks)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := evidence.Report{RunID: "run-7", Profile: b.Profile, Started: start, Finished: start.Add(time.Minute), Environment: b.Environment,
		Thresholds: rules, Required: b.IDs, Checks: checks, Monitoring: b.Monitoring}
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := render.WriteBundle(dir, r, map[string][]byte{"exporter.log": []byte("ok\n")}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// FailA1 makes A1 fail on evidence (three missing rows): a RED run.
func FailA1(checks []evidence.Check) []evidence.Check {
	rules, _ := evidence.LoadThresholds("")
	if i := slices.IndexFunc(checks, func(c evidence.Check) bool { return c.ID == "A1" }); i >= 0 {
		checks[i] = evidence.NewCheck("A1", "complete", []evidence.Measure{evidence.Judge(rules, "a1.missing_rows", 3, "")}, nil)
	}
	return checks
}

// SkipLast marks the last check skipped: a NOT RUN run.
func SkipLast(checks []evidence.Check) []evidence.Check {
	checks[len(checks)-1].Status = evidence.StatusSkipped
	return checks
}

// Thresholds are the built-in thresholds (evidence/thresholds.json); a test that cannot read them
// fails.
func Thresholds(t testing.TB) map[string]evidence.Rule {
	t.Helper()
	th, err := evidence.LoadThresholds("")
	if err != nil {
		t.Fatal(err)
	}
	return th
}
