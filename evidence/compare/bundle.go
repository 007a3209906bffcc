package compare

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/exportatscale/exportatscale/evidence"
)

// FileLoadResult is the load test's file in a bundle: its distributions and every export as a
// sample.
const FileLoadResult = "load-result.json"

// Bundle is what a comparison reads of one run: its report and the load test's samples (none
// when the run never got to the load test).
type Bundle struct {
	Dir     string // where it was read from; empty for the run in progress
	Report  evidence.Report
	Samples []Sample
}

// Load reads the bundle in dir: evidence.json, and load-result.json when the bundle has one.
//
// It reads only those two files, and trusts them only as far as SHA256SUMS vouches for them: each
// must be listed there with its SHA-256, and the report must not contradict itself
// (evidence.Report.Validate). It does not re-hash the rest of the bundle (evidence verify does),
// so a copy of just these files and their SHA256SUMS lines is a bundle to compare with.
func Load(dir string) (Bundle, error) {
	sums, err := readSums(dir)
	if err != nil {
		return Bundle{}, err
	}
	b := Bundle{Dir: dir}
	raw, err := readListed(dir, evidence.FileJSON, sums)
	if err != nil {
		return Bundle{}, err
	}
	if err := json.Unmarshal(raw, &b.Report); err != nil {
		return Bundle{}, fmt.Errorf("%s: %w", evidence.FileJSON, err)
	}
	if err := b.Report.Validate(); err != nil {
		return Bundle{}, fmt.Errorf("%s contradicts itself: %w", evidence.FileJSON, err)
	}
	raw, err = readListed(dir, FileLoadResult, sums)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return b, nil // no load test in this run
	case err != nil:
		return Bundle{}, err
	}
	if b.Samples, err = ParseSamples(raw); err != nil {
		return Bundle{}, fmt.Errorf("%s: %w", FileLoadResult, err)
	}
	return b, nil
}

// readSums reads the bundle's SHA256SUMS (sha256sum format) into path → lower-case hex SHA-256.
func readSums(dir string) (map[string]string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, evidence.FileSums))
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		sum, rest, ok := strings.Cut(line, " ")
		if _, err := hex.DecodeString(sum); err != nil || !ok || len(sum) != 2*sha256.Size || len(rest) < 2 || (rest[0] != ' ' && rest[0] != '*') {
			return nil, fmt.Errorf("%s line %d: not a sha256sum line", evidence.FileSums, n)
		}
		sums[rest[1:]] = strings.ToLower(sum)
	}
	return sums, sc.Err()
}

// readListed reads the bundle file name and checks it against its SHA256SUMS line. A file that is
// absent and unlisted is fs.ErrNotExist; one that is listed but absent, or present but unlisted,
// is an error of its own.
func readListed(dir, name string, sums map[string]string) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, name))
	want, listed := sums[name]
	switch {
	case err != nil && !listed:
		return nil, err
	case err != nil: // not fs.ErrNotExist: a file the bundle lists must be there
		return nil, fmt.Errorf("%s is listed in %s but cannot be read: %v", name, evidence.FileSums, err)
	case !listed:
		return nil, fmt.Errorf("%s is not listed in %s", name, evidence.FileSums)
	}
	if got := sha256.Sum256(raw); hex.EncodeToString(got[:]) != want {
		return nil, fmt.Errorf("%s: SHA-256 %x, %s says %s", name, got, evidence.FileSums, want)
	}
	return raw, nil
}
