package exporter

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// exportQuery is a parsed export request. Columns are names, checked against the schema later.
type exportQuery struct {
	format  string // a name in formatTable
	columns []string
	after   uint64
	limit   int64 // -1: no limit
	bom     bool
}

// parseExportQuery parses and checks the raw query of an export request. Every parameter may appear
// once; unknown ones are refused so a typo never silently exports something else.
func parseExportQuery(raw string) (exportQuery, error) {
	q := exportQuery{limit: -1}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("malformed query string: %w", err)
	}
	if f := vals["format"]; len(f) == 1 {
		q.format = f[0] // known before the other checks, so that a refused export counts under its format
	}
	for k, v := range vals {
		if len(v) != 1 {
			return q, fmt.Errorf("query parameter %q given %d times", truncate([]byte(k)), len(v))
		}
		switch k {
		case "format", "columns", "after", "limit", "bom":
		default:
			return q, fmt.Errorf("unknown query parameter %q (known: format, columns, after, limit, bom)", truncate([]byte(k)))
		}
	}
	format, known := lookupFormat(q.format)
	switch {
	case known:
	case q.format == "":
		return q, fmt.Errorf("query parameter format is required: %s", strings.Join(formatNames(), " or "))
	default:
		return q, fmt.Errorf("format %q is not %s", truncate([]byte(q.format)), strings.Join(formatNames(), " or "))
	}
	if vals.Has("columns") {
		c := vals.Get("columns")
		if c == "" {
			return q, fmt.Errorf("columns is empty: list column names separated by commas, or leave it out for all")
		}
		q.columns = strings.Split(c, ",")
	}
	if vals.Has("after") {
		if q.after, err = strconv.ParseUint(vals.Get("after"), 10, 63); err != nil {
			return q, fmt.Errorf("after %q is not an id (a non-negative integer)", truncate([]byte(vals.Get("after"))))
		}
	}
	if vals.Has("limit") {
		if q.limit, err = strconv.ParseInt(vals.Get("limit"), 10, 64); err != nil || q.limit < 0 {
			return q, fmt.Errorf("limit %q is not a non-negative integer", truncate([]byte(vals.Get("limit"))))
		}
	}
	if vals.Has("bom") {
		switch vals.Get("bom") {
		case "1", "true":
			q.bom = true
		case "0", "false":
		default:
			return q, fmt.Errorf("bom %q is not 0 or 1", truncate([]byte(vals.Get("bom"))))
		}
		if !format.BOM {
			var takes []string
			for _, f := range formatTable {
				if f.BOM {
					takes = append(takes, "format="+f.Name)
				}
			}
			return q, fmt.Errorf("bom applies to %s only", strings.Join(takes, " or "))
		}
	}
	return q, nil
}

// resolveColumns maps the requested column names to schema indexes; none requested means all.
func resolveColumns(s Schema, names []string) ([]int, error) {
	if names == nil {
		idx := make([]int, len(s.Columns))
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	idx := make([]int, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		switch i := s.index(n); {
		case n == "id":
			return nil, fmt.Errorf("columns: id is always the first column and must not be listed")
		case i < 0:
			return nil, fmt.Errorf("columns: no column %q in this dataset", truncate([]byte(n)))
		case seen[n]:
			return nil, fmt.Errorf("columns: %q listed twice", n)
		default:
			seen[n] = true
			idx = append(idx, i)
		}
	}
	return idx, nil
}
