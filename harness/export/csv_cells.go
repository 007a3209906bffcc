package export

import (
	"math/big"
	"slices"
	"time"

	"github.com/exportatscale/exportatscale/harness/seed"
)

// cellKind is how a column's cells are compared: by the seed type of the column.
type cellKind uint8

const (
	kindExact cellKind = iota // int (and any unknown type): exact text
	kindDecimal
	kindTimestamp
	kindBool
	kindString
)

func kindOf(typ string) cellKind {
	switch typ {
	case seed.TypeDecimal:
		return kindDecimal
	case seed.TypeTimestamp:
		return kindTimestamp
	case seed.TypeBool:
		return kindBool
	case seed.TypeString:
		return kindString
	}
	return kindExact
}

// cellRules is a valid Dialect prepared for comparing cells.
type cellRules struct {
	Dialect
	layouts             []string
	zone                *time.Location
	trueText, falseText string
	// exactTime: the seeded text (RFC 3339 UTC, nanoseconds) is itself a right timestamp cell, so a
	// cell equal to it needs no parsing.
	exactTime bool
	scratch   []byte // a timestamp as a layout writes it
}

func newCellRules(d Dialect) cellRules {
	r := cellRules{Dialect: d, layouts: d.layouts(), zone: d.zone()}
	r.trueText, r.falseText = d.spellings()
	r.exactTime = d.TimestampPrecision <= 1 && r.zone == time.UTC && slices.Contains(r.layouts, time.RFC3339Nano)
	return r
}

// isNull reports whether a cell of kind k is the dialect's NULL: its text, unquoted, or quoted in a
// column that is not a string.
func (r *cellRules) isNull(k cellKind, got string, quoted bool) bool {
	return r.Null != "" && got == r.Null && (!quoted || k != kindString)
}

// boolText returns the cell the dialect writes for the seeded bool text want.
func (r *cellRules) boolText(want string) string {
	switch want {
	case "true":
		return r.trueText
	case "false":
		return r.falseText
	}
	return want
}

// timestamp compares a timestamp cell with the seeded text want (RFC 3339): it is right when it is
// what one of the layouts writes for the seeded instant, truncated to the precision, in the zone.
// (Validate made sure each layout reads that back as the same instant.) It returns whether the cell
// is right, what the first layout writes (for messages), and whether some layout reads the cell at
// all.
func (r *cellRules) timestamp(got, want string) (ok bool, shown string, parsed bool) {
	if r.exactTime && got == want {
		return true, want, true
	}
	at, err := time.Parse(time.RFC3339Nano, want)
	if err != nil { // not a seeded timestamp: only the same text can match
		return got == want, want, true
	}
	if r.TimestampPrecision > 0 {
		at = at.Truncate(r.TimestampPrecision)
	}
	at = at.In(r.zone)
	for _, l := range r.layouts {
		r.scratch = at.AppendFormat(r.scratch[:0], l)
		if string(r.scratch) == got {
			return true, "", true
		}
	}
	for _, l := range r.layouts {
		if _, err := time.ParseInLocation(l, got, r.zone); err == nil {
			parsed = true
			break
		}
	}
	return false, at.Format(r.layouts[0]), parsed
}

// sameNumber reports whether got and want are decimal numbers of the same value. got must be
// written in plain decimal notation (a sign, digits, a point, an exponent of at most four digits):
// big.Rat would also take fractions and hexadecimal, which no API writes for a decimal.
func sameNumber(got, want string) bool {
	if !plainNumber(got) || !plainNumber(want) {
		return false
	}
	var a, b big.Rat
	if _, ok := a.SetString(got); !ok {
		return false
	}
	if _, ok := b.SetString(want); !ok {
		return false
	}
	return a.Cmp(&b) == 0
}

// plainNumber reports whether s is [+-]digits[.digits][e[+-]digits], with at least one digit
// before or after the point and at most four in the exponent.
func plainNumber(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digits := 0
	for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
		s, digits = s[1:], digits+1
	}
	if len(s) > 0 && s[0] == '.' {
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s, digits = s[1:], digits+1
		}
	}
	if digits == 0 {
		return false
	}
	if len(s) == 0 {
		return true
	}
	if s[0] != 'e' && s[0] != 'E' {
		return false
	}
	s = s[1:]
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 4 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
