package evidence

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// HashFile returns the SHA-256 and size of the file at path, recorded under path (slash-separated).
// The suite uses it for the monitoring files a run was checked against.
func HashFile(path string) (Artifact, error) {
	f, err := os.Open(path)
	if err != nil {
		return Artifact{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Artifact{}, fmt.Errorf("hash %s: %w", path, err)
	}
	return Artifact{Path: filepath.ToSlash(path), SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: n}, nil
}

// HashBytes returns the SHA-256 and size of b, recorded under name (slash-separated): the
// artifact of a file written with content b.
func HashBytes(name string, b []byte) Artifact {
	sum := sha256.Sum256(b)
	return Artifact{Path: name, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(b))}
}

// FormatSums is the SHA256SUMS file listing as, in sha256sum format ("<hex>  <path>"), in their
// order; VerifyBundle reads it back.
func FormatSums(as []Artifact) []byte {
	var b bytes.Buffer
	for _, a := range as {
		fmt.Fprintf(&b, "%s  %s\n", a.SHA256, a.Path)
	}
	return b.Bytes()
}

// sumEntry is one line of SHA256SUMS.
type sumEntry struct{ sum, path string }

// parseSums reads sha256sum output ("<hex>  <path>" or "<hex> *<path>").
func parseSums(r io.Reader) ([]sumEntry, error) {
	var out []sumEntry
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		sum, rest, ok := strings.Cut(line, " ")
		if !ok || len(sum) != sha256.Size*2 || len(rest) < 2 || (rest[0] != ' ' && rest[0] != '*') {
			return nil, fmt.Errorf("%s line %d: not a sha256sum line", FileSums, n)
		}
		if _, err := hex.DecodeString(sum); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", FileSums, n, err)
		}
		out = append(out, sumEntry{strings.ToLower(sum), rest[1:]})
	}
	return out, sc.Err()
}
