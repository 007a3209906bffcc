package attest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence/attest"
)

func TestWriteKeyPair(t *testing.T) {
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "k.pem"), filepath.Join(dir, "k.pub")
	if err := attest.WriteKeyPair(key, pub, rand.Reader); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path, block string
		mode        os.FileMode
	}{{key, "PRIVATE KEY", 0o600}, {pub, "PUBLIC KEY", 0o644}} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&^f.mode != 0 || (f.mode == 0o600 && fi.Mode().Perm() != 0o600) {
			t.Errorf("%s: mode %v, want %v", f.path, fi.Mode().Perm(), f.mode)
		}
		b, _ := os.ReadFile(f.path)
		if blk, _ := pem.Decode(b); blk == nil || blk.Type != f.block {
			t.Errorf("%s: not a PEM %s", f.path, f.block)
		}
	}
	privPEM, _ := os.ReadFile(key)
	pubPEM, _ := os.ReadFile(pub)
	if _, err := attest.LoadPrivateKey(privPEM); err != nil {
		t.Error(err)
	}
	if _, err := attest.LoadPublicKey(pubPEM); err != nil {
		t.Error(err)
	}

	// Neither file is ever overwritten, and nothing is written when either exists.
	for _, tc := range []struct{ name, key, pub string }{
		{"both exist", key, pub},
		{"key exists", key, filepath.Join(dir, "new.pub")},
		{"pub exists", filepath.Join(dir, "new.pem"), pub},
		{"same path", filepath.Join(dir, "x.pem"), filepath.Join(dir, "x.pem")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := attest.WriteKeyPair(tc.key, tc.pub, rand.Reader); err == nil {
				t.Fatal("WriteKeyPair succeeded")
			}
			if b, _ := os.ReadFile(key); string(b) != string(privPEM) {
				t.Error("the private key changed")
			}
			for _, p := range []string{filepath.Join(dir, "new.pub"), filepath.Join(dir, "new.pem"), filepath.Join(dir, "x.pem")} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

func TestLoadKey(t *testing.T) {
	privPEM, pubPEM, err := attest.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPubDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})
	ecPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPubDER})

	for _, tc := range []struct {
		name    string
		load    func([]byte) error
		pem     []byte
		wantErr string
	}{
		{"private", loadPrivate, privPEM, ""},
		{"public", loadPublic, pubPEM, ""},
		{"public as private", loadPrivate, pubPEM, `PEM block "PUBLIC KEY"`},
		{"private as public", loadPublic, privPEM, `PEM block "PRIVATE KEY"`},
		{"ecdsa private", loadPrivate, ecPEM, "key type ecdsa"},
		{"ecdsa public", loadPublic, ecPubPEM, "key type ecdsa"},
		{"not PEM", loadPublic, []byte("ssh-ed25519 AAAA"), "not a PEM key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.load(tc.pem)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func loadPrivate(b []byte) error { _, err := attest.LoadPrivateKey(b); return err }
func loadPublic(b []byte) error  { _, err := attest.LoadPublicKey(b); return err }

// TestKeyID: the private key and its public half name the same key, so a verifier can match the
// signature's keyid.
func TestKeyID(t *testing.T) {
	priv, pub := keyPair(t)
	a, _ := priv.KeyID()
	b, _ := pub.KeyID()
	if a == "" || a != b {
		t.Errorf("key IDs %q and %q", a, b)
	}
}
