package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// testBundle is a bundle of the compare package's testdata: real runs' evidence.json and
// load-result.json with their SHA256SUMS lines.
func testBundle(name string) string { return filepath.Join("..", "..", "compare", "testdata", name) }

func TestCompare(t *testing.T) {
	for _, tt := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr string
	}{
		{"slow against healthy", []string{testBundle("series-1"), testBundle("slow4")}, 1,
			[]string{"samples.csv_latency_seconds", "regression", "3 regression(s):"}, "regressed against"},
		{"healthy against healthy", []string{testBundle("series-1"), testBundle("series-7")}, 0,
			[]string{"a3.failed_exports", "no regression"}, ""},
		{"missing bundle", []string{testBundle("series-1"), filepath.Join(t.TempDir(), "absent")}, 3, nil, "absent"},
		{"one bundle", []string{testBundle("series-1")}, 4, nil, "usage: evidence compare"},
		{"unreadable rules", []string{"--rules", filepath.Join(t.TempDir(), "absent.json"), testBundle("series-1"), testBundle("series-2")}, 4, nil, "read baseline rules"},
		{"help", []string{"-h"}, 0, []string{"usage: evidence compare"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"compare"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			for _, want := range tt.wantStdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
		})
	}
}
