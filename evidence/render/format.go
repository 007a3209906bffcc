package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
)

// withUnit formats a value followed by its unit, if any.
func withUnit(v float64, unit string) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if unit == "" || math.IsNaN(v) { // "NaN s" would suggest NaN is a quantity
		return s
	}
	return s + " " + unit
}

// humanBytes adds a binary-prefixed reading to a byte count, e.g. "268435456 bytes (256 MiB)".
func humanBytes(v float64) string {
	s := withUnit(v, "bytes")
	if !(v >= 1024) { // also false for NaN
		return s
	}
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	i := -1
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	short := strings.TrimRight(strings.TrimRight(strconv.FormatFloat(v, 'f', 2, 64), "0"), ".")
	return s + " (" + short + " " + units[i] + ")"
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
	return d.String()
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

// describe is one line on a measure: "name = value unit (want op value unit)".
func describe(m evidence.Measure) string {
	s := fmt.Sprintf("%s = %s", m.Name, withUnit(m.Value, m.Unit))
	if m.Rule != nil {
		s += fmt.Sprintf(" (want %s)", *m.Rule)
	}
	if _, note := m.Judgement(); note != "" {
		s += ": " + note
	}
	return s
}
