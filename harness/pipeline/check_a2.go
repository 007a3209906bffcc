package pipeline

import (
	"github.com/exportatscale/exportatscale/evidence"
)

// judgeA2 judges well-formedness: CSV parses as strict RFC 4180 with the declared header and CRLF line
// ends; PDFs validate, have the expected pages with a right "Page N of M" footer each, the header
// on every page, and every id once in ascending order; every export carries the right
// Content-Type and Content-Disposition: attachment with a filename.
func judgeA2(th Thresholds, t exported) evidence.Check {
	csv, pdf := t.CSV, t.PDF
	b := &builder{th: th}
	b.measure("a2.csv_parse_errors", float64(csv.ParseErrors), "errors")
	pdfMeasures := []struct {
		name string
		v    int
		unit string
	}{{"a2.pdf_invalid", pdf.Invalid, "documents"}, {"a2.pdf_page_mismatch", pdf.PageMismatch, "documents"},
		{"a2.pdf_missing_ids", pdf.MissingIDs, "ids"}, {"a2.pdf_header_missing_pages", pdf.TableHeaderMissing, "pages"}}
	for _, m := range pdfMeasures {
		if t.API.PDF {
			b.measure(m.name, float64(m.v), m.unit)
		} else {
			b.notApplicable(m.name, "the API has no PDF export")
		}
	}
	b.measure("a2.content_header_mismatches", float64(csv.ContentHeaderMismatches+pdf.ContentHeaderMismatches), "exports")
	b.info("a2.pdf_exports", float64(pdf.Exports), "documents")
	switch {
	case csv.Exports == 0:
		b.notRun = "no CSV export was received to judge"
	case pdf.Exports == 0 && t.API.PDF:
		b.notRun = "no PDF export was received to judge"
	}
	return b.check(csv.Examples, pdf.Examples)
}

var a2Check = define(Def{ID: "A2", Title: "well-formed",
	Spec:   "well-formed: RFC 4180 CSV with the declared header, valid paginated PDF, right content headers",
	Labels: []string{"assert", "A2"}, Applies: always}, measureExports, judgeA2)
