package evidence

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The fixed files of an evidence bundle.
const (
	FileMarkdown = "EVIDENCE.md"
	FileHTML     = "EVIDENCE.html"
	FileJSON     = "evidence.json"
	FileJUnit    = "junit.xml"
	FileSums     = "SHA256SUMS"
)

// bundleFiles are the files every bundle holds besides SHA256SUMS, each listed in it; package
// evidence/render writes them (WriteBundle).
var bundleFiles = []string{FileJUnit, FileJSON, FileMarkdown, FileHTML}

// ErrTampered is returned (wrapped) by VerifyBundle when a bundle's files do not match SHA256SUMS
// or its report contradicts itself.
var ErrTampered = errors.New("evidence bundle does not verify")

// CheckExtraName accepts the name of an extra file of a bundle (a metric scrape, a log): a
// slash-separated path inside the bundle that sha256sum can list verbatim and that does not
// collide with the bundle's own files.
func CheckExtraName(name string) error {
	switch {
	case slices.Contains(bundleFiles, name) || name == FileSums:
		return fmt.Errorf("extra file %q collides with a bundle file", name)
	case name == "." || !filepath.IsLocal(filepath.FromSlash(name)) || strings.Contains(name, `\`) || name != filepath.ToSlash(filepath.Clean(name)):
		return fmt.Errorf("extra file %q: not a clean relative path inside the bundle", name)
	case strings.ContainsAny(name, "\n\r"):
		return fmt.Errorf("extra file %q: line break in name", name)
	}
	return nil
}

// VerifyBundle checks the bundle in dir and returns its report. It re-hashes every file listed in
// SHA256SUMS, requires the bundle's own files to be listed, checks that the artifacts recorded in
// evidence.json agree with SHA256SUMS, and validates the report (Validate), so a verdict edited by
// hand does not verify. A bundle that fails any of this yields an error wrapping ErrTampered; one
// that cannot be read at all yields the read error.
func VerifyBundle(dir string) (Report, error) {
	f, err := os.Open(filepath.Join(dir, FileSums))
	if err != nil {
		return Report{}, err
	}
	entries, err := parseSums(f)
	f.Close()
	if err != nil {
		return Report{}, fmt.Errorf("%w: %w", ErrTampered, err)
	}

	var problems []string
	listed := map[string]string{}
	for _, e := range entries {
		if _, dup := listed[e.path]; dup {
			problems = append(problems, fmt.Sprintf("%s: listed twice", e.path))
			continue
		}
		listed[e.path] = e.sum
		if CheckExtraName(e.path) != nil && !slices.Contains(bundleFiles, e.path) {
			problems = append(problems, fmt.Sprintf("%s: not a path inside the bundle", e.path))
			continue
		}
		a, err := HashFile(filepath.Join(dir, filepath.FromSlash(e.path)))
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", e.path, err))
		case a.SHA256 != e.sum:
			problems = append(problems, fmt.Sprintf("%s: SHA-256 %s, SHA256SUMS says %s", e.path, a.SHA256, e.sum))
		}
	}
	for _, name := range bundleFiles {
		if _, ok := listed[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s: not listed in %s", name, FileSums))
		}
	}

	var r Report
	b, err := os.ReadFile(filepath.Join(dir, FileJSON))
	if err != nil {
		return Report{}, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Report{}, fmt.Errorf("%w: %s: %w", ErrTampered, FileJSON, err)
	}
	for _, a := range r.Artifacts {
		if sum, ok := listed[a.Path]; !ok || sum != a.SHA256 {
			problems = append(problems, fmt.Sprintf("%s: recorded in %s with SHA-256 %s, which %s does not list", a.Path, FileJSON, a.SHA256, FileSums))
		}
	}
	if err := r.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			problems = append(problems, FileJSON+": "+line)
		}
	}
	if len(problems) > 0 {
		return r, fmt.Errorf("%w:\n  %s", ErrTampered, strings.Join(problems, "\n  "))
	}
	return r, nil
}
