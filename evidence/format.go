package evidence

import (
	"math"
	"strconv"
)

// formatFloat writes a float in the shortest form that reads back exactly, without an exponent,
// so 268435456 stays 268435456 and 0.1 stays 0.1. NaN and infinities read "NaN", "+Inf", "-Inf".
// It is the form of evidence.json and of error messages; the reports for people format values by
// their unit (package evidence/human).
func formatFloat(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// withUnit formats a value followed by its unit, if any.
func withUnit(v float64, unit string) string {
	if unit == "" || math.IsNaN(v) { // "NaN s" would suggest NaN is a quantity
		return formatFloat(v)
	}
	return formatFloat(v) + " " + unit
}
