package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHistory(t *testing.T) {
	page := filepath.Join(t.TempDir(), "history.html")
	code, stdout, stderr := runCLI(t, "history", "--html", page, testBundle("series-2"), testBundle("slow4"), testBundle("series-1"))
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	lines := strings.Split(stdout, "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[1], "slow4 ") || !strings.HasPrefix(lines[2], "series-1 ") || !strings.HasPrefix(lines[3], "series-2 ") {
		t.Errorf("not oldest first:\n%s", stdout)
	}
	b, err := os.ReadFile(page)
	if err != nil || !strings.HasPrefix(string(b), "<!DOCTYPE html>") || !strings.Contains(string(b), "<svg") {
		t.Errorf("page %s: %v, %.40q", page, err, b)
	}

	for _, tt := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no bundle", nil, 4, "usage: evidence history"},
		{"missing bundle", []string{testBundle("series-1"), filepath.Join(t.TempDir(), "absent")}, 3, "absent"},
		{"page not writable", []string{"--html", filepath.Join(t.TempDir(), "no", "such", "dir.html"), testBundle("series-1")}, 3, "dir.html"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"history"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
		})
	}
}
