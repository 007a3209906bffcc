package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/harness/seed"
)

// encoding is how values of each type travel to the API and what the API's types hold.
type encoding struct {
	types    map[string]profile.Type // by seed type
	decimal  string                  // as_seeded, string or number
	boolean  string                  // as_seeded/bool, number or string
	tsLayout string                  // "" as seeded
	tsZone   *time.Location
	lo, hi   time.Time // the instants a timestamp holds; zero: unbounded
	seeded   bool      // every type travels as seeded: records marshal as seed.Schema does
}

func newEncoding(p *profile.Profile) (encoding, error) {
	t := p.Types
	e := encoding{types: map[string]profile.Type{
		seed.TypeString: t.String, seed.TypeInt: t.Int, seed.TypeDecimal: t.Decimal,
		seed.TypeTimestamp: t.Timestamp, seed.TypeBool: t.Bool,
	}, decimal: or(t.Decimal.Ingest, profile.AsSeeded), boolean: or(t.Bool.Ingest, profile.AsSeeded),
		tsLayout: t.Timestamp.Ingest}
	if e.boolean == profile.AsBool {
		e.boolean = profile.AsSeeded
	}
	if e.tsLayout == profile.AsSeeded {
		e.tsLayout = ""
	}
	var err error
	if e.tsZone, err = t.Timestamp.Location(); err != nil {
		return e, fmt.Errorf("types.timestamp.zone: %w", err)
	}
	if e.lo, e.hi, err = t.Timestamp.Range(); err != nil {
		return e, fmt.Errorf("types.timestamp: %w", err)
	}
	e.seeded = e.decimal == profile.AsSeeded && e.boolean == profile.AsSeeded && e.tsLayout == ""
	return e, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (e encoding) typeName(seedType string) (string, error) {
	t, ok := e.types[seedType]
	if !ok {
		return "", fmt.Errorf("unknown type %q", seedType)
	}
	return t.Name, nil
}

// records encodes recs as one request body: ndjson, json_array, csv, or json (one object).
func (e encoding) records(format string, schema seed.Schema, recs []seed.Record) ([]byte, error) {
	var b bytes.Buffer
	switch format {
	case "csv":
		return e.csv(schema, recs)
	case "json_array":
		b.WriteByte('[')
	}
	for i, rec := range recs {
		line, err := e.object(schema, rec)
		if err != nil {
			return nil, err
		}
		if format == "json_array" && i > 0 {
			b.WriteByte(',')
		}
		b.Write(line)
		if format == "ndjson" {
			b.WriteByte('\n')
		}
	}
	if format == "json_array" {
		b.WriteByte(']')
	}
	return b.Bytes(), nil
}

// object is rec as one JSON object, id first and the columns in schema order.
func (e encoding) object(schema seed.Schema, rec seed.Record) ([]byte, error) {
	if e.seeded {
		return schema.MarshalRecord(rec)
	}
	conv := seed.Record{ID: rec.ID, Values: make([]any, len(rec.Values))}
	for i, c := range schema {
		if i >= len(rec.Values) {
			break
		}
		v, err := e.value(c.Type, rec.Values[i])
		if err != nil {
			return nil, fmt.Errorf("record %d, column %s: %w", rec.ID, c.Name, err)
		}
		conv.Values[i] = v
	}
	return schema.MarshalRecord(conv)
}

// value is a seeded value as the API takes it.
func (e encoding) value(typ string, v any) (any, error) {
	switch typ {
	case seed.TypeDecimal:
		s := fmt.Sprint(v)
		switch e.decimal {
		case profile.AsString:
			return s, nil
		case profile.AsNumber:
			return json.Number(s), nil
		}
	case seed.TypeBool:
		b, _ := v.(bool)
		switch e.boolean {
		case profile.AsNumber:
			if b {
				return int64(1), nil
			}
			return int64(0), nil
		case profile.AsString:
			return strconv.FormatBool(b), nil
		}
	case seed.TypeTimestamp:
		if e.tsLayout != "" {
			t, err := time.Parse(time.RFC3339Nano, fmt.Sprint(v))
			if err != nil {
				return nil, err
			}
			return t.In(e.tsZone).Format(e.tsLayout), nil
		}
	}
	return v, nil
}

// csv is recs as a CSV body: a header row, then the cells as the JSON encoding would send them.
func (e encoding) csv(schema seed.Schema, recs []seed.Record) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(append([]string{"id"}, schema.Names()...)); err != nil {
		return nil, err
	}
	row := make([]string, len(schema)+1)
	for _, rec := range recs {
		row[0] = strconv.FormatInt(rec.ID, 10)
		for i, c := range schema {
			v, err := e.value(c.Type, rec.Values[i])
			if err != nil {
				return nil, fmt.Errorf("record %d, column %s: %w", rec.ID, c.Name, err)
			}
			row[i+1] = fmt.Sprint(v)
		}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// Unstored is one value the API's type cannot hold as seeded.
type Unstored struct {
	Record  int64
	Field   string
	Problem string
}

func (u Unstored) String() string {
	return fmt.Sprintf("record %d, %s: %s", u.Record, u.Field, u.Problem)
}

// Unstorable lists each value of recs that the API's type cannot hold as seeded, by record and
// field: a timestamp outside the type's range. The run reports them at seed time; it never sends
// them to be compared later.
func (a *API) Unstorable(schema seed.Schema, recs []seed.Record) []Unstored {
	e := a.enc
	if e.lo.IsZero() && e.hi.IsZero() {
		return nil
	}
	var out []Unstored
	for _, rec := range recs {
		for i, c := range schema {
			if c.Type != seed.TypeTimestamp || i >= len(rec.Values) {
				continue
			}
			s := fmt.Sprint(rec.Values[i])
			t, err := time.Parse(time.RFC3339Nano, s)
			name := e.types[c.Type].Name
			switch {
			case err != nil:
				out = append(out, Unstored{rec.ID, c.Name, fmt.Sprintf("%q is not RFC 3339", s)})
			case !e.lo.IsZero() && t.Before(e.lo):
				out = append(out, Unstored{rec.ID, c.Name,
					fmt.Sprintf("%s is before the earliest instant %s holds (%s)", s, name, e.lo.Format(time.RFC3339))})
			case !e.hi.IsZero() && t.After(e.hi):
				out = append(out, Unstored{rec.ID, c.Name,
					fmt.Sprintf("%s is after the latest instant %s holds (%s)", s, name, e.hi.Format(time.RFC3339))})
			}
		}
	}
	return out
}
