package pipeline

import (
	"context"
	"fmt"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/profile"
)

// exported is every export the run verified, and what the API declares of them: what A1 and A2
// judge.
type exported struct {
	export.Tally
	API       profile.Capabilities
	Integrity string            // how a whole export proves itself (the profile's integrity kind)
	Waivers   map[string]string // measure → why the profile waives it
}

// measureExports is every export the run verified.
func measureExports(_ context.Context, r *Run) (exported, error) {
	if r.tally.CSV.Exports == 0 {
		return exported{}, missing("exports to judge")
	}
	return exported{Tally: r.tally, API: r.caps.API(), Integrity: r.cfg.Profile.Integrity.Kind, Waivers: r.waivers()}, nil
}

// waivers are the profile's, by measure.
func (r *Run) waivers() map[string]string {
	w := map[string]string{}
	for _, x := range r.cfg.Profile.Waivers {
		w[x.Measure] = x.Reason
	}
	return w
}

// judgeA1 judges completeness: every seeded record exactly once in the CSV exports, every field equal to
// the seed (formula guard inverted, and applied exactly), and Content-Digest and Export-Rows
// present and right on every CSV and PDF export.
//
// When every CSV body arrived whole and exact but none carried a trailer (see
// export.CSVTotals.TrailersStripped), the check still fails, since no client could have verified
// those exports, and a note names the likely cause: an intermediary that drops HTTP trailers,
// not the exporter.
//
// a1.truncation_detectable is whether a client can tell a cut export from a whole one at all (the
// profile's integrity is not none): an API that gives it no way is RED, unless the profile waives
// the measure.
func judgeA1(th Thresholds, t exported) evidence.Check {
	csv, pdf := t.CSV, t.PDF
	b := &builder{th: th}
	b.measure("a1.missing_rows", float64(csv.Missing), "rows")
	b.measure("a1.duplicate_rows", float64(csv.Duplicates), "rows")
	b.measure("a1.mismatched_fields", float64(csv.Mismatched), "fields")
	b.measure("a1.trailer_mismatches", float64(csv.IntegrityMismatches+pdf.IntegrityMismatches), "exports")
	b.info("a1.csv_exports", float64(csv.Exports), "exports")
	detectable := 0.0
	if t.API.Truncation {
		detectable = 1
	}
	b.measure("a1.truncation_detectable", detectable, "")
	b.waive("a1.truncation_detectable", t.Waivers["a1.truncation_detectable"])
	if !t.API.Truncation {
		b.note("integrity " + t.Integrity + ": nothing in an export tells a client that it was cut short")
	}
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
