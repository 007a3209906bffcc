package pipeline

import (
	"context"
	"fmt"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
)

// measureExports is every export the run verified: what A1 and A2 judge.
func measureExports(_ context.Context, r *Run) (export.Tally, error) {
	if r.tally.CSV.Exports == 0 {
		return export.Tally{}, missing("exports to judge")
	}
	return r.tally, nil
}

// judgeA1 judges completeness: every seeded record exactly once in the CSV exports, every field equal to
// the seed (formula guard inverted, and applied exactly), and Content-Digest and Export-Rows
// present and right on every CSV and PDF export.
//
// When every CSV body arrived whole and exact but none carried a trailer (see
// export.CSVTotals.TrailersStripped), the check still fails, since no client could have verified
// those exports, and a note names the likely cause: an intermediary that drops HTTP trailers,
// not the exporter.
func judgeA1(th Thresholds, t export.Tally) evidence.Check {
	csv, pdf := t.CSV, t.PDF
	b := &builder{th: th}
	b.measure("a1.missing_rows", float64(csv.Missing), "rows")
	b.measure("a1.duplicate_rows", float64(csv.Duplicates), "rows")
	b.measure("a1.mismatched_fields", float64(csv.Mismatched), "fields")
	b.measure("a1.trailer_mismatches", float64(csv.IntegrityMismatches+pdf.IntegrityMismatches), "exports")
	b.info("a1.csv_exports", float64(csv.Exports), "exports")
	if csv.Unexpected > 0 {
		b.fail("%d CSV rows carry an id that was never seeded", csv.Unexpected)
	}
	if csv.OutOfOrder > 0 {
		b.fail("%d CSV rows are out of ascending id order", csv.OutOfOrder)
	}
	if csv.Exports == 0 {
		b.notRun = "no CSV export was received to judge"
	}
	if csv.TrailersStripped() {
		b.note(fmt.Sprintf("trailers stripped by an intermediary: %d of %d CSV bodies complete and exact, "+
			"trailers missing on every export (a proxy that drops HTTP trailers, e.g. nginx < 1.27.2); "+
			"the exporter's bodies are right, but no client can verify them on this path", csv.Exact, csv.Exports))
	}
	return b.check(csv.Examples, pdf.Examples)
}

var a1Check = define(Def{ID: "A1", Title: "complete",
	Spec:   "complete: every seeded record exactly once, every field equal, trailers right",
	Labels: []string{"assert", "A1"}, Applies: always}, measureExports, judgeA1)
