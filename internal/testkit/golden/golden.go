// Package golden compares a test's output with a golden file, or rewrites the file when the test
// binary runs with -update. It is the part of package testkit that must stay a leaf (standard
// library only): the packages testkit itself imports, such as evidence/render, use it too.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files from the output of the tests")

// Updating reports whether the test binary runs with -update.
func Updating() bool { return *update }

// Check compares got with the file at path. Under -update it writes got there first (making its
// directory), so the comparison passes and the change shows in git. A difference is reported
// with the first byte that differs and the lines around it.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < min(len(got), len(want)) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s differs from the output at byte %d (the output has %d bytes, the file %d); go test -update "+
		"rewrites it after checking the change\n output: %q\n   file: %q", path, i, len(got), len(want), around(got, i), around(want, i))
}

// around is the text of b from the line before offset i to the line after it.
func around(b []byte, i int) []byte {
	start := bytes.LastIndexByte(b[:min(i, len(b))], '\n')
	if start > 0 {
		start = bytes.LastIndexByte(b[:start], '\n')
	}
	end := len(b)
	if i < len(b) {
		if n := bytes.IndexByte(b[i:], '\n'); n >= 0 {
			end = i + n + 1
			if m := bytes.IndexByte(b[end:], '\n'); m >= 0 {
				end += m + 1
			}
		}
	}
	return b[start+1 : end]
}
