package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/harness/seed"
)

// CreateDataset is the request that declares dataset with schema: {columns} is each column
// through the profile's column template, with the API's name of its type.
func (a *API) CreateDataset(ctx context.Context, dataset string, schema seed.Schema) (*http.Request, error) {
	cols := make([]any, len(schema))
	texts := make([]string, len(schema))
	for i, c := range schema {
		typ, err := a.enc.typeName(c.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		col := values{"name": text(c.Name), "type": text(typ)}
		cols[i] = col.body(a.p.Dataset.Column)
		t, err := col.bodyText(a.p.Dataset.Column)
		if err != nil {
			return nil, err
		}
		texts[i] = string(t)
	}
	return a.request(ctx, a.p.Dataset.Create, values{
		"dataset": text(dataset),
		"columns": {text: strings.Join(texts, ", "), json: cols},
	})
}

// RemoveDataset is the request that removes dataset; nil when the API has none.
func (a *API) RemoveDataset(ctx context.Context, dataset string) (*http.Request, error) {
	if a.p.Dataset.Remove == nil {
		return nil, nil
	}
	return a.request(ctx, *a.p.Dataset.Remove, values{"dataset": text(dataset)})
}

// Ingest is the request that sends recs to dataset: one record through the single-record request
// in seed.ModeSingle, else a batch in the profile's batch format.
func (a *API) Ingest(ctx context.Context, dataset string, schema seed.Schema, mode seed.Mode, recs []seed.Record) (*http.Request, error) {
	in := a.p.Ingest
	if in.Batch == nil {
		return nil, errors.New("the profile ingests through a command, not requests")
	}
	t, format := in.Batch.Request, in.Batch.Format
	if mode == seed.ModeSingle {
		if in.Single == nil {
			return nil, errors.New("the API has no single-record ingest")
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("a single-record request carries one record, not %d", len(recs))
		}
		t, format = *in.Single, "json"
	}
	body, err := a.enc.records(format, schema, recs)
	if err != nil {
		return nil, err
	}
	return a.request(ctx, t, values{"dataset": text(dataset), "records": text(string(body))})
}

// Accepted checks an ingest answer's body against the sent records: through the profile's JSON
// pointer to the confirmed count when it has one; otherwise a 2xx answer confirms them all.
func (a *API) Accepted(body []byte, sent int) error {
	ptr := ""
	if a.p.Ingest.Batch != nil {
		ptr = a.p.Ingest.Batch.Accepted
	}
	if ptr == "" {
		return nil
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("ingest answer %q is not JSON", short(body))
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := doc.(map[string]any)
		if !ok {
			return fmt.Errorf("ingest answer %q has no %s", short(body), ptr)
		}
		doc = m[tok]
	}
	n, ok := doc.(float64)
	if !ok {
		return fmt.Errorf("ingest answer %q has no count at %s", short(body), ptr)
	}
	if int(n) != sent {
		return fmt.Errorf("the API accepted %d of %d records", int(n), sent)
	}
	return nil
}

func short(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// Export is the request for an export of dataset in format with opt; columns are the declared
// columns the export selects, in order (export.Expected's header without the id). An option the
// run does not set takes the profile's unset text for it ("" when none).
func (a *API) Export(ctx context.Context, format, dataset string, opt export.Options, columns []string) (*http.Request, error) {
	var t profile.Request
	var unset map[string]string
	switch {
	case format == export.CSV:
		t, unset = a.p.Export.CSV.Request, a.p.Export.CSV.Unset
	case format == export.PDF && a.p.Export.PDF != nil:
		t, unset = a.p.Export.PDF.Request, a.p.Export.PDF.Unset
	default:
		return nil, fmt.Errorf("the API has no %s export", format)
	}
	return a.request(ctx, t, exportValues(format, dataset, opt, columns, unset))
}

// Count is the request that answers how many rows the export of dataset with opt holds: the
// profile's integrity request (count_request), filled as the CSV export is.
func (a *API) Count(ctx context.Context, dataset string, opt export.Options, columns []string) (*http.Request, error) {
	r := a.p.Integrity.Request
	if r == nil {
		return nil, fmt.Errorf("the profile has no count request")
	}
	return a.request(ctx, *r, exportValues(export.CSV, dataset, opt, columns, a.p.Export.CSV.Unset))
}

// exportValues fill an export's placeholders: an option the run does not set takes the profile's
// unset text for it ("" when none).
func exportValues(format, dataset string, opt export.Options, columns []string, unset map[string]string) values {
	v := values{"dataset": text(dataset), "columns": text(unset["columns"]), "after": text(unset["after"]),
		"limit": text(unset["limit"]), "bom": text("")}
	if opt.Columns != nil || unset["columns"] == "all" {
		v["columns"] = text(joined(columns))
	}
	if opt.After > 0 {
		v["after"] = text(strconv.FormatInt(opt.After, 10))
	}
	if opt.Limit > 0 {
		v["limit"] = text(strconv.Itoa(opt.Limit))
	}
	if opt.BOM && format == export.CSV {
		v["bom"] = text("1")
	}
	return v
}

// Existed reports whether a successful create's status says the dataset was there already.
func (a *API) Existed(status int) bool {
	return a.p.Dataset.Exists != 0 && status == a.p.Dataset.Exists
}
