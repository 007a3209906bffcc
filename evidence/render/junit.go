package render

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/onsi/ginkgo/v2/reporters"

	"github.com/exportatscale/exportatscale/evidence"
)

// The JUnit XML shapes, as CI systems read them: one suite, one test case per check. The
// properties are Ginkgo's own reporter types; the other Ginkgo types do not fit what this file
// promises, so they stay ours: a <testsuites> name and skipped count, times with millisecond
// precision (Ginkgo's are float64), a skipped case's reasons (Ginkgo's JUnitSkipped has only a
// message) and failure texts as CDATA, unescaped (Ginkgo's are character data, escaped).
type (
	junitSuites struct {
		XMLName xml.Name `xml:"testsuites"`
		junitCounts
		Suite junitSuite `xml:"testsuite"`
	}
	// junitCounts are the attributes <testsuites> and <testsuite> share: with one suite, the
	// document's totals are that suite's own, so they are one struct, embedded in both (its
	// fields are attributes of the element it is embedded in).
	junitCounts struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Time     string `xml:"time,attr"`
	}
	junitSuite struct {
		junitCounts
		Timestamp  string                    `xml:"timestamp,attr,omitempty"`
		Properties reporters.JUnitProperties `xml:"properties"`
		Cases      []junitCase               `xml:"testcase"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      string        `xml:"time,attr"`
		Failure   *junitMessage `xml:"failure"`
		Skipped   *junitMessage `xml:"skipped"`
		SystemOut *junitText    `xml:"system-out"`
	}
	junitMessage struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
		Text    string `xml:",cdata"`
	}
	// junitText is CDATA so that multi-line output stays readable in the file.
	junitText struct {
		Text string `xml:",cdata"`
	}
)

// JUnit writes junit.xml: one test suite, one test case per check (required checks absent
// from the run included), a failed check as <failure> listing its failing measures and failure
// lines, a check that did not run or does not apply to the API as <skipped>. Measures are listed
// in each case's system-out, a waived one marked WAIVED.
func JUnit(w io.Writer, r evidence.Report) error {
	r = normalize(r)
	suite := junitSuite{
		junitCounts: junitCounts{Name: "exportatscale acceptance", Time: seconds(r.Finished.Sub(r.Started))},
		Timestamp:   junitTimestamp(r.Started),
		Properties: reporters.JUnitProperties{Properties: []reporters.JUnitProperty{
			{Name: "verdict", Value: string(r.Verdict)},
			{Name: "run_id", Value: r.RunID},
			{Name: "target", Value: r.Environment.Target},
			{Name: "git_commit", Value: r.Environment.GitCommit},
			{Name: "git_dirty", Value: fmt.Sprint(r.Environment.GitDirty)},
		}},
	}
	if r.Started.IsZero() || r.Finished.IsZero() {
		suite.Time = seconds(0)
	}
	for _, c := range displayChecks(r) {
		tc := junitCase{Name: checkName(c), Classname: "exportatscale." + c.ID, Time: seconds(c.Duration)}
		var out []string
		for _, m := range c.Measures {
			out = append(out, describe(m))
		}
		if len(out) > 0 {
			tc.SystemOut = &junitText{xmlSafe(strings.Join(out, "\n"))}
		}
		switch c.Outcome() {
		case evidence.OutcomeFailed:
			var lines []string
			for _, m := range c.Measures {
				if m.Fails() {
					lines = append(lines, describe(m))
				}
			}
			lines = append(lines, c.Failures...)
			tc.Failure = &junitMessage{Message: oneLine(lines[0]), Type: "failed", Text: xmlSafe(strings.Join(lines, "\n"))}
			suite.Failures++
		case evidence.OutcomeNotRun:
			tc.Skipped = &junitMessage{Message: statusText(c), Text: xmlSafe(strings.Join(c.Failures, "\n"))}
			suite.Skipped++
		case evidence.OutcomeNotApplicable:
			tc.Skipped = &junitMessage{Message: "not applicable to this API", Text: xmlSafe(c.Reason)}
			suite.Skipped++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, tc)
	}
	doc := junitSuites{junitCounts: suite.junitCounts, Suite: suite}
	doc.Name = "exportatscale"
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// seconds formats a duration as JUnit wants it: decimal seconds, millisecond precision.
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}

// junitTimestamp is ISO 8601 without a zone, as the JUnit schema has it; always UTC.
func junitTimestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

// xmlSafe replaces the characters XML 1.0 cannot carry (control characters, invalid UTF-8), which
// encoding/xml writes into CDATA verbatim, with U+FFFD: a log line must not make junit.xml unreadable.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF && r != utf8.RuneError,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, s)
}
