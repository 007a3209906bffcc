package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/profile"
)

// smoking is what Smoke measured: the full CSV and PDF exports and every failed export's lines.
type smoking struct {
	CSV      export.CSVReport
	PDF      export.PDFReport
	Exports  int
	Failures []string
}

// variants are the export options each format is exercised with, for a dataset of n records
// with ids 1..n: everything, a column subset, a window by after and limit, a BOM, and
// combinations of them; of those, the ones the API's options allow (none for PDF when it has no
// PDF export).
func variants(n int, api profile.Capabilities) (csv, pdf []export.Options) {
	csv, pdf = allVariants(n)
	if !api.PDF {
		pdf = nil
	}
	return supported(csv, api), supported(pdf, api)
}

// supported are the options of opts that use only what the API offers.
func supported(opts []export.Options, c profile.Capabilities) []export.Options {
	var out []export.Options
	for _, o := range opts {
		if (o.Columns == nil || c.Columns) && (o.After == 0 || c.Resume) && (o.Limit == 0 || c.Limit) && (!o.BOM || c.BOM) {
			out = append(out, o)
		}
	}
	return out
}

func allVariants(n int) (csv, pdf []export.Options) {
	csv = []export.Options{
		{},
		{Columns: []string{"trade_ts", "account", "symbol", "quantity", "price", "note"}},
		{After: int64(n / 4), Limit: n / 2},
		{BOM: true},
		{Columns: []string{"note", "quantity", "trade_ts"}, After: int64(n / 10), Limit: n / 4, BOM: true},
		{After: int64(n - 3)},
		{Limit: 1, Columns: []string{"symbol"}},
	}
	pdf = []export.Options{
		{},
		{Columns: []string{"account", "symbol", "quantity", "price", "note"}, After: int64(n / 5), Limit: n / 2},
	}
	return csv, pdf
}

// measureSmoke exports the smoke set as CSV and PDF with every option and combination of options,
// and verifies each export in full.
func measureSmoke(ctx context.Context, r *Run) (smoking, error) {
	ds := r.datasets["smoke"]
	if ds == nil {
		return smoking{}, missing("the smoke dataset")
	}
	csvOpts, pdfOpts := variants(len(ds.records), r.caps.API())
	s := smoking{Exports: len(csvOpts) + len(pdfOpts)}
	var err error
	if s.CSV, err = smokeFormat(ctx, r, &s, ds, "CSV", csvOpts, r.verifyCSV,
		func(c export.CSVReport) (string, export.Fetch, []string) { return c.Failure(), c.Fetch, c.Examples }); err != nil {
		return s, err
	}
	s.PDF, err = smokeFormat(ctx, r, &s, ds, "PDF", pdfOpts, r.verifyPDF,
		func(p export.PDFReport) (string, export.Fetch, []string) { return p.Failure(), p.Fetch, p.Examples })
	return s, err
}

// smokeFormat exports ds in one format with each of opts through verify, which verifies it in
// full, keeps each export's failure in s through failure, and returns the first export's report.
func smokeFormat[R any](ctx context.Context, r *Run, s *smoking, ds *dataset, format string, opts []export.Options,
	verify func(context.Context, *export.Expected) R, failure func(R) (string, export.Fetch, []string)) (R, error) {
	var first R
	for i, opt := range opts {
		exp, err := r.expect(ds, opt)
		if err != nil {
			return first, err
		}
		r.say(fmt.Sprintf("exporting the smoke dataset as %s with %s", format, describeOptions(opt)))
		rep := verify(ctx, exp)
		if i == 0 {
			first = rep
		}
		msg, fetch, examples := failure(rep)
		s.failed(format, opt, msg, fetch, examples)
	}
	return first, nil
}

// failed keeps an export's failure, if any, with its first examples.
func (s *smoking) failed(format string, opt export.Options, failure string, f export.Fetch, examples []string) {
	if failure == "" {
		return
	}
	s.Failures = append(s.Failures, fmt.Sprintf("%s with %s: %s%s", format, describeOptions(opt), failure, describeFetch(f)))
	s.Failures = append(s.Failures, examples[:min(len(examples), 3)]...)
}

func judgeSmoke(th Thresholds, s smoking) evidence.Check {
	b := &builder{th: th}
	b.info("smoke.csv_rows", float64(s.CSV.Rows), "rows")
	b.info("smoke.csv_seconds", s.CSV.Latency.Seconds(), "s")
	b.info("smoke.pdf_pages", float64(s.PDF.Pages), "pages")
	b.info("smoke.pdf_seconds", s.PDF.Latency.Seconds(), "s")
	b.info("smoke.exports", float64(s.Exports), "exports")
	for _, f := range s.Failures {
		b.fail("%s", f)
	}
	return b.check()
}

func describeOptions(o export.Options) string {
	s := ""
	if o.Columns != nil {
		s += fmt.Sprintf(" columns=%v", o.Columns)
	}
	if o.After > 0 {
		s += fmt.Sprintf(" after=%d", o.After)
	}
	if o.Limit > 0 {
		s += fmt.Sprintf(" limit=%d", o.Limit)
	}
	if o.BOM {
		s += " bom=1"
	}
	if s == "" {
		return "no options"
	}
	return s[1:]
}

var smokeCheck = define(Def{ID: "smoke", Title: "1k rows exported as CSV and PDF with every option, each fully verified",
	Spec: "exports 1k rows as CSV and PDF with every option, each fully verified", Labels: []string{"smoke"},
	Timeout: 2 * time.Minute, Applies: always}, measureSmoke, judgeSmoke)
