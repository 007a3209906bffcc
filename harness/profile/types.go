package profile

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The ways a value of a type may travel in an ingest request (Type.Ingest), besides a timestamp's
// Go layout.
const (
	AsSeeded = "as_seeded" // decimal, bool, timestamp: as the generator made it
	AsString = "string"    // decimal, bool: a JSON string
	AsNumber = "number"    // decimal: a JSON number; bool: 1 or 0
	AsBool   = "bool"      // bool: a JSON boolean
)

// Location is the zone of a timestamp type's ingest layout and stored values (UTC when none).
func (t Type) Location() (*time.Location, error) {
	if t.Zone == "" || t.Zone == "UTC" {
		return time.UTC, nil
	}
	return time.LoadLocation(t.Zone)
}

// Step is the precision to which a timestamp type keeps instants (0: the nanosecond).
func (t Type) Step() (time.Duration, error) {
	if t.Precision == "" {
		return 0, nil
	}
	return time.ParseDuration(t.Precision)
}

// Range is the span of instants a timestamp type holds; a zero end is unbounded.
func (t Type) Range() (lo, hi time.Time, err error) {
	for _, b := range []struct {
		s   string
		out *time.Time
	}{{t.Min, &lo}, {t.Max, &hi}} {
		if b.s == "" {
			continue
		}
		if *b.out, err = time.Parse(time.RFC3339Nano, b.s); err != nil {
			return lo, hi, fmt.Errorf("%q is not an RFC 3339 instant", b.s)
		}
	}
	if !lo.IsZero() && !hi.IsZero() && hi.Before(lo) {
		return lo, hi, fmt.Errorf("max %s is before min %s", t.Max, t.Min)
	}
	return lo, hi, nil
}

// checkTypes adds a problem for each type whose ingest encoding, zone, precision or range the
// run could not use.
func (c *converter) checkTypes(ts Types) {
	for _, e := range []struct {
		name string
		t    Type
		ways []string // "" stands for any Go layout; nil: always as JSON
	}{
		{"string", ts.String, nil}, {"int", ts.Int, nil},
		{"decimal", ts.Decimal, []string{AsSeeded, AsString, AsNumber}},
		{"bool", ts.Bool, []string{AsSeeded, AsBool, AsNumber, AsString}},
		{"timestamp", ts.Timestamp, []string{AsSeeded, ""}},
	} {
		at := func(f string) []string { return []string{"types", e.name, f} }
		switch {
		case e.t.Ingest == "":
		case e.ways == nil:
			c.add(at("ingest"), e.name+" values always travel as they are seeded (a JSON "+e.name+")")
		case !slices.Contains(e.ways, e.t.Ingest) && !slices.Contains(e.ways, ""):
			c.add(at("ingest"), fmt.Sprintf("%q (want %s)", e.t.Ingest, strings.Join(e.ways, ", ")))
		case !slices.Contains(e.ways, e.t.Ingest) && !strings.ContainsAny(e.t.Ingest, "0123456789"):
			c.add(at("ingest"), fmt.Sprintf("%q is neither as_seeded nor a Go time layout such as 2006-01-02 15:04:05", e.t.Ingest))
		}
		if e.name != "timestamp" {
			for _, f := range []struct{ key, v string }{{"zone", e.t.Zone}, {"precision", e.t.Precision}, {"min", e.t.Min}, {"max", e.t.Max}} {
				if f.v != "" {
					c.add(at(f.key), "only a timestamp type has a "+f.key)
				}
			}
			continue
		}
		if _, err := e.t.Location(); err != nil {
			c.add(at("zone"), fmt.Sprintf("unknown zone %q", e.t.Zone))
		}
		if d, err := e.t.Step(); err != nil || d < 0 || (d > 0 && time.Hour%d != 0) {
			c.add(at("precision"), fmt.Sprintf("%q does not divide an hour", e.t.Precision))
		}
		if _, _, err := e.t.Range(); err != nil {
			c.add(at("min"), err.Error())
		}
	}
}
