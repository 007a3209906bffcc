package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

const (
	image      = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	otherImage = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// keys runs keygen into a temporary directory and returns the private and public key files.
func keys(t *testing.T) (key, pub string) {
	t.Helper()
	dir := t.TempDir()
	key, pub = filepath.Join(dir, "evidence.key"), filepath.Join(dir, "evidence.pub")
	if code, stdout, stderr := runCLI(t, "keygen", "--out-key", key, "--out-pub", pub); code != 0 {
		t.Fatalf("keygen: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	return key, pub
}

func editFile(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestKeygen(t *testing.T) {
	key, pub := keys(t)
	fi, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
	}
	for _, p := range []string{key, pub} {
		b, _ := os.ReadFile(p)
		if !bytes.HasPrefix(b, []byte("-----BEGIN ")) {
			t.Errorf("%s is not PEM: %.40q", p, b)
		}
	}
	before, _ := os.ReadFile(key)
	other := filepath.Join(t.TempDir(), "other.pub")
	for _, tc := range []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"keygen", "--out-key", key, "--out-pub", other}, 3, "refusing to overwrite"},
		{[]string{"keygen", "--out-key", filepath.Join(t.TempDir(), "k"), "--out-pub", pub}, 3, "refusing to overwrite"},
		{[]string{"keygen", "extra"}, 4, "takes no arguments"},
		{[]string{"keygen", "--prefix", "x"}, 4, "flag provided but not defined"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
			t.Errorf("%q: exit %d, want %d\nstderr: %s", tc.args, code, tc.wantCode, stderr)
		}
	}
	if after, _ := os.ReadFile(key); !bytes.Equal(before, after) {
		t.Error("the private key was overwritten")
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("a public key was written next to a refused private key")
	}
}

func TestAttestAndVerify(t *testing.T) {
	t.Setenv("GITHUB_RUN_ID", "") // outside CI, whatever runs this test
	key, pub := keys(t)
	_, otherPub := keys(t)
	attestation := func(dir string) string { return filepath.Join(dir, "attestation.intoto.json") }

	for _, tc := range []struct {
		name       string
		img        string
		edit       func([]evidence.Check) []evidence.Check
		tamper     func(t *testing.T, dir string)
		verifyArgs []string // before the directory; --key pub when nil
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "green", img: image, wantStdout: "verdict: GREEN (signed result PASSED)"},
		{name: "green, image asked", img: image, verifyArgs: []string{"--key", pub, "--image-digest", image}, wantStdout: "image: " + image},
		{name: "green, no image recorded", wantStdout: "  SHA256SUMS  sha256:"},
		{name: "without --key, as before", img: image, verifyArgs: []string{}, wantStdout: "verdict: GREEN"},

		{name: "evidence.json tampered", img: image, wantCode: 3, wantStderr: "evidence.json: SHA-256",
			tamper: func(t *testing.T, dir string) {
				editFile(t, filepath.Join(dir, "evidence.json"), func(b []byte) []byte { return bytes.Replace(b, []byte("run-7"), []byte("run-8"), 1) })
			}},
		{name: "SHA256SUMS tampered", img: image, wantCode: 3, wantStderr: "SHA256SUMS has SHA-256",
			tamper: func(t *testing.T, dir string) {
				editFile(t, filepath.Join(dir, "SHA256SUMS"), func(b []byte) []byte { return append(b, '\n') })
			}},
		{name: "payload tampered", img: image, wantCode: 3, wantStderr: "attestation signature does not verify",
			tamper: func(t *testing.T, dir string) {
				editFile(t, attestation(dir), func(b []byte) []byte {
					var env map[string]any
					json.Unmarshal(b, &env)
					p, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
					env["payload"] = base64.StdEncoding.EncodeToString(bytes.Replace(p, []byte(`"A1"`), []byte(`"A9"`), 1))
					out, _ := json.Marshal(env)
					return out
				})
			}},
		{name: "wrong key", img: image, verifyArgs: []string{"--key", otherPub}, wantCode: 3, wantStderr: "attestation signature does not verify"},
		{name: "another image", img: image, verifyArgs: []string{"--key", pub, "--image-digest", otherImage}, wantCode: 3,
			wantStderr: "attestation is not about that image: want image " + otherImage + ", the attestation's image is " + image},
		{name: "no attestation", img: image, wantCode: 3, wantStderr: "attestation.intoto.json: no such file",
			tamper: func(t *testing.T, dir string) { os.Remove(attestation(dir)) }},
		{name: "RED, signed honestly", img: image, edit: testkit.FailA1, wantCode: 1,
			wantStdout: "verdict: RED (signed result FAILED)", wantStderr: "verdict is not GREEN"},
		{name: "NOT RUN, signed honestly", img: image, edit: testkit.SkipLast, wantCode: 2,
			wantStdout: "verdict: NOT RUN (signed result FAILED)", wantStderr: "verdict is not GREEN"},
		{name: "RED without --key, as before", img: image, edit: testkit.FailA1, verifyArgs: []string{}, wantCode: 1, wantStdout: "verdict: RED"},

		{name: "public key not found", img: image, verifyArgs: []string{"--key", filepath.Join(t.TempDir(), "absent.pub")}, wantCode: 4, wantStderr: "public key"},
		{name: "private key given to verify", img: image, verifyArgs: []string{"--key", key}, wantCode: 4, wantStderr: `PEM block "PRIVATE KEY"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := imageBundle(t, tc.img, tc.edit)
			code, stdout, stderr := runCLI(t, "attest", "--key", key, dir)
			if code != 0 || !strings.Contains(stdout, "attestation.intoto.json: ") {
				t.Fatalf("attest: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if tc.tamper != nil {
				tc.tamper(t, dir)
			}
			args := tc.verifyArgs
			if args == nil {
				args = []string{"--key", pub}
			}
			code, stdout, stderr = runCLI(t, append(append([]string{"verify"}, args...), dir)...)
			if code != tc.wantCode || !strings.Contains(stdout, tc.wantStdout) || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("verify: exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			if tc.wantCode == 3 && strings.Contains(stdout, "verdict:") {
				t.Error("an unverifiable bundle still printed a verdict")
			}
		})
	}
}

func TestAttest(t *testing.T) {
	key, pub := keys(t)
	tampered := testkit.Tamper(t, imageBundle(t, image, nil))

	for _, tc := range []struct {
		name       string
		args       []string // "DIR" is replaced by a fresh green bundle
		wantCode   int
		wantStderr string
	}{
		{"no key", []string{"attest", "DIR"}, 4, "attest needs --key"},
		{"key not found", []string{"attest", "--key", filepath.Join(t.TempDir(), "absent"), "DIR"}, 4, "private key"},
		{"public key", []string{"attest", "--key", pub, "DIR"}, 4, `PEM block "PUBLIC KEY"`},
		{"flags after the directory", []string{"attest", "DIR", "--key", key}, 4, "after the flags"},
		{"tampered bundle", []string{"attest", "--key", key, tampered}, 3, "exporter.log: SHA-256"},
		{"no bundle", []string{"attest", "--key", key, filepath.Join(t.TempDir(), "absent")}, 3, "SHA256SUMS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tampered
			for i, a := range tc.args {
				if a == "DIR" {
					dir = imageBundle(t, image, nil)
					tc.args[i] = dir
				}
			}
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tc.wantCode, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "attestation.intoto.json")); err == nil {
				t.Error("an attestation was written")
			}
		})
	}
}

func TestAttestURL(t *testing.T) {
	key, _ := keys(t)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantURL any
	}{
		{"GitHub Actions", map[string]string{"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42"},
			nil, "https://github.com/o/r/actions/runs/42"},
		{"flag wins", map[string]string{"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42"},
			[]string{"--url", "https://ci.example/7"}, "https://ci.example/7"},
		{"outside CI", map[string]string{"GITHUB_SERVER_URL": "", "GITHUB_REPOSITORY": "", "GITHUB_RUN_ID": ""}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			dir := imageBundle(t, image, nil)
			args := append(append([]string{"attest", "--key", key}, tc.args...), dir)
			if code, _, stderr := runCLI(t, args...); code != 0 {
				t.Fatalf("attest: exit %d: %s", code, stderr)
			}
			var st map[string]any
			testkit.Attestation(t, dir, &st)
			pred, _ := st["predicate"].(map[string]any)
			if pred["url"] != tc.wantURL {
				t.Errorf("url %v, want %v", pred["url"], tc.wantURL)
			}
		})
	}
}

func TestSignUsage(t *testing.T) {
	dir := bundle(t, nil)
	for _, tc := range []struct {
		args       []string
		wantCode   int
		wantStderr string
	}{
		{[]string{"verify", "--image-digest", image, dir}, 4, "give --key too"},
		{[]string{"verify", dir, "--key", "pub"}, 4, "after the flags"},
		{[]string{"verify", "--frob", dir}, 4, "flag provided but not defined"},
		{[]string{"attest", "-h"}, 0, ""},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != tc.wantCode || !strings.Contains(stderr, tc.wantStderr) || !strings.Contains(stdout+stderr, "usage:") {
			t.Errorf("%q: exit %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, tc.wantCode, stdout, stderr)
		}
	}
}
