package attest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/attest"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

const (
	image      = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	otherImage = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	runURL     = "https://github.com/exportatscale/exportatscale/actions/runs/42"
)

// monitoring is what the suite records as the files the run was checked against.
var monitoring = []evidence.Artifact{
	{Path: "alerts/exporter.rules.yml", SHA256: strings.Repeat("a", 64), Bytes: 10},
	{Path: "dashboards/exporter.json", SHA256: strings.Repeat("b", 64), Bytes: 20},
}

// bundle writes an evidence bundle of a run against img (empty: no image) whose checks all pass,
// except that edit may change them.
func bundle(t *testing.T, img string, edit func([]evidence.Check) []evidence.Check) string {
	t.Helper()
	return testkit.Bundle(t, testkit.BundleOf{IDs: pipeline.Planned(pipeline.Table(), pipeline.Capabilities{}),
		Environment: evidence.Environment{Target: "container", ImageDigest: img, GitCommit: "abc"}, Monitoring: monitoring, Edit: edit})
}

// keyPair returns a new signer and the verifier of its public half.
func keyPair(t *testing.T) (private, public *signerverifier.ED25519SignerVerifier) {
	t.Helper()
	privPEM, pubPEM, err := attest.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if private, err = attest.LoadPrivateKey(privPEM); err != nil {
		t.Fatal(err)
	}
	if public, err = attest.LoadPublicKey(pubPEM); err != nil {
		t.Fatal(err)
	}
	return private, public
}

// signed writes a bundle and signs it with key.
func signed(t *testing.T, key dsse.Signer, img string, edit func([]evidence.Check) []evidence.Check) string {
	t.Helper()
	dir := bundle(t, img, edit)
	if _, err := attest.Sign(context.Background(), dir, key, attest.Options{URL: runURL}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// statement is an in-toto test-result statement as JSON, decoded without the in-toto types.
type statement struct {
	Type    string `json:"_type"`
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string `json:"predicateType"`
	Predicate     struct {
		Result        string `json:"result"`
		URL           string `json:"url"`
		Configuration []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"configuration"`
		PassedTests []string `json:"passedTests"`
		WarnedTests []string `json:"warnedTests"`
		FailedTests []string `json:"failedTests"`
	} `json:"predicate"`
}

// readEnvelope returns the bundle's envelope and its decoded statement.
func readEnvelope(t *testing.T, dir string) (dsse.Envelope, statement) {
	t.Helper()
	var st statement
	env := testkit.Attestation(t, dir, &st)
	return env, st
}

func writeEnvelope(t *testing.T, dir string, env dsse.Envelope) {
	t.Helper()
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, attest.FileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStatement(t *testing.T) {
	key, pub := keyPair(t)
	for _, tc := range []struct {
		name           string
		img            string
		edit           func([]evidence.Check) []evidence.Check
		result         string
		passed, failed []string
	}{
		{"green", image, nil, "PASSED", pipeline.Planned(pipeline.Table(), pipeline.Capabilities{}), nil},
		{"red", image, testkit.FailA1, "FAILED", []string{"seed", "smoke", "load", "A2", "A3", "A4", "A5", "A6", "capacity"}, []string{"A1"}},
		// A check that did not run is not passed: test-result v0.1 has no "not run", and its
		// warnedTests means "passed with warnings", so it is listed as failed.
		{"not run", image, testkit.SkipLast, "FAILED", []string{"seed", "smoke", "load", "A1", "A2", "A3", "A4", "A5", "A6"}, []string{"capacity"}},
		{"required check absent", "", func(c []evidence.Check) []evidence.Check { return c[:8] }, "FAILED",
			[]string{"seed", "smoke", "load", "A1", "A2", "A3", "A4", "A5"}, []string{"A6", "capacity"}},
		// Outside the required set a check that did not run is left out; one that ran is listed.
		{"optional checks", image, func(c []evidence.Check) []evidence.Check {
			return append(c, evidence.Check{ID: "extra", Status: evidence.StatusSkipped}, evidence.NewCheck("bonus", "", nil, nil))
		}, "PASSED", append(pipeline.Planned(pipeline.Table(), pipeline.Capabilities{}), "bonus"), nil},
		{"optional check failed", image, func(c []evidence.Check) []evidence.Check {
			return append(c, evidence.NewCheck("extra", "", nil, []string{"broke"}))
		}, "FAILED", pipeline.Planned(pipeline.Table(), pipeline.Capabilities{}), []string{"extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := signed(t, key, tc.img, tc.edit)
			env, st := readEnvelope(t, dir)
			if env.PayloadType != "application/vnd.in-toto+json" || len(env.Signatures) != 1 {
				t.Errorf("envelope: payloadType %q, %d signatures", env.PayloadType, len(env.Signatures))
			}
			if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != "https://in-toto.io/attestation/test-result/v0.1" {
				t.Errorf("statement type %q, predicate type %q", st.Type, st.PredicateType)
			}
			sums, err := evidence.HashFile(filepath.Join(dir, evidence.FileSums))
			if err != nil {
				t.Fatal(err)
			}
			var subjects []string
			for _, s := range st.Subject {
				subjects = append(subjects, s.Name+"="+s.Digest["sha256"])
			}
			want := []string{"SHA256SUMS=" + sums.SHA256}
			if tc.img != "" {
				want = append([]string{tc.img + "=" + strings.TrimPrefix(tc.img, "sha256:")}, want...)
			}
			if !slices.Equal(subjects, want) {
				t.Errorf("subjects %q, want %q", subjects, want)
			}
			p := st.Predicate
			if p.Result != tc.result || !slices.Equal(p.PassedTests, tc.passed) || !slices.Equal(p.FailedTests, tc.failed) || p.WarnedTests != nil {
				t.Errorf("predicate: result %s, passed %q, warned %q, failed %q\nwant %s, passed %q, failed %q",
					p.Result, p.PassedTests, p.WarnedTests, p.FailedTests, tc.result, tc.passed, tc.failed)
			}
			if p.URL != runURL {
				t.Errorf("url %q, want %q", p.URL, runURL)
			}
			var config []string
			for _, c := range p.Configuration {
				if len(c.Digest["sha256"]) != 64 {
					t.Errorf("configuration %s: digest %v", c.Name, c.Digest)
				}
				config = append(config, c.Name)
			}
			if want := []string{"thresholds", "alerts/exporter.rules.yml", "dashboards/exporter.json"}; !slices.Equal(config, want) {
				t.Fatalf("configuration %q, want %q", config, want)
			}
			if got := p.Configuration[1].Digest["sha256"]; got != monitoring[0].SHA256 {
				t.Errorf("alert rules digest %s, want %s", got, monitoring[0].SHA256)
			}

			res, err := attest.Verify(context.Background(), dir, pub, attest.Want{})
			if wantErr := tc.result != "PASSED"; (err != nil) != wantErr || (wantErr && !errors.Is(err, attest.ErrNotGreen)) {
				t.Errorf("Verify: %v", err)
			}
			if res.Predicate.GetResult() != tc.result {
				t.Errorf("Verify read result %q", res.Predicate.GetResult())
			}
		})
	}
}

// TestThresholdsDigest pins how the rules are digested: the compact JSON of evidence.json's
// thresholds object, which anyone can recompute from the bundle.
func TestThresholdsDigest(t *testing.T) {
	key, _ := keyPair(t)
	dir := signed(t, key, "", nil)
	_, st := readEnvelope(t, dir)
	b, err := os.ReadFile(filepath.Join(dir, evidence.FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Thresholds json.RawMessage }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc.Thresholds); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "thresholds.json")
	if err := os.WriteFile(p, compact.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := evidence.HashFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Predicate.Configuration[0].Digest["sha256"]; got != want.SHA256 {
		t.Errorf("thresholds digest %s, want %s", got, want.SHA256)
	}
}

func TestVerify(t *testing.T) {
	key, pub := keyPair(t)
	_, otherPub := keyPair(t)
	ctx := context.Background()

	edit := func(name string, f func([]byte) []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, name)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f(b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	}
	// editEnvelope edits the envelope and, when f returns one, swaps in a new payload as is.
	editEnvelope := func(f func(*dsse.Envelope, []byte) []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			env, _ := readEnvelope(t, dir)
			payload, _ := base64.StdEncoding.DecodeString(env.Payload)
			if p := f(&env, payload); p != nil {
				env.Payload = base64.StdEncoding.EncodeToString(p)
			}
			writeEnvelope(t, dir, env)
		}
	}
	// resign replaces the attestation with one over an edited statement, signed with the right key.
	resign := func(old, new string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			env, _ := readEnvelope(t, dir)
			payload, _ := base64.StdEncoding.DecodeString(env.Payload)
			if !bytes.Contains(payload, []byte(old)) {
				t.Fatalf("the statement has no %s", old)
			}
			es, err := dsse.NewEnvelopeSigner(key)
			if err != nil {
				t.Fatal(err)
			}
			e, err := es.SignPayload(ctx, env.PayloadType, bytes.Replace(payload, []byte(old), []byte(new), 1))
			if err != nil {
				t.Fatal(err)
			}
			writeEnvelope(t, dir, *e)
		}
	}
	hexOf := func(d string) string { return `"sha256":"` + strings.TrimPrefix(d, "sha256:") + `"` }

	for _, tc := range []struct {
		name    string
		img     string                                  // the run's image
		edit    func([]evidence.Check) []evidence.Check // the run's checks
		tamper  func(t *testing.T, dir string)          // after signing
		key     *signerverifier.ED25519SignerVerifier   // to verify with; nil: the right one
		want    attest.Want
		wantErr error
		wantMsg string
	}{
		{name: "green", img: image},
		{name: "green, image asked", img: image, want: attest.Want{ImageDigest: image}},
		{name: "green, no image", img: ""},

		{name: "wrong key", img: image, key: otherPub, wantErr: attest.ErrSignature},
		{name: "payload tampered", img: image, wantErr: attest.ErrSignature,
			tamper: editEnvelope(func(_ *dsse.Envelope, p []byte) []byte { return bytes.Replace(p, []byte(`"A1"`), []byte(`"A7"`), 1) })},
		{name: "payload type changed", img: image, wantErr: attest.ErrSignature,
			tamper: editEnvelope(func(e *dsse.Envelope, _ []byte) []byte { e.PayloadType = "application/json"; return nil })},
		{name: "signature removed", img: image, wantErr: attest.ErrSignature,
			tamper: editEnvelope(func(e *dsse.Envelope, _ []byte) []byte { e.Signatures = nil; return nil })},
		{name: "envelope not JSON", img: image, wantErr: attest.ErrSignature,
			tamper: edit(attest.FileName, func([]byte) []byte { return []byte("{") })},
		{name: "attestation missing", img: image, wantErr: fs.ErrNotExist,
			tamper: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, attest.FileName)) }},

		{name: "evidence.json tampered", img: image, wantErr: evidence.ErrTampered, wantMsg: "evidence.json: SHA-256",
			tamper: edit(evidence.FileJSON, replace(`"run-7"`, `"run-8"`))},
		{name: "a file tampered", img: image, wantErr: evidence.ErrTampered, wantMsg: "exporter.log: SHA-256",
			tamper: edit("exporter.log", replace("ok", "ko"))},
		{name: "SHA256SUMS rewritten to match a tampered file", img: image, wantErr: evidence.ErrTampered,
			tamper: func(t *testing.T, dir string) {
				edit("exporter.log", replace("ok", "ko"))(t, dir)
				a, err := evidence.HashFile(filepath.Join(dir, "exporter.log"))
				if err != nil {
					t.Fatal(err)
				}
				edit(evidence.FileSums, func(b []byte) []byte {
					lines := strings.Split(string(b), "\n")
					for i, l := range lines {
						if strings.HasSuffix(l, "  exporter.log") {
							lines[i] = a.SHA256 + "  exporter.log"
						}
					}
					return []byte(strings.Join(lines, "\n"))
				})(t, dir)
			}},
		{name: "SHA256SUMS changed, still consistent", img: image, wantErr: attest.ErrSubject, wantMsg: "SHA256SUMS has SHA-256",
			tamper: edit(evidence.FileSums, func(b []byte) []byte { return append(b, '\n') })},
		{name: "another bundle's attestation", img: image, wantErr: attest.ErrSubject,
			tamper: func(t *testing.T, dir string) {
				other := signed(t, key, image, func(c []evidence.Check) []evidence.Check { c[0].Title = "another run"; return c })
				b, err := os.ReadFile(filepath.Join(other, attest.FileName))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, attest.FileName), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "statement lies about the result", img: image, edit: testkit.FailA1, wantErr: attest.ErrStatement,
			wantMsg: "result PASSED, but the bundle's verdict is RED", tamper: resign(`"result":"FAILED"`, `"result":"PASSED"`)},
		{name: "statement names another image", img: image, wantErr: attest.ErrStatement,
			tamper: resign(hexOf(image), hexOf(otherImage))},
		{name: "statement of another predicate", img: image, wantErr: attest.ErrStatement,
			tamper: resign("test-result/v0.1", "test-result/v0.2")},

		{name: "another image", img: image, want: attest.Want{ImageDigest: otherImage}, wantErr: attest.ErrImage},
		{name: "image asked, none recorded", img: "", want: attest.Want{ImageDigest: image}, wantErr: attest.ErrImage},
		{name: "image digest malformed", img: image, want: attest.Want{ImageDigest: "1111"}, wantErr: attest.ErrImage},

		{name: "RED, signed honestly", img: image, edit: testkit.FailA1, wantErr: attest.ErrNotGreen, wantMsg: "RED (FAILED)"},
		{name: "NOT RUN, signed honestly", img: image, edit: testkit.SkipLast, wantErr: attest.ErrNotGreen, wantMsg: "NOT RUN (FAILED)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := signed(t, key, tc.img, tc.edit)
			if tc.tamper != nil {
				tc.tamper(t, dir)
			}
			v := pub
			if tc.key != nil {
				v = tc.key
			}
			res, err := attest.Verify(ctx, dir, v, tc.want)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Verify: %v", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("Verify: %v, want %v", err, tc.wantErr)
			case err != nil && !strings.Contains(err.Error(), tc.wantMsg):
				t.Errorf("Verify: %v, want it to say %q", err, tc.wantMsg)
			}
			if err == nil && (res.Report.Verdict != evidence.Green || res.KeyID == "") {
				t.Errorf("Verify: verdict %s, key ID %q", res.Report.Verdict, res.KeyID)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	key, _ := keyPair(t)
	tampered := testkit.Tamper(t, bundle(t, image, nil))
	for _, tc := range []struct {
		name, dir string
		wantErr   error
		wantMsg   string
	}{
		{"tampered bundle", tampered, evidence.ErrTampered, "exporter.log"},
		{"no bundle", filepath.Join(t.TempDir(), "absent"), fs.ErrNotExist, "SHA256SUMS"},
		{"malformed image digest", bundle(t, "sha256:short", nil), nil, "image_digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := attest.Sign(context.Background(), tc.dir, key, attest.Options{})
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Sign: %v, want %v mentioning %q", err, tc.wantErr, tc.wantMsg)
			}
			if _, err := os.Stat(filepath.Join(tc.dir, attest.FileName)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("an attestation was written: %v", err)
			}
		})
	}
}

// TestSignAgain: signing again replaces the attestation, and leaves no temporary file behind.
func TestSignAgain(t *testing.T) {
	key, pub := keyPair(t)
	dir := signed(t, key, image, nil)
	if _, err := attest.Sign(context.Background(), dir, key, attest.Options{URL: "https://ci.example/2"}); err != nil {
		t.Fatal(err)
	}
	env, st := readEnvelope(t, dir)
	if len(env.Signatures) != 1 || st.Predicate.URL != "https://ci.example/2" {
		t.Errorf("%d signatures, url %q", len(env.Signatures), st.Predicate.URL)
	}
	if _, err := attest.Verify(context.Background(), dir, pub, attest.Want{}); err != nil {
		t.Error(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind %s", e.Name())
		}
	}
}
