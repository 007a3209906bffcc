package pipeline

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

func TestA1(t *testing.T) {
	th := testkit.Thresholds(t)
	for _, tt := range []struct {
		name   string
		csv    export.CSVTotals
		pdf    export.PDFTotals
		status evidence.Status
		line   string
	}{
		{"clean", export.CSVTotals{Exports: 2}, export.PDFTotals{Exports: 1}, evidence.StatusPassed, ""},
		{"nothing received", export.CSVTotals{}, export.PDFTotals{}, evidence.StatusNotRun, "no CSV export"},
		{"missing", export.CSVTotals{Exports: 1, Missing: 2, Examples: []string{"id 4 missing"}}, export.PDFTotals{}, evidence.StatusFailed, "id 4 missing"},
		{"out of order", export.CSVTotals{Exports: 1, OutOfOrder: 1}, export.PDFTotals{}, evidence.StatusFailed, "out of ascending id order"},
		{"PDF header wrong", export.CSVTotals{Exports: 1}, export.PDFTotals{Exports: 1, IntegrityMismatches: 1}, evidence.StatusFailed, "a1.trailer_mismatches = 1 exports breaks == 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := judgeA1(th, exported{Tally: export.Tally{CSV: tt.csv, PDF: tt.pdf}, API: v1Caps()})
			if c.Status != tt.status || !mentions(c.Failures, tt.line) {
				t.Errorf("check %+v", c)
			}
		})
	}
}

// TestA1TrailersStripped tallies CSV reports as the pipeline does and judges them: only when every
// body is whole and exact and not one export carried an integrity field does A1 blame an
// intermediary, and A1 fails whatever the cause.
func TestA1TrailersStripped(t *testing.T) {
	const note = "trailers stripped by an intermediary"
	whole := export.Fetch{Format: export.CSV, Status: http.StatusOK, Complete: true}
	stripped := export.CSVReport{Fetch: whole, HeaderOK: true, Rows: 3,
		Integrity: export.Integrity{Problems: []string{"Content-Digest missing", "Export-Rows missing"}}}
	withTrailers := export.CSVReport{Fetch: whole, HeaderOK: true, Rows: 3, Integrity: export.Integrity{DigestOK: true, RowsOK: true, Present: true}}
	rowMissing := stripped
	rowMissing.Missing = 1
	cut := stripped
	cut.Complete = false
	for _, tt := range []struct {
		name    string
		reports []export.CSVReport
		status  evidence.Status
		noted   bool
	}{
		{"every export stripped, bodies exact", []export.CSVReport{stripped, stripped, stripped}, evidence.StatusFailed, true},
		{"healthy", []export.CSVReport{withTrailers, withTrailers}, evidence.StatusPassed, false},
		{"some exports without trailers", []export.CSVReport{stripped, withTrailers, stripped}, evidence.StatusFailed, false},
		{"a body missing a row", []export.CSVReport{stripped, rowMissing, stripped}, evidence.StatusFailed, false},
		{"a body cut short", []export.CSVReport{stripped, cut}, evidence.StatusFailed, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var tl export.Tally
			for _, r := range tt.reports {
				tl.Add(r)
			}
			c := judgeA1(testkit.Thresholds(t), exported{Tally: export.Tally{CSV: tl.CSV, PDF: tl.PDF}, API: v1Caps()})
			noted := slices.ContainsFunc(c.Notes, func(n string) bool { return strings.HasPrefix(n, note) })
			if c.Status != tt.status || noted != tt.noted {
				t.Errorf("A1 %s, notes %q; want %s, noted %v", c.Status, c.Notes, tt.status, tt.noted)
			}
			if noted && !slices.Contains(c.Notes, fmt.Sprintf("%s: %d of %d CSV bodies complete and exact, trailers missing on every export "+
				"(a proxy that drops HTTP trailers, e.g. nginx < 1.27.2); the exporter's bodies are right, but no client can verify them on this path",
				note, len(tt.reports), len(tt.reports))) {
				t.Errorf("note %q", c.Notes)
			}
		})
	}
}
