package exporter

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the current output")

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
	checkGolden(t, filepath.Join("testdata", "csv", "large.txt"), large.Bytes())
	for _, tt := range goldenQueries {
		t.Run(tt.name, func(t *testing.T) {
			_, body := ts.exportCSV(t, "g", tt.query)
			checkGolden(t, filepath.Join("testdata", "csv", tt.name+".csv"), body)
		})
	}
}

// checkGolden compares body with the golden file at path (rewriting it first with -update).
func checkGolden(t *testing.T, path string, body []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		i := 0
		for i < min(len(body), len(want)) && body[i] == want[i] {
			i++
		}
		t.Errorf("output differs from %s at byte %d of %d (want %d bytes)", path, i, len(body), len(want))
	}
}
