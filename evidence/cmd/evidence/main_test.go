package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// bundle writes an evidence bundle whose checks all pass, except that edit may change them.
func bundle(t *testing.T, edit func(checks []evidence.Check) []evidence.Check) string {
	t.Helper()
	return imageBundle(t, "", edit)
}

// imageBundle is bundle for a run against the image with digest img (empty: no image).
func imageBundle(t *testing.T, img string, edit func(checks []evidence.Check) []evidence.Check) string {
	t.Helper()
	target := "process"
	if img != "" {
		target = "container"
	}
	return testkit.Bundle(t, testkit.BundleOf{IDs: pipeline.Planned(pipeline.Table(), pipeline.Capabilities{}),
		Environment: evidence.Environment{Target: target, ImageDigest: img}, Edit: edit})
}

// runCLI runs the command in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	code = exitCode(err, &errOut)
	return code, out.String(), errOut.String()
}

func TestVerify(t *testing.T) {
	tampered := testkit.Tamper(t, bundle(t, nil))
	for _, tc := range []struct {
		name, dir  string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"green", bundle(t, nil), 0, "verdict: GREEN", ""},
		{"red", bundle(t, testkit.FailA1), 1, "verdict: RED", "verdict RED"},
		{"not run", bundle(t, testkit.SkipLast), 2, "verdict: NOT RUN", "verdict NOT RUN"},
		{"a profile left A6 out", testkit.Bundle(t, testkit.BundleOf{IDs: []string{"A1"}, Profile: "clickhouse", Edit: func(c []evidence.Check) []evidence.Check {
			return append(c, evidence.Check{ID: "A6", Status: evidence.StatusNotApplicable, Reason: "no metrics endpoint"})
		}}), 0, "verdict: GREEN — 1 check not applicable to this API (profile clickhouse)\n", ""},
		{"tampered", tampered, 3, "", "exporter.log: SHA-256"},
		{"missing", filepath.Join(t.TempDir(), "absent"), 3, "", "SHA256SUMS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "verify", tc.dir)
			if code != tc.wantCode || !strings.Contains(stdout, tc.wantStdout) || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("verify: exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			if tc.wantCode == 3 && strings.Contains(stdout, "verdict:") {
				t.Error("an unverifiable bundle still printed a verdict")
			}
		})
	}
}

func TestShow(t *testing.T) {
	dir := bundle(t, nil)
	code, stdout, stderr := runCLI(t, "show", dir)
	want, _ := os.ReadFile(filepath.Join(dir, evidence.FileMarkdown))
	if code != 0 || stdout != string(want) || stderr != "" {
		t.Errorf("show: exit %d, stderr %q, stdout matches file: %t", code, stderr, stdout == string(want))
	}
	if !strings.HasPrefix(stdout, "# Verdict: GREEN") {
		t.Errorf("show printed %q", stdout[:min(40, len(stdout))])
	}
	if code, _, _ := runCLI(t, "show", t.TempDir()); code != 3 {
		t.Errorf("show of an empty directory: exit %d, want 3", code)
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantCode int
	}{
		{nil, 4},
		{[]string{"verify"}, 4},
		{[]string{"verify", "a", "b"}, 4},
		{[]string{"frobnicate", "dir"}, 4},
		{[]string{"-h"}, 0},
		{[]string{"help"}, 0},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != tc.wantCode || !strings.Contains(stdout+stderr, "usage:") {
			t.Errorf("%q: exit %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, tc.wantCode, stdout, stderr)
		}
	}
}
