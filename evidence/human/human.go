// Package human formats measured values for a person, by their unit: "32.4 k records/s",
// "81.3 MiB", "0.139 s", "1.23 %", "10,000 records". One function per family of units, and Value
// to pick the family from the unit a measure carries.
//
// Values are rounded to three significant digits, never less than their integer part: a count
// stays exact. Use Distinct where a rounded value must not read the same as the threshold it
// missed. evidence.json keeps every value at full precision; only the reports for people use this.
package human

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// digits is how many significant digits a value keeps.
const digits = 3

// Value formats v measured in unit by the unit's family: "bytes" as Bytes, "s" as Seconds,
// "ratio" as a percentage, a count per second ("rows/s", not "MiB/s") as Rate, anything else as Count.
func Value(v float64, unit string) string {
	return value(v, unit, digits)
}

// Distinct is Value with as many more significant digits as it takes to read differently from
// ref, when v is not ref: 0.5004 s beside a threshold of 0.5 s reads "0.5004 s", not "0.5 s".
func Distinct(v, ref float64, unit string) string {
	for n := digits; n < 17; n++ {
		if s := value(v, unit, n); v == ref || s != value(ref, unit, n) {
			return s
		}
	}
	return value(v, unit, 17)
}

func value(v float64, unit string, n int) string {
	switch {
	case unit == "bytes":
		return bytes(v, n)
	case unit == "s":
		return seconds(v, n)
	case unit == "ratio":
		return percent(v, n)
	case strings.HasSuffix(unit, "/s") && !strings.Contains(unit, "B/"):
		return rate(v, unit, n)
	}
	return count(v, unit, n)
}

// Bytes formats a number of bytes with binary prefixes: "512 B", "81.3 MiB", "256 MiB".
func Bytes(v float64) string { return bytes(v, digits) }

func bytes(v float64, n int) string {
	return scaled(v, 1024, []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}, n)
}

// Rate formats a count per second with decimal prefixes: "512 rows/s", "32.4 k records/s".
func Rate(v float64, unit string) string { return rate(v, unit, digits) }

func rate(v float64, unit string, n int) string {
	return scaled(v, 1000, []string{unit, "k " + unit, "M " + unit, "G " + unit}, n)
}

// Seconds formats a number of seconds: "0.139 s", "9.81 s", "12.3 ms" below a tenth of a second,
// "250 µs" below a tenth of a millisecond.
func Seconds(v float64) string { return seconds(v, digits) }

func seconds(v float64, n int) string {
	switch a := math.Abs(v); {
	case !finite(v):
		return nonFinite(v)
	case a == 0 || a >= 0.1:
		return sig(v, n) + " s"
	case a >= 1e-4:
		return sig(v*1e3, n) + " ms"
	}
	return sig(v*1e6, n) + " µs"
}

// Duration formats a duration: as Seconds under a minute, else in whole seconds as
// "3 min 25 s" or "1 h 2 min 5 s".
func Duration(d time.Duration) string {
	if d > -time.Minute && d < time.Minute {
		return Seconds(d.Seconds())
	}
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	d = d.Round(time.Second)
	h, m, s := int64(d/time.Hour), int64(d%time.Hour/time.Minute), int64(d%time.Minute/time.Second)
	var parts []string
	if h > 0 {
		parts = append(parts, group(strconv.FormatInt(h, 10))+" h")
	}
	if m > 0 {
		parts = append(parts, strconv.FormatInt(m, 10)+" min")
	}
	if s > 0 {
		parts = append(parts, strconv.FormatInt(s, 10)+" s")
	}
	return sign + strings.Join(parts, " ")
}

// percent formats a ratio as a percentage: 0.0123 reads "1.23 %", 3 reads "300 %".
func percent(ratio float64, n int) string {
	if !finite(ratio) {
		return nonFinite(ratio)
	}
	return sig(ratio*100, n) + " %"
}

// Count formats a number of things with its unit, the integer part grouped by thousands:
// "10,000 records", "0 rows", "12.5 MiB/s". An empty unit leaves the number bare.
func Count(v float64, unit string) string { return count(v, unit, digits) }

func count(v float64, unit string, n int) string {
	if !finite(v) {
		return nonFinite(v)
	}
	return strings.TrimSpace(sig(v, n) + " " + unit)
}

// scaled divides v by base until it is under base, naming it by the prefixed unit it reached.
func scaled(v, base float64, units []string, n int) string {
	if !finite(v) {
		return nonFinite(v)
	}
	i := 0
	for math.Abs(v) >= base && i < len(units)-1 {
		v /= base
		i++
	}
	s := sig(v, n)
	if f, _ := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64); math.Abs(f) >= base && i < len(units)-1 {
		s = sig(v/base, n) // rounding reached the next prefix: 1,024 KiB is 1 MiB
		i++
	}
	return s + " " + units[i]
}

// sig formats v to n significant digits without an exponent, but never rounds its integer part;
// trailing zeros after the point are dropped and the integer part is grouped by thousands.
func sig(v float64, n int) string {
	dec := 0
	if a := math.Abs(v); a != 0 {
		dec = max(0, n-int(math.Floor(math.Log10(a)))-1)
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return group(s)
}

// group puts a comma between each three digits of the integer part of the decimal number s.
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return sign + b.String()
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// nonFinite is a value that could not be measured, without a unit: "NaN s" would suggest NaN is
// a quantity.
func nonFinite(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}
