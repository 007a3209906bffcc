package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

var allFlags = []string{"target", "require-target", "url", "token", "smoke-rows", "load-rows", "load-concurrency",
	"load-requests", "pdf-share", "large-rows", "write-timeout", "thresholds", "out", "run-id", "seed", "timeout", "sign-key"}

// setEnv gives the test exactly the VERIFY_* variables of env (testkit.SetEnv).
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	testkit.SetEnv(t, "VERIFY", env)
}

func noEnv(string) string { return "" }

func TestRunHelp(t *testing.T) {
	setEnv(t, map[string]string{"VERIFY_LOAD_ROWS": "42"})
	var stdout, stderr bytes.Buffer
	verdict, err := run(context.Background(), []string{"--help"}, noEnv, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) || verdict != evidence.NotRun {
		t.Fatalf("run(--help) = %v, %v; want NOT RUN, flag.ErrHelp", verdict, err)
	}
	usage := stderr.String()
	if !strings.HasPrefix(usage, "Usage: verify") {
		t.Errorf("usage starts %q", usage[:min(40, len(usage))])
	}
	for _, f := range allFlags {
		env := "VERIFY_" + strings.ToUpper(strings.ReplaceAll(f, "-", "_"))
		if !strings.Contains(usage, "  -"+f+" ") && !strings.Contains(usage, "  -"+f+"\n") {
			t.Errorf("usage does not mention --%s", f)
		}
		if !strings.Contains(usage, "(env "+env+")") {
			t.Errorf("usage does not mention %s", env)
		}
	}
	if !strings.Contains(usage, "(env VERIFY_LOAD_ROWS) (default 42)\n") {
		t.Errorf("usage does not show VERIFY_LOAD_ROWS=42 as the default:\n%s", usage)
	}
	if stdout.Len() != 0 {
		t.Errorf("help wrote to stdout: %q", stdout.String())
	}
}

// TestRunRefuses covers the refusals that come before the suite runs: each is NOT RUN.
func TestRunRefuses(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"malformed env", nil, map[string]string{"VERIFY_SEED": "x"}, `environment variable "VERIFY_SEED"`},
		{"bad flag", []string{"--seed", "x"}, nil, `invalid value "x" for flag -seed`},
		{"positional argument", []string{"now"}, nil, "unexpected arguments"},
		{"invalid from env", nil, map[string]string{"VERIFY_TARGET": "url"}, "--target url needs --url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.env)
			var stdout, stderr bytes.Buffer
			verdict, err := run(context.Background(), tt.args, noEnv, &stdout, &stderr)
			if verdict != evidence.NotRun || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run(%q) = %v, %v; want NOT RUN and an error with %q", tt.args, verdict, err, tt.wantErr)
			}
		})
	}
}

// TestRunShowsProgress runs the whole acceptance suite on the process target, small, as a user
// would run bin/verify in a CI log: the steps, seeding, load progress and each check appear as
// plain lines while it runs, then the summary of every check with the verdict and the paths.
func TestRunShowsProgress(t *testing.T) {
	setEnv(t, nil)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"--target", "process", "--require-target", "--out", out, "--run-id", "progress",
		"--smoke-rows", "300", "--load-rows", "2000", "--large-rows", "30000", "--load-requests", "24"}
	verdict, err := run(context.Background(), args, func(k string) string { return map[string]string{"CI": "true"}[k] }, &stdout, &stderr)
	got := stdout.String()
	if verdict != evidence.Green || err != nil {
		t.Fatalf("verdict %s, %v\nstdout:\n%s\nstderr:\n%s", verdict, err, got, stderr.String())
	}
	for _, want := range []string{
		"▸ scraping /metrics before any traffic\n",
		"▸ seeding 200 records into smoke-progress (single mode)\n",
		"  seeding smoke-progress: 100/100 records,",
		"  load: 24/24 exports received\n",
		"✓ A1     complete        a1.missing_rows = 0 rows (want == 0 rows)\n",
		"\n  ✓ A6     observable",
		"  ✓ suite  setup and teardown of the run\n",
		"verdict: GREEN\nevidence: " + out + "/progress/EVIDENCE.md\n",
		"suite log: " + out + "/progress.suite.log\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in the output:\n%s", want, got)
		}
	}
	for _, lack := range []string{"\r", "\x1b["} {
		if strings.Contains(got, lack) {
			t.Errorf("%q in a CI log:\n%q", lack, got)
		}
	}
	// The suite's own output is in its log, not on the terminal.
	if strings.Contains(got, "Running Suite") {
		t.Errorf("Ginkgo's output on stdout:\n%s", got)
	}
	if log, err := os.ReadFile(out + "/progress.suite.log"); err != nil || !strings.Contains(string(log), "Running Suite") {
		t.Errorf("suite log: %v\n%s", err, log)
	}
}
