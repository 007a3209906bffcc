package attest

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"
)

// The PEM block types of the two halves of a key pair.
const (
	pemPrivate = "PRIVATE KEY" // PKCS#8
	pemPublic  = "PUBLIC KEY"  // PKIX
)

// GenerateKey returns a new ed25519 key pair as PEM: the private key in PKCS#8, the public key in
// PKIX. rand is the source of randomness (crypto/rand.Reader outside tests).
func GenerateKey(rand io.Reader) (private, public []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("encode private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: pubDER}), nil
}

// WriteKeyPair generates a key pair and writes the private key to keyPath (mode 0600) and the
// public key to pubPath (mode 0644). It refuses to overwrite either file: an existing key may be
// the only copy of one that signed earlier bundles.
func WriteKeyPair(keyPath, pubPath string, rand io.Reader) error {
	if keyPath == pubPath {
		return fmt.Errorf("the private and the public key would both be written to %s", keyPath)
	}
	private, public, err := GenerateKey(rand)
	if err != nil {
		return err
	}
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s exists: refusing to overwrite a key", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := writeNew(keyPath, private, 0o600); err != nil {
		return err
	}
	if err := writeNew(pubPath, public, 0o644); err != nil {
		os.Remove(keyPath) // a private key without its public half is of no use
		return err
	}
	return nil
}

// writeNew creates path with the given mode and content; it fails if path exists.
func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// LoadPrivateKey parses a PEM PKCS#8 ed25519 private key (as GenerateKey writes it) into a signer
// that can also verify its own signatures.
func LoadPrivateKey(pemBytes []byte) (*signerverifier.ED25519SignerVerifier, error) {
	if err := pemType(pemBytes, pemPrivate); err != nil {
		return nil, err
	}
	return loadKey(pemBytes)
}

// LoadPublicKey parses a PEM PKIX ed25519 public key (as GenerateKey writes it) into a verifier.
// A private key is refused, so that verifying never needs the secret half.
func LoadPublicKey(pemBytes []byte) (*signerverifier.ED25519SignerVerifier, error) {
	if err := pemType(pemBytes, pemPublic); err != nil {
		return nil, err
	}
	return loadKey(pemBytes)
}

func pemType(pemBytes []byte, want string) error {
	b, _ := pem.Decode(pemBytes)
	switch {
	case b == nil:
		return errors.New("not a PEM key")
	case b.Type != want:
		return fmt.Errorf("PEM block %q, want %q", b.Type, want)
	}
	return nil
}

func loadKey(pemBytes []byte) (*signerverifier.ED25519SignerVerifier, error) {
	k, err := signerverifier.LoadKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	if k.KeyType != signerverifier.ED25519KeyType {
		return nil, fmt.Errorf("key type %s, want %s", k.KeyType, signerverifier.ED25519KeyType)
	}
	return signerverifier.NewED25519SignerVerifierFromSSLibKey(k)
}
