package exporter

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/exportatscale/exportatscale/internal/testkit/golden"
)

// goldenQueries are the export options the golden files cover.
var goldenQueries = []struct{ name, query string }{
	{"all", ""},
	{"bom", "&bom=true"},
	{"columns", "&columns=note,qty,symbol"},
	{"after-limit", "&after=40&limit=1500"},
}

// goldenRecords are the nasty records, then plain ones from id 1000 to last with the nasty strings
// as their notes in turn.
func goldenRecords(last uint64) []testRecord {
	recs := append(nastyRecords(), plainRecords(1000, last)...)
	for i := range recs[len(nastyRecords()):] {
		r := &recs[len(nastyRecords())+i]
		r.Note = nastyStrings[i%len(nastyStrings)]
	}
	return recs
}

// TestCSVGolden pins the exact bytes of CSV exports: the nasty cells (quoting, the formula guard)
// among plain rows, in each export option. testdata/csv/NAME.csv holds a small export whole;
// testdata/csv/large.txt the length and digest of each export of a dataset whose body spans many
// chunks. A change meant to make exports faster must leave these files as they are.
func TestCSVGolden(t *testing.T) {
	ts := newTestServer(t)
	ts.seedTestDataset(t, "g", goldenRecords(4000))
	ts.seedTestDataset(t, "large", goldenRecords(60000))
	var large bytes.Buffer
	for _, tt := range goldenQueries {
		_, body := ts.exportCSV(t, "large", tt.query)
		fmt.Fprintf(&large, "%s %d %s\n", tt.name, len(body), contentDigest(body))
	}
	golden.Check(t, filepath.Join("testdata", "csv", "large.txt"), large.Bytes())
	for _, tt := range goldenQueries {
		t.Run(tt.name, func(t *testing.T) {
			_, body := ts.exportCSV(t, "g", tt.query)
			golden.Check(t, filepath.Join("testdata", "csv", tt.name+".csv"), body)
		})
	}
}
