package export

import (
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/seed"
)

// fuzzDialect derives a dialect from the fuzz input: knobs picks the features bit by bit, delim is
// the delimiter when bit 0 asks for any byte (an invalid one included), else it picks a usual one.
func fuzzDialect(knobs uint16, delim byte) Dialect {
	bit := func(i int) bool { return knobs&(1<<i) != 0 }
	d := Dialect{Delimiter: []byte{0, ',', ';', '\t'}[delim%4], Header: bit(1), LF: bit(2), QuoteAll: bit(3),
		QuoteStrings: bit(4), DecimalsAsNumbers: bit(5), Guard: bit(6)}
	if bit(0) {
		d.Delimiter = delim
	}
	if bit(7) {
		d.Null = `\N`
	}
	switch knobs >> 8 & 3 {
	case 1:
		d.TimestampLayouts, d.TimestampPrecision = []string{time.DateTime}, time.Second
	case 2:
		d.TimestampLayouts, d.TimestampPrecision = []string{"2006-01-02 15:04:05.000", time.RFC3339}, time.Millisecond
	case 3:
		d.TimestampLayouts = []string{time.Kitchen} // invalid: no date
	}
	if bit(10) {
		d.TimestampZone = time.FixedZone("", -5*3600)
	}
	switch knobs >> 11 & 3 {
	case 1:
		d.True, d.False = "1", "0"
	case 2:
		d.True, d.False = "t", "t" // invalid
	}
	return d
}

// FuzzDialectCSV verifies arbitrary bodies in dialects derived from the input, whole or cut short:
// verification must neither panic nor loop, and its counters stay within bounds.
func FuzzDialectCSV(f *testing.F) {
	trades, err := NewExpected("trades", seed.Trades(), seed.Generate(9, 40, 1), Options{})
	if err != nil {
		f.Fatal(err)
	}
	two := small(f)
	f.Add([]byte(smallCH), uint16(0b0000_0000_1011_0110), byte(','), uint16(0xFFFF), false)
	f.Add([]byte(strings.ReplaceAll(smallCH, ",", ";")), uint16(0b0000_1001_1011_0110), byte(';'), uint16(30), false)
	f.Add(strictBody(trades), uint16(0b0000_0000_0100_0010), byte(','), uint16(0xFFFF), true)
	f.Add([]byte(clickHouseBody(trades)), uint16(0b0000_1001_1011_0110), byte(','), uint16(900), true)
	f.Add([]byte("\"a\r\nb\"\"\",\\N\r\n1,\"x\r"), uint16(0xFFFF), byte('"'), uint16(5), false)
	f.Fuzz(func(t *testing.T, body []byte, knobs uint16, delim byte, cut uint16, useTrades bool) {
		exp := two
		if useTrades {
			exp = trades
		}
		d := fuzzDialect(knobs, delim)
		rec := received(exp, body)
		rec.dialect = &d
		if int(cut) < len(body) {
			rec.body, rec.Complete, rec.Err = body[:cut], false, "cut short"
		}
		r := rec.CSV()
		for _, n := range []int{r.Rows, r.ParseErrors, r.Missing, r.Duplicates, r.Unexpected, r.OutOfOrder, r.Mismatched, r.GuardViolations} {
			if n < 0 {
				t.Fatalf("negative counter: %+v", r)
			}
		}
		if r.Rows > len(body)+1 || r.Missing > exp.Rows() || r.Mismatched > r.Rows*len(exp.Header) || len(r.Examples) > maxExamples {
			t.Fatalf("counters out of bounds for a %d-byte body: %+v", len(body), r)
		}
		if err := d.Validate(); err == nil && r.Rows+r.Missing < exp.Rows() && r.ParseErrors == 0 && r.Complete {
			t.Fatalf("ids neither found nor missing: %+v", r)
		}
	})
}
