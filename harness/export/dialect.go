package export

import (
	"errors"
	"fmt"
	"time"
)

// Dialect is how an API writes a CSV export: what the verifier parses and how it compares a cell
// with the seeded value.
//
// A timestamp cell matches when it is exactly what one of the layouts writes for the seeded instant,
// truncated to the precision, in TimestampZone (Validate makes sure a layout reads back what it
// writes): so under a layout with an offset the cell must carry the zone's offset, and the text
// must be the layout's own (RFC3339Nano, for one, writes no trailing zeros). A NULL cell is one equal to Null, unquoted
// or in a column that is not a string (a quoted string equal to Null is that string).
type Dialect struct {
	Header             bool           // the first record is the header row
	Delimiter          byte           // ',' when 0
	LF                 bool           // records end in LF; false: CRLF (a record ended otherwise is a parse error)
	QuoteAll           bool           // every field must be quoted (false: quoting only where needed is allowed; quoted fields are always accepted)
	QuoteStrings       bool           // every string-typed field and header name must be quoted (numbers, decimals, bools may be bare)
	Null               string         // the text of a NULL cell ("" when the API has none); seeded values are never null, so a NULL cell is a mismatch
	TimestampLayouts   []string       // Go layouts a timestamp cell may have; empty: time.RFC3339Nano
	TimestampZone      *time.Location // zone of layouts without an offset; nil: UTC
	TimestampPrecision time.Duration  // the API keeps timestamps to this precision (0: nanoseconds); the seeded instant is truncated to it before comparing
	DecimalsAsNumbers  bool           // compare decimal cells by value (big.Rat), so 1.5 == 1.5000; false: exact text
	True, False        string         // bool spellings; "" means "true"/"false"
	Guard              bool           // the apostrophe formula guard applies to string cells
}

// StrictDialect is the dialect of the v1 export contract, what a Client with a nil Dialect verifies:
// a header row, commas, CRLF line ends, quoting only where needed, timestamps in RFC 3339 UTC with
// their fractional seconds, decimals as the seeded text, true/false, and the formula guard.
func StrictDialect() Dialect {
	return Dialect{Header: true, Delimiter: ',', Guard: true}
}

// refInstant is the instant Validate renders with each timestamp layout: every field differs from
// the others, so a layout that drops or confuses one does not read it back.
var refInstant = time.Date(2031, time.November, 23, 17, 45, 56, 123456789, time.UTC)

// Validate reports what makes d unusable: a delimiter that is a quote, CR, LF or not ASCII, a
// timestamp layout that does not read back what it writes (to the dialect's precision), a negative
// precision, bool spellings that are the same, or a NULL text that is a bool spelling.
func (d Dialect) Validate() error {
	var errs []error
	switch c := d.delimiter(); {
	case c == '"' || c == '\r' || c == '\n':
		errs = append(errs, fmt.Errorf("delimiter %q: a quote, CR or LF cannot separate fields", c))
	case c >= 0x80:
		errs = append(errs, fmt.Errorf("delimiter %#x is not an ASCII character", c))
	}
	if d.TimestampPrecision < 0 {
		errs = append(errs, fmt.Errorf("timestamp precision %v is negative", d.TimestampPrecision))
	}
	ref := refInstant
	if d.TimestampPrecision > 0 {
		ref = ref.Truncate(d.TimestampPrecision)
	}
	zone := d.zone()
	for _, l := range d.layouts() {
		text := ref.In(zone).Format(l)
		switch t, err := time.ParseInLocation(l, text, zone); {
		case l == "":
			errs = append(errs, errors.New("empty timestamp layout"))
		case err != nil:
			errs = append(errs, fmt.Errorf("timestamp layout %q does not read %q back: %v", l, text, err))
		case !t.Equal(ref):
			errs = append(errs, fmt.Errorf("timestamp layout %q does not keep %v to the precision %v (reads back %v)",
				l, ref, d.TimestampPrecision, t))
		}
	}
	t, f := d.spellings()
	if t == f {
		errs = append(errs, fmt.Errorf("true and false are both spelled %q", t))
	}
	if d.Null != "" && (d.Null == t || d.Null == f) {
		errs = append(errs, fmt.Errorf("NULL is spelled %q, as a bool is", d.Null))
	}
	return errors.Join(errs...)
}

func (d Dialect) delimiter() byte {
	if d.Delimiter == 0 {
		return ','
	}
	return d.Delimiter
}

func (d Dialect) layouts() []string {
	if len(d.TimestampLayouts) == 0 {
		return []string{time.RFC3339Nano}
	}
	return d.TimestampLayouts
}

func (d Dialect) zone() *time.Location {
	if d.TimestampZone == nil {
		return time.UTC
	}
	return d.TimestampZone
}

func (d Dialect) spellings() (t, f string) {
	t, f = d.True, d.False
	if t == "" {
		t = "true"
	}
	if f == "" {
		f = "false"
	}
	return t, f
}
