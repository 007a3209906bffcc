package evidence

import (
	"fmt"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// SuiteCheckID names the check that stands for everything around the specs of a run: setup,
// cleanup (stopping the exporter cleanly) and the suite's reporting nodes.
const SuiteCheckID = "suite"

// ChecksFromGinkgo turns a finished Ginkgo report into checks. Each It spec is one check, named by
// the first word of its text, carrying the measurements recorded for it; its status is the spec's,
// so a spec that did not pass never yields a passed check, and one that passed without recording
// its measurements is not run. One more check, SuiteCheckID, fails when a node outside the specs
// failed, and is not run when the setup failed — then every required check without a spec says so.
func ChecksFromGinkgo(report types.Report, recorded map[string]Check, required []string) []Check {
	var checks []Check
	suite := Check{ID: SuiteCheckID, Title: "setup and teardown of the run", Status: StatusPassed}
	setupFailure := ""
	for _, sr := range report.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt {
			if sr.State == types.SpecStatePassed || sr.State == types.SpecStateSkipped || sr.State == types.SpecStatePending {
				continue
			}
			why := fmt.Sprintf("%s %s: %s", sr.LeafNodeType, sr.State, firstLines(sr.Failure.Message, 4))
			switch {
			case sr.LeafNodeType == types.NodeTypeBeforeSuite || sr.LeafNodeType == types.NodeTypeSynchronizedBeforeSuite:
				setupFailure = why
				suite.Status = StatusNotRun
			case StatusFromGinkgo(sr.State) == StatusFailed && suite.Status == StatusPassed:
				suite.Status = StatusFailed
			case StatusFromGinkgo(sr.State) != StatusFailed && suite.Status == StatusPassed:
				suite.Status = StatusSkipped
			}
			suite.Failures = append(suite.Failures, why)
			continue
		}
		fields := strings.Fields(sr.LeafNodeText)
		if len(fields) == 0 {
			continue
		}
		id := fields[0]
		c, ok := recorded[id]
		if !ok {
			c = Check{ID: id, Title: strings.TrimSpace(strings.TrimPrefix(sr.LeafNodeText, id))}
		}
		c.Duration = sr.RunTime
		switch status := StatusFromGinkgo(sr.State); {
		case status != StatusPassed:
			c.Status = status
			msg := strings.TrimSpace(sr.Failure.Message)
			if msg == "" {
				msg = "spec " + sr.State.String()
			}
			c.Failures = append(c.Failures, fmt.Sprintf("%s: %s", sr.State, firstLines(msg, 6)))
		case !ok:
			c.Status = StatusNotRun
			c.Failures = append(c.Failures, "the spec passed without recording its measurements")
		}
		checks = append(checks, c)
	}
	if setupFailure != "" {
		for _, id := range required {
			if id != SuiteCheckID && !slices.ContainsFunc(checks, func(c Check) bool { return c.ID == id }) {
				checks = append(checks, Check{ID: id, Status: StatusNotRun, Failures: []string{"not run: " + setupFailure}})
			}
		}
	}
	return append(checks, suite)
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, " ")
}
