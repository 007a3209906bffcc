package compare

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
)

// The bundles in testdata are evidence.json and load-result.json of real runs, each with its line
// of the run's SHA256SUMS: series-1, -2, -4 and -7 of ten consecutive healthy container runs, and
// slow4, the same exporter with every CSV export slowed to 4 MiB/s by a proxy (a url run).

// bundleDir is the testdata bundle of that run.
func bundleDir(name string) string { return filepath.Join("testdata", name) }

// mustLoad loads the testdata bundle of that run.
func mustLoad(t *testing.T, name string) Bundle {
	t.Helper()
	b, err := Load(bundleDir(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// copyBundle copies the testdata bundle of that run into a temporary directory and lets edit
// change its files (name → content; nil content deletes the file) before SHA256SUMS is rewritten
// for the files left, unless keepSums.
func copyBundle(t *testing.T, name string, keepSums bool, edit func(files map[string][]byte)) string {
	t.Helper()
	files := map[string][]byte{}
	for _, f := range []string{evidence.FileJSON, FileLoadResult, evidence.FileSums} {
		b, err := os.ReadFile(filepath.Join(bundleDir(name), f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
	}
	if edit != nil {
		edit(files)
	}
	if !keepSums {
		var sums strings.Builder
		for _, f := range []string{evidence.FileJSON, FileLoadResult} {
			if b := files[f]; b != nil {
				sum := sha256.Sum256(b)
				fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), f)
			}
		}
		files[evidence.FileSums] = []byte(sums.String())
	}
	dir := t.TempDir()
	for f, b := range files {
		if b == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	for _, name := range []string{"series-1", "series-2", "series-4", "series-7", "slow4"} {
		b := mustLoad(t, name)
		if b.Report.RunID != name || len(b.Samples) != 120 || b.Dir != bundleDir(name) {
			t.Errorf("%s: run %q, %d samples, dir %q", name, b.Report.RunID, len(b.Samples), b.Dir)
		}
	}
	// A run that never got to the load test has no load-result.json: a bundle without samples.
	dir := copyBundle(t, "series-1", false, func(f map[string][]byte) { f[FileLoadResult] = nil })
	if b, err := Load(dir); err != nil || len(b.Samples) != 0 {
		t.Errorf("bundle without %s: %d samples, %v", FileLoadResult, len(b.Samples), err)
	}
}

func TestLoadRefuses(t *testing.T) {
	edited := func(f map[string][]byte) {
		f[evidence.FileJSON] = []byte(strings.Replace(string(f[evidence.FileJSON]), `"a1.missing_rows",
          "value": 0`, `"a1.missing_rows",
          "value": 3`, 1))
	}
	for _, tt := range []struct {
		name, dir, wantErr string
	}{
		{"missing", filepath.Join(t.TempDir(), "absent"), "no such file"},
		{"no SHA256SUMS", copyBundle(t, "series-1", true, func(f map[string][]byte) { f[evidence.FileSums] = nil }), "SHA256SUMS: no such file"},
		{"malformed SHA256SUMS", copyBundle(t, "series-1", true, func(f map[string][]byte) { f[evidence.FileSums] = []byte("not a sum\n") }), "not a sha256sum line"},
		{"evidence.json edited", copyBundle(t, "series-1", true, edited), "evidence.json: SHA-256"},
		{"evidence.json edited, SHA256SUMS too", copyBundle(t, "series-1", false, edited), "contradicts itself"},
		{"evidence.json not listed", copyBundle(t, "series-1", true, func(f map[string][]byte) {
			f[evidence.FileSums] = []byte(strings.SplitAfter(string(f[evidence.FileSums]), "\n")[0]) // load-result.json's line
		}), "evidence.json is not listed"},
		{"load-result.json listed but gone", copyBundle(t, "series-1", true, func(f map[string][]byte) { f[FileLoadResult] = nil }), "listed in SHA256SUMS but cannot be read"},
		{"load-result.json edited", copyBundle(t, "series-1", true, func(f map[string][]byte) { f[FileLoadResult] = append(f[FileLoadResult], ' ') }), "load-result.json: SHA-256"},
		{"load-result.json not JSON", copyBundle(t, "series-1", false, func(f map[string][]byte) { f[FileLoadResult] = []byte("[") }), "load-result.json: unexpected end"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(tt.dir); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load = %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}
