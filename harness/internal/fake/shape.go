package fake

import (
	"encoding/json"
	"errors"
	"io"
)

// shape is one API shape the fake serves over the same store, limits, metrics and faults: the v1
// API of docs/api.md, or the second one (harness/selftest/testdata/fake-second.yaml), whose paths,
// parameter names, schema body, ingest and CSV dialect differ.
type shape struct {
	// The export query's parameter names. An empty format means the route exports CSV only; an
	// empty bom, that it offers no byte order mark.
	format, columns, after, limit, bom string
	dialect                            csvDialect
	// schema decodes a create body into the dataset's columns, types by their v1 names.
	schema func(io.Reader) ([]column, error)
	// accepted names the ingest answer's count of records stored.
	accepted string
}

// csvDialect is how a shape writes CSV.
type csvDialect struct {
	lineEnd  string // "\r\n" or "\n"
	quoteAll bool   // every field in double quotes, the header's too; else only those that need it
	rows     string // the trailer with the row count (the digest is always Content-Digest)
}

// v1 is the API of docs/api.md: RFC 4180 CSV (CRLF, minimal quoting), trailers
// Content-Digest and Export-Rows.
var v1 = &shape{format: "format", columns: "columns", after: "after", limit: "limit", bom: "bom",
	dialect: csvDialect{lineEnd: "\r\n", rows: "Export-Rows"}, schema: v1Schema, accepted: "accepted"}

// second is the second shape: POST /api/tables/{name} with {"fields":[{"field","kind"}]}, a JSON
// array of records to /api/tables/{name}/rows answered {"stored":N}, and CSV only from
// /api/tables/{name}/download?fields=&since=&max=, with LF line ends, every field quoted, the same
// formula guard as v1, and trailers Content-Digest and Row-Count. It has no PDF.
var second = &shape{columns: "fields", after: "since", limit: "max",
	dialect: csvDialect{lineEnd: "\n", quoteAll: true, rows: "Row-Count"}, schema: secondSchema, accepted: "stored"}

func v1Schema(r io.Reader) ([]column, error) {
	var body struct {
		Columns []column `json:"columns"`
	}
	if err := strictDecode(r, &body); err != nil || len(body.Columns) == 0 {
		return nil, errors.New(`body must be {"columns":[{"name","type"},...]}`)
	}
	return body.Columns, nil
}

// secondKinds are the second shape's type names, by v1's.
var secondKinds = map[string]string{"text": "string", "integer": "int", "numeric": "decimal", "instant": "timestamp", "boolean": "bool"}

func secondSchema(r io.Reader) ([]column, error) {
	var body struct {
		Fields []struct {
			Field string `json:"field"`
			Kind  string `json:"kind"`
		} `json:"fields"`
	}
	if err := strictDecode(r, &body); err != nil || len(body.Fields) == 0 {
		return nil, errors.New(`body must be {"fields":[{"field","kind"},...]}`)
	}
	cols := make([]column, len(body.Fields))
	for i, f := range body.Fields {
		cols[i] = column{Name: f.Field, Type: secondKinds[f.Kind]}
		if cols[i].Type == "" {
			cols[i].Type = "kind " + f.Kind // unknown: refused as a type
		}
	}
	return cols, nil
}

// strictDecode decodes one JSON value of at most 1 MiB from r into v, refusing unknown fields.
func strictDecode(r io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
