package render

import (
	"fmt"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/human"
)

// valueText is a measure's value for a person, by its unit; beside its rule, with the digits it
// takes not to read as the threshold it is judged by (see human.Distinct).
func valueText(m evidence.Measure) string {
	if m.Rule != nil && m.Rule.Unit == m.Unit {
		return human.Distinct(m.Value, m.Rule.Value, m.Unit)
	}
	return human.Value(m.Value, m.Unit)
}

// ruleText is a rule for a person, its value in the same form as the values it judges:
// "<= 256 MiB", not "<= 268435456 bytes".
func ruleText(r evidence.Rule) string {
	return r.Op + " " + human.Value(r.Value, r.Unit)
}

// formatTime renders a time in UTC, RFC 3339; the zero time reads as not recorded.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "not recorded"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// formatDuration renders a duration, or a dash when none was recorded.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return human.Duration(d)
}

// oneLine folds line breaks (and runs of blanks) so free text cannot break a table row or list item.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// mdCell makes free text safe inside a Markdown table cell.
func mdCell(s string) string {
	s = oneLine(s)
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

// describe is one line on a measure: "name = value unit (want op value unit)", then, for a waived
// one, that it is waived, whether it holds and why: "…: WAIVED (breaks its rule): reason". One not
// applicable has no value: "name: not applicable to this API: reason".
func describe(m evidence.Measure) string {
	if m.NotApplicable != "" {
		return m.Name + ": not applicable to this API: " + m.NotApplicable
	}
	s := fmt.Sprintf("%s = %s", m.Name, valueText(m))
	if m.Rule != nil {
		s += fmt.Sprintf(" (want %s)", ruleText(*m.Rule))
	}
	if _, note := m.Judgement(); note != "" {
		s += ": " + note
	}
	if m.Waived != "" {
		s += ": " + waivedText(m)
	}
	return s
}

// waivedText is how a waived measure's result reads: never PASS, whether or not it holds.
func waivedText(m evidence.Measure) string {
	held := "breaks its rule"
	if pass, _ := m.Judgement(); pass {
		held = "holds anyway"
	}
	return "WAIVED (" + held + "): " + m.Waived
}

// cells is a measure as a row of the checks table of EVIDENCE.md and EVIDENCE.html.
type cells struct {
	Name, Value, Threshold, Result string
	Class                          string // pass, fail, waived, info or na (not applicable)
}

// measureCells is m as the reports show it: its value and threshold by its unit, and its result
// re-judged from its rule; a waived measure's result is WAIVED, and one not applicable has no
// value.
func measureCells(m evidence.Measure) cells {
	out := cells{Name: m.Name, Value: valueText(m), Threshold: "none (informational)", Result: "info", Class: "info"}
	if m.Rule != nil {
		out.Threshold, out.Result, out.Class = ruleText(*m.Rule), "PASS", "pass"
		if pass, note := m.Judgement(); !pass {
			out.Result, out.Class = "FAIL", "fail"
			if note != "" {
				out.Result += ": " + note
			}
		}
	}
	switch {
	case m.NotApplicable != "":
		out.Value, out.Result, out.Class = "—", "not applicable to this API: "+m.NotApplicable, "na"
		if m.Rule == nil {
			out.Threshold = "—"
		}
	case m.Waived != "":
		out.Result, out.Class = waivedText(m), "waived"
	}
	return out
}
