package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence/attest"
	"github.com/exportatscale/exportatscale/scenarios/progress"
)

// TestConcludeSigns runs what follows the suite in a run with --sign-key over bundles written as
// the suite writes them: the bundle is signed whatever its verdict, the attestation verifies with
// the public half of the key and says PASSED only for GREEN, and the exit status follows the
// verdict, except that a GREEN run left unsigned exits 3.
func TestConcludeSigns(t *testing.T) {
	const ciURL = "https://github.com/o/r/actions/runs/42"
	tests := []struct {
		name       string
		failures   []string // of the bundle's one check: none is GREEN
		noBundle   bool
		suiteErr   error
		deleteKey  bool // between the up-front check and the signing
		wantCode   int
		wantSigned string // the signed result; "" for no attestation
		wantStderr string // with DIR and KEY for the bundle and the key
	}{
		{name: "GREEN", wantCode: 0, wantSigned: "PASSED"},
		{name: "RED", failures: []string{"3 rows missing"}, wantCode: 1, wantSigned: "FAILED",
			wantStderr: ""},
		{name: "GREEN, key gone", deleteKey: true, wantCode: exitUnsigned,
			wantStderr: "verify: DIR: not signed: KEY: no such file or directory\n"},
		{name: "RED, key gone", failures: []string{"3 rows missing"}, deleteKey: true, wantCode: 1,
			wantStderr: "verify: DIR: not signed: KEY: no such file or directory\n"},
		{name: "GREEN bundle, suite failed", suiteErr: errors.New("exit status 1"), wantCode: 2,
			wantStderr: "verify: the suite failed (exit status 1) although its evidence says GREEN\n" +
				"verify: DIR: not signed: the run is NOT RUN although its bundle says GREEN\n"},
		{name: "no bundle", noBundle: true, wantCode: 2,
			wantStderr: "verify: open DIR/SHA256SUMS: no such file or directory\nverify: DIR: not signed: no valid evidence to sign\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run-1")
			if !tt.noBundle {
				writeBundle(t, dir, "run-1", tt.failures...)
			}
			key := newKey(t)
			if tt.deleteKey {
				os.Remove(key)
			}
			var stdout, stderr bytes.Buffer
			f := finish{dir: dir, runID: "run-1", suiteLog: dir + ".suite.log", suiteErr: tt.suiteErr, signKey: key, ciURL: ciURL}
			verdict, err := conclude(context.Background(), f, &progress.Printer{W: &stdout}, &stdout, &stderr)
			if code := exit(&stderr, verdict, err); code != tt.wantCode {
				t.Errorf("exit status %d, want %d", code, tt.wantCode)
			}
			want := strings.NewReplacer("DIR", dir, "KEY", key).Replace(tt.wantStderr)
			if got := stderr.String(); got != want {
				t.Errorf("stderr\n got %q\nwant %q", got, want)
			}
			attestation := filepath.Join(dir, attest.FileName)
			if tt.wantSigned == "" {
				if _, err := os.Stat(attestation); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s: %v, want none", attestation, err)
				}
				return
			}
			pub, err := os.ReadFile(strings.TrimSuffix(key, ".key") + ".pub")
			if err != nil {
				t.Fatal(err)
			}
			v, err := attest.LoadPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			res, err := attest.Verify(context.Background(), dir, v, attest.Want{})
			if err != nil && !(errors.Is(err, attest.ErrNotGreen) && tt.wantSigned == "FAILED") {
				t.Fatalf("attest.Verify: %v", err)
			}
			if got := res.Predicate.GetResult(); got != tt.wantSigned {
				t.Errorf("signed result %s, want %s", got, tt.wantSigned)
			}
			if got := res.Predicate.GetUrl(); got != ciURL {
				t.Errorf("signed url %q, want %q", got, ciURL)
			}
			if !strings.Contains(stdout.String(), fmt.Sprintf("\n          %s\n", attestation)) {
				t.Errorf("the summary does not list %s:\n%s", attestation, stdout.String())
			}
		})
	}
}
