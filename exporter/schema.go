package exporter

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/exportatscale/exportatscale/internal/contract"
)

// Type is the declared type of a column. Each type has one canonical cell text, produced at ingest
// and exported as is.
type Type string

// Column types.
const (
	TypeString    Type = "string"    // the text as given, without U+0000 (which PostgreSQL's text cannot hold)
	TypeInt       Type = "int"       // a JSON integer, exported as decimal digits
	TypeDecimal   Type = "decimal"   // a JSON number or string -?digits[.digits], exported with its digits (leading zeros dropped, no -0)
	TypeTimestamp Type = "timestamp" // RFC 3339 in, RFC 3339 UTC out (fractional seconds kept)
	TypeBool      Type = "bool"      // true or false
)

// Column is one declared column of a dataset.
type Column struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
}

// Schema is the ordered list of declared columns. The id column is implicit and always first.
type Schema struct {
	Columns []Column `json:"columns"`
}

const maxColumns = 256

func validDatasetName(name string) bool { return contract.DatasetName.MatchString(name) }

// Validate reports the first problem with a declared schema.
func (s Schema) Validate() error {
	if len(s.Columns) == 0 {
		return fmt.Errorf("columns: at least one column is required")
	}
	if len(s.Columns) > maxColumns {
		return fmt.Errorf("columns: at most %d columns", maxColumns)
	}
	seen := make(map[string]bool, len(s.Columns))
	for i, c := range s.Columns {
		switch {
		case !contract.ColumnName.MatchString(c.Name):
			return fmt.Errorf("columns[%d]: name %q must match %s", i, c.Name, contract.ColumnName)
		case c.Name == "id":
			return fmt.Errorf("columns[%d]: id is implicit and must not be declared", i)
		case seen[c.Name]:
			return fmt.Errorf("columns[%d]: duplicate column %q", i, c.Name)
		}
		switch c.Type {
		case TypeString, TypeInt, TypeDecimal, TypeTimestamp, TypeBool:
		default:
			return fmt.Errorf("columns[%d]: type %q must be one of string, int, decimal, timestamp, bool", i, c.Type)
		}
		seen[c.Name] = true
	}
	return nil
}

func (s Schema) index(name string) int {
	for i, c := range s.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Equal reports whether s and o have the same columns, in the same order.
func (s Schema) Equal(o Schema) bool {
	if len(s.Columns) != len(o.Columns) {
		return false
	}
	for i := range s.Columns {
		if s.Columns[i] != o.Columns[i] {
			return false
		}
	}
	return true
}

// cellText converts one JSON value to the canonical cell text of type t, appending it to dst.
func cellText(dst []byte, t Type, v jsonValue) ([]byte, error) {
	switch t {
	case TypeString:
		if v.kind != kindString {
			return dst, fmt.Errorf("want a string, got %s", v.kind)
		}
		if bytes.IndexByte(v.text, 0) >= 0 {
			return dst, fmt.Errorf("U+0000 is not allowed in a string")
		}
		return append(dst, v.text...), nil
	case TypeInt:
		if v.kind != kindNumber {
			return dst, fmt.Errorf("want an integer, got %s", v.kind)
		}
		n, err := strconv.ParseInt(string(v.text), 10, 64)
		if err != nil {
			return dst, fmt.Errorf("want a 64-bit integer, got %s", truncate(v.text))
		}
		return strconv.AppendInt(dst, n, 10), nil
	case TypeDecimal:
		if v.kind != kindNumber && v.kind != kindString {
			return dst, fmt.Errorf("want a decimal number or string, got %s", v.kind)
		}
		if !contract.DecimalText.Match(v.text) || len(v.text) > 64 {
			return dst, fmt.Errorf("want a decimal like -123.45 (no exponent, at most 64 characters), got %q", truncate(v.text))
		}
		return canonicalDecimal(dst, v.text), nil
	case TypeTimestamp:
		if v.kind != kindString {
			return dst, fmt.Errorf("want an RFC 3339 timestamp string, got %s", v.kind)
		}
		ts, err := time.Parse(time.RFC3339Nano, string(v.text))
		if err != nil {
			return dst, fmt.Errorf("want an RFC 3339 timestamp, got %q", truncate(v.text))
		}
		// In UTC the year must still have four digits, or the text out would not be RFC 3339.
		if ts = ts.UTC(); ts.Year() < 0 || ts.Year() > 9999 {
			return dst, fmt.Errorf("timestamp %q is outside years 0000-9999 in UTC", truncate(v.text))
		}
		return ts.AppendFormat(dst, time.RFC3339Nano), nil
	case TypeBool:
		if v.kind != kindBool {
			return dst, fmt.Errorf("want true or false, got %s", v.kind)
		}
		return append(dst, v.text...), nil
	}
	return dst, fmt.Errorf("unknown type %q", t)
}

func truncate(b []byte) string {
	const max = 40
	if len(b) <= max {
		return string(b)
	}
	s := b[:max]
	for len(s) > 0 && !utf8.Valid(s) {
		s = s[:len(s)-1]
	}
	return string(s) + "…"
}

// canonicalDecimal appends d (-?digits[.digits]) in the one form both stores give back: the
// integer part without leading zeros, and no minus sign on a zero. The fractional digits, and so
// the scale, stay as given: 1.50 stays 1.50, 007.50 becomes 7.50, -0.00 becomes 0.00.
func canonicalDecimal(dst, d []byte) []byte {
	neg := len(d) > 0 && d[0] == '-'
	if neg {
		d = d[1:]
	}
	intEnd := bytes.IndexByte(d, '.')
	if intEnd < 0 {
		intEnd = len(d)
	}
	i := 0
	for i < intEnd-1 && d[i] == '0' {
		i++
	}
	d = d[i:]
	if neg && bytes.ContainsFunc(d, func(r rune) bool { return r >= '1' && r <= '9' }) {
		dst = append(dst, '-')
	}
	return append(dst, d...)
}
