package exporter

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the current output")

// TestCSVGolden pins the exact bytes of CSV exports: the nasty cells (quoting, the formula guard)
// between enough plain rows that the body spans many chunks, in each export option. A change meant
// to make exports faster must leave these files as they are.
func TestCSVGolden(t *testing.T) {
	ts := newTestServer(t)
	recs := append(nastyRecords(), plainRecords(1000, 4000)...)
	for i := range recs[len(nastyRecords()):] {
		r := &recs[len(nastyRecords())+i]
		r.Note = nastyStrings[i%len(nastyStrings)]
	}
	ts.seedTestDataset(t, "g", recs)
	for _, tt := range []struct{ name, query string }{
		{"all", ""},
		{"bom", "&bom=true"},
		{"columns", "&columns=note,qty,symbol"},
		{"after-limit", "&after=40&limit=1500"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, body := ts.exportCSV(t, "g", tt.query)
			path := filepath.Join("testdata", "csv", tt.name+".csv")
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
				t.Errorf("export differs from %s at byte %d of %d (want %d bytes)", path, i, len(body), len(want))
			}
		})
	}
}
