package testkit

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/exportatscale/exportatscale/evidence/attest"
)

// Tamper edits the exporter.log that Bundle wrote into dir, after SHA256SUMS hashed it, and
// returns dir: a bundle that no longer matches its sums, which verifying or signing must refuse,
// naming exporter.log. The attest package and the evidence command both test that refusal.
func Tamper(t testing.TB, dir string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "exporter.log"), []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Attestation reads the attestation signed into dir (attest.FileName) and returns its DSSE
// envelope, having decoded the in-toto statement it carries into st. It decodes the file without
// the attest package's own reader, so that the tests of the attest package and of the evidence
// command check what was written, each into the statement type it needs.
func Attestation(t testing.TB, dir string, st any) dsse.Envelope {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, attest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var env dsse.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload, st); err != nil {
		t.Fatal(err)
	}
	return env
}
