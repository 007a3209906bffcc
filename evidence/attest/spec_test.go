package attest_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/attest"
)

// TestEnvelopeBySpec checks an attestation the way a verifier written from the specifications
// alone would, sharing no code with the package (nor with go-securesystemslib): the envelope of
// DSSE's envelope.md, the signature over the pre-authentication encoding of its protocol.md,
// checked with crypto/ed25519 against the PEM public key, and the in-toto Statement v1 fields read
// with encoding/json.
func TestEnvelopeBySpec(t *testing.T) {
	privPEM, pubPEM, err := attest.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := attest.LoadPrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	bundleDir := signed(t, key, image, nil)

	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		} `json:"signatures"`
	}
	b, err := os.ReadFile(filepath.Join(bundleDir, "attestation.intoto.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	// PAE(type, body) = "DSSEv1" + SP + LEN(type) + SP + type + SP + LEN(body) + SP + body
	pae := fmt.Appendf(nil, "DSSEv1 %d %s %d ", len(env.PayloadType), env.PayloadType, len(payload))
	pae = append(pae, payload...)

	blk, _ := pem.Decode(pubPEM)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		t.Fatal("public key is not PEM PUBLIC KEY")
	}
	parsed, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := parsed.(ed25519.PublicKey)
	if !ok {
		t.Fatalf("public key is %T", parsed)
	}
	if len(env.Signatures) != 1 {
		t.Fatalf("%d signatures", len(env.Signatures))
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, pae, sig) {
		t.Fatal("the signature does not verify over PAE(payloadType, payload)")
	}
	if env.PayloadType != "application/vnd.in-toto+json" {
		t.Errorf("payloadType %q", env.PayloadType)
	}
	tampered := append([]byte{}, pae...)
	tampered[len(tampered)-2] ^= 1
	if ed25519.Verify(pub, tampered, sig) {
		t.Error("the signature verifies over a changed payload")
	}

	var st struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate map[string]any `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile(filepath.Join(bundleDir, evidence.FileSums))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(sums)
	found := false
	for _, s := range st.Subject {
		found = found || (s.Name == "SHA256SUMS" && s.Digest["sha256"] == hex.EncodeToString(sum[:]))
	}
	if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != "https://in-toto.io/attestation/test-result/v0.1" ||
		!found || st.Predicate["result"] != "PASSED" {
		t.Errorf("statement: %s", payload)
	}
}
