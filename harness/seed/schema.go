// Package seed makes deterministic, realistic trade records from a seeded PRNG and loads them into
// an exporter over HTTP (batch NDJSON or one record per request), recording a manifest of what was
// sent. The expected cell text of every record is derived here, from the records and the v1 API
// contract (docs/design.md), never from an exporter's encoder.
package seed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Column types of the exporter API.
const (
	TypeString    = "string"
	TypeInt       = "int"
	TypeDecimal   = "decimal"
	TypeTimestamp = "timestamp"
	TypeBool      = "bool"
)

// Column is one declared column of a dataset.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Schema is the ordered list of declared columns; the implicit id column is not part of it.
type Schema []Column

// Trades returns the schema of the trades dataset Generate fills: eleven declared columns.
func Trades() Schema {
	return Schema{
		{"trade_ts", TypeTimestamp},
		{"account", TypeString},
		{"symbol", TypeString},
		{"side", TypeString},
		{"quantity", TypeInt},
		{"price", TypeDecimal},
		{"notional", TypeDecimal},
		{"currency", TypeString},
		{"status", TypeString},
		{"is_amended", TypeBool},
		{"note", TypeString},
	}
}

// Names returns the declared column names in order.
func (s Schema) Names() []string {
	names := make([]string, len(s))
	for i, c := range s {
		names[i] = c.Name
	}
	return names
}

// Index returns the position of the named column, or -1.
func (s Schema) Index(name string) int {
	for i, c := range s {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Record is one record as sent to the exporter: its id and one JSON value per schema column, in
// schema order. Values are string (string, timestamp, decimal), json.Number (decimal sent as a JSON
// number), int64 (int) or bool (bool).
type Record struct {
	ID     int64
	Values []any
}

// MarshalRecord encodes rec as one JSON object with "id" first and the columns in schema order, so
// the bytes (and the manifest digest) are deterministic.
func (s Schema) MarshalRecord(rec Record) ([]byte, error) {
	if len(rec.Values) != len(s) {
		return nil, fmt.Errorf("record %d: %d values for %d columns", rec.ID, len(rec.Values), len(s))
	}
	var b bytes.Buffer
	b.WriteString(`{"id":`)
	b.WriteString(strconv.FormatInt(rec.ID, 10))
	for i, c := range s {
		b.WriteByte(',')
		name, _ := json.Marshal(c.Name)
		b.Write(name)
		b.WriteByte(':')
		v, err := marshalValue(rec.Values[i])
		if err != nil {
			return nil, fmt.Errorf("record %d, column %s: %w", rec.ID, c.Name, err)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalValue encodes one value without HTML escaping, so "<" and "&" travel as themselves.
func marshalValue(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Cells returns the cell text the contract promises for rec, id first, before the CSV formula guard:
// int as decimal digits, decimal exactly as given, timestamp in RFC 3339 UTC with its fractional
// seconds, bool as true/false, strings as given.
func (s Schema) Cells(rec Record) ([]string, error) {
	if len(rec.Values) != len(s) {
		return nil, fmt.Errorf("record %d: %d values for %d columns", rec.ID, len(rec.Values), len(s))
	}
	cells := make([]string, 0, len(s)+1)
	cells = append(cells, strconv.FormatInt(rec.ID, 10))
	for i, c := range s {
		cell, err := cellText(c.Type, rec.Values[i])
		if err != nil {
			return nil, fmt.Errorf("record %d, column %s: %w", rec.ID, c.Name, err)
		}
		cells = append(cells, cell)
	}
	return cells, nil
}

func cellText(typ string, v any) (string, error) {
	switch typ {
	case TypeString, TypeDecimal:
		switch v := v.(type) {
		case string:
			return v, nil
		case json.Number:
			return string(v), nil
		}
	case TypeInt:
		if n, ok := v.(int64); ok {
			return strconv.FormatInt(n, 10), nil
		}
	case TypeBool:
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
	case TypeTimestamp:
		if s, ok := v.(string); ok {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return "", err
			}
			return t.UTC().Format(time.RFC3339Nano), nil
		}
	default:
		return "", fmt.Errorf("unknown type %q", typ)
	}
	return "", fmt.Errorf("%T is not a %s value", v, typ)
}

// Guard applies the documented CSV formula-injection guard to a string cell: a cell starting with
// =, +, -, @, tab, CR or ' gets a ' prefix. Typed cells are never guarded.
func Guard(cell string) string {
	if cell != "" && strings.IndexByte("=+-@\t\r'", cell[0]) >= 0 {
		return "'" + cell
	}
	return cell
}

// Unguard inverts Guard: it drops one leading ' from a string cell.
func Unguard(cell string) string {
	return strings.TrimPrefix(cell, "'")
}
