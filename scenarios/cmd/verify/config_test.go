package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/attest"
	"github.com/exportatscale/exportatscale/evidence/render"
	"github.com/exportatscale/exportatscale/internal/envflag"
	"github.com/exportatscale/exportatscale/scenarios/options"
)

// TestRunRefusesBadFiles gives run each kind of file it cannot use: the one line it prints, the
// exit status 2, and nothing written where the bundle would go. No suite is built for any of
// them.
func TestRunRefusesBadFiles(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // stderr, whole
	}{
		{"profile missing", []string{"--profile", "testdata/nonexistent.yaml"},
			"verify: testdata/nonexistent.yaml: no such file or directory\n"},
		{"profile with a bad line ending", []string{"--profile", "../../../harness/profile/testdata/bad-line-ending.yaml"},
			"verify: ../../../harness/profile/testdata/bad-line-ending.yaml:54: export.csv.dialect.line_ending: \"cr\" is not one of crlf, lf\n"},
		{"thresholds missing", []string{"--thresholds", "testdata/nonexistent.json"},
			"verify: testdata/nonexistent.json: no such file or directory\n"},
		{"thresholds unknown op", []string{"--thresholds", "testdata/thresholds/unknown-op.json"},
			`verify: testdata/thresholds/unknown-op.json: a3.csv_p95_seconds: unknown op "<<" (want one of <=, >=, ==, <, >)` + "\n"},
		{"thresholds missing value", []string{"--thresholds", "testdata/thresholds/missing-value.json"},
			"verify: testdata/thresholds/missing-value.json: a3.csv_p95_seconds: missing value\n"},
		{"thresholds unknown field", []string{"--thresholds", "testdata/thresholds/unknown-field.json"},
			`verify: testdata/thresholds/unknown-field.json: a3.csv_p95_seconds: unknown field "vaule"` + "\n"},
		{"thresholds value of another type", []string{"--thresholds", "testdata/thresholds/wrong-type.json"},
			"verify: testdata/thresholds/wrong-type.json: a3.csv_p95_seconds: value is a string, want a number\n"},
		{"thresholds in another unit", []string{"--thresholds", "testdata/thresholds/wrong-unit.json"},
			`verify: testdata/thresholds/wrong-unit.json: a3.csv_p95_seconds: unit "ms", but the measure is in "s"` + "\n"},
		{"thresholds not JSON", []string{"--thresholds", "testdata/thresholds/syntax.json"},
			"verify: testdata/thresholds/syntax.json: line 3, column 1: invalid character '}' looking for beginning of object key string\n"},
		{"thresholds not an object", []string{"--thresholds", "testdata/thresholds/not-object.json"},
			"verify: testdata/thresholds/not-object.json: an array, want an object\n"},
		{"thresholds empty", []string{"--thresholds", "testdata/thresholds/empty.json"},
			"verify: testdata/thresholds/empty.json: empty, want a JSON object\n"},
		{"baseline missing", []string{"--baseline", "testdata/baseline/nonexistent"},
			"verify: testdata/baseline/nonexistent: no such file or directory\n"},
		{"baseline a file", []string{"--baseline", "testdata/thresholds/good.json"},
			"verify: testdata/thresholds/good.json: not a directory: want an evidence bundle, such as evidence/out/<run-id>\n"},
		{"baseline without evidence.json", []string{"--baseline", "testdata/baseline/empty"},
			"verify: testdata/baseline/empty/evidence.json: no such file or directory\n"},
		{"baseline not JSON", []string{"--baseline", "testdata/baseline/not-json"},
			"verify: testdata/baseline/not-json/evidence.json: line 1, column 1: invalid character '<' looking for beginning of value\n"},
		{"baseline of another schema", []string{"--baseline", "testdata/baseline/old-schema"},
			`verify: testdata/baseline/old-schema/evidence.json: schema_version "exportatscale.evidence/v0" is not supported: want "exportatscale.evidence/v1"` + "\n"},
		{"baseline without SHA256SUMS", []string{"--baseline", "testdata/baseline/unlisted"},
			"verify: testdata/baseline/unlisted/SHA256SUMS: no such file or directory\n"},
		{"baseline tampered with", []string{"--baseline", "testdata/baseline/tampered"},
			"verify: testdata/baseline/tampered: evidence.json: SHA-256 630dfa3f8fe1c187c053dff288fc247f7d0520c579596b119223fb3f6068d3b7, SHA256SUMS says f41f3fa625ff120ddca7ef456bf66371ecea23c129f4e4c32367101edb516cf8\n"},
		{"baseline contradicting itself", []string{"--baseline", "testdata/baseline/contradicts"},
			`verify: testdata/baseline/contradicts: evidence.json contradicts itself: verdict "GREEN" does not follow from the checks, which give "NOT RUN"` + "\n"},
		{"key missing", []string{"--sign-key", "testdata/keys/nonexistent.key"},
			"verify: testdata/keys/nonexistent.key: no such file or directory\n"},
		{"key not PEM", []string{"--sign-key", "testdata/keys/not-pem.key"},
			"verify: testdata/keys/not-pem.key: not a PEM key\n"},
		{"key public", []string{"--sign-key", "testdata/keys/public.pem"},
			`verify: testdata/keys/public.pem: PEM block "PUBLIC KEY", want "PRIVATE KEY"` + "\n"},
		{"key not ed25519", []string{"--sign-key", "testdata/keys/ecdsa.key"},
			"verify: testdata/keys/ecdsa.key: key type ecdsa, want ed25519\n"},
		{"every bad file, a line each", []string{"--thresholds", "testdata/thresholds/missing-value.json", "--baseline", "testdata/baseline/empty", "--sign-key", "testdata/keys/not-pem.key"},
			"verify: testdata/thresholds/missing-value.json: a3.csv_p95_seconds: missing value\n" +
				"verify: testdata/baseline/empty/evidence.json: no such file or directory\n" +
				"verify: testdata/keys/not-pem.key: not a PEM key\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, nil)
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			verdict, err := run(context.Background(), append([]string{"--out", out, "--run-id", "refused"}, tt.args...), noEnv, &stdout, &stderr)
			if code := exit(&stderr, verdict, err); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if got := stderr.String(); got != tt.want {
				t.Errorf("stderr\n got %q\nwant %q", got, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
			if entries, err := os.ReadDir(out); err != nil || len(entries) != 0 {
				t.Errorf("%s holds %v (%v): want nothing written", out, entries, err)
			}
		})
	}
}

// TestValidateAcceptsGoodFiles: files the run can use pass, relative or absolute.
func TestValidateAcceptsGoodFiles(t *testing.T) {
	setEnv(t, nil)
	c := defaultConfig()
	c.Thresholds = "testdata/thresholds/good.json"
	c.Baseline = filepath.Join(t.TempDir(), "base")
	writeBundle(t, c.Baseline, "base")
	c.SignKey = newKey(t)
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestFlagsMatchDocs checks the Options table of docs/acceptance.md against the flags of verify, row by
// row: the suite's options and verify's own, the same flags, each variable the one it reads, each
// default the flag's. --quiet, which reads no variable, is documented in prose.
func TestFlagsMatchDocs(t *testing.T) {
	setEnv(t, nil)
	withEnv := func() *flag.FlagSet {
		c := defaultConfig()
		all := flag.NewFlagSet("verify", flag.ContinueOnError)
		if err := c.register(all); err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("env", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		all.VisitAll(func(f *flag.Flag) {
			if strings.HasSuffix(f.Usage, "(env "+envflag.Var(options.EnvPrefix, f.Name)+")") {
				fs.Var(f.Value, f.Name, f.Usage)
			}
		})
		return fs
	}
	fs := withEnv()
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n != 28 {
		t.Errorf("%d flags with a VERIFY_* variable, want the 28 of docs/acceptance.md", n)
	}
	problems, err := envflag.CheckDoc("../../../docs/acceptance.md", "## Options", options.EnvPrefix, fs, withEnv())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// writeBundle writes to dir the bundle of run runID: one required check, which passes or, given
// failures, fails.
func writeBundle(t *testing.T, dir, runID string, failures ...string) {
	t.Helper()
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := evidence.Report{RunID: runID, Started: start, Finished: start.Add(time.Minute),
		Thresholds: map[string]evidence.Rule{}, Required: []string{"A1"},
		Checks: []evidence.Check{evidence.NewCheck("A1", "complete", nil, failures)}}
	if _, err := render.WriteBundle(dir, r, nil); err != nil {
		t.Fatal(err)
	}
}

// newKey writes a new private key, as `evidence keygen` does, and returns its path; the public
// half is beside it, with the extension .pub.
func newKey(t *testing.T) string {
	t.Helper()
	key := filepath.Join(t.TempDir(), "evidence.key")
	if err := attest.WriteKeyPair(key, strings.TrimSuffix(key, ".key")+".pub", rand.Reader); err != nil {
		t.Fatal(err)
	}
	return key
}
