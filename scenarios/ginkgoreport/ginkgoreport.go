// Package ginkgoreport turns a finished Ginkgo report into the checks of an evidence report. It
// sits beside the suite that uses it, so that package evidence, the model every other package
// reads, does not depend on the test framework.
package ginkgoreport

import (
	"fmt"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/pipeline"
)

// Checks turns a finished Ginkgo report into checks. Each It spec is one check, named by
// the first word of its text, carrying the measurements recorded for it; its status is the spec's,
// so a spec that did not pass never yields a passed check, and one that passed without recording
// its measurements is not run; a spec skipped whose check was recorded as not applicable to the API
// keeps that check as recorded. One more check, pipeline.SuiteCheckID, fails when a node outside the specs
// failed, and is not run when the setup failed — then every required check without a spec says so.
func Checks(report types.Report, recorded map[string]evidence.Check, required []string) []evidence.Check {
	var checks []evidence.Check
	suite := evidence.Check{ID: pipeline.SuiteCheckID, Title: pipeline.SuiteCheckTitle, Status: evidence.StatusPassed}
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
				suite.Status = evidence.StatusNotRun
			case Status(sr.State) == evidence.StatusFailed && suite.Status == evidence.StatusPassed:
				suite.Status = evidence.StatusFailed
			case Status(sr.State) != evidence.StatusFailed && suite.Status == evidence.StatusPassed:
				suite.Status = evidence.StatusSkipped
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
			c = evidence.Check{ID: id, Title: strings.TrimSpace(strings.TrimPrefix(sr.LeafNodeText, id))}
		}
		c.Duration = sr.RunTime
		switch status := Status(sr.State); {
		case ok && status == evidence.StatusSkipped && c.Status == evidence.StatusNotApplicable:
			// skipped because its check does not apply to the API: the check says so, with its reason
		case status != evidence.StatusPassed:
			c.Status = status
			msg := strings.TrimSpace(sr.Failure.Message)
			if msg == "" {
				msg = "spec " + sr.State.String()
			}
			c.Failures = append(c.Failures, fmt.Sprintf("%s: %s", sr.State, firstLines(msg, 6)))
		case !ok:
			c.Status = evidence.StatusNotRun
			c.Failures = append(c.Failures, "the spec passed without recording its measurements")
		}
		checks = append(checks, c)
	}
	if setupFailure != "" {
		for _, id := range required {
			if id != pipeline.SuiteCheckID && !slices.ContainsFunc(checks, func(c evidence.Check) bool { return c.ID == id }) {
				checks = append(checks, evidence.Check{ID: id, Status: evidence.StatusNotRun, Failures: []string{"not run: " + setupFailure}})
			}
		}
	}
	return append(checks, suite)
}

// Status maps the final state of a Ginkgo spec to a check status. Only a spec that ran and failed
// counts as failed; one that was skipped, pending, interrupted, aborted or invalid did not run to
// completion and counts as skipped — never as passed.
func Status(state types.SpecState) evidence.Status {
	switch state {
	case types.SpecStatePassed:
		return evidence.StatusPassed
	case types.SpecStateFailed, types.SpecStatePanicked, types.SpecStateTimedout:
		return evidence.StatusFailed
	}
	return evidence.StatusSkipped
}

// firstLines is s folded onto one line, cut after its first n lines.
func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, " ")
}
