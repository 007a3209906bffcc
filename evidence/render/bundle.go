package render

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/exportatscale/exportatscale/evidence"
)

// WriteBundle writes the evidence bundle of r into dir (created if needed) and returns r as written.
//
// Files are written in an order that lets each list the ones before it: first the extra files
// (name → content, in name order; names are slash-separated paths inside dir, e.g.
// "metrics-before.txt" or "logs/exporter.log"), then junit.xml, json, EVIDENCE.md,
// EVIDENCE.html, and last SHA256SUMS (sha256sum format), which covers every other file. r.Artifacts is replaced by the files
// written, in that order; the returned report lists them all.
//
// An empty verdict is decided from the checks. A report that fails Validate (a verdict that does
// not follow from its checks, a measure that escaped its threshold…) is refused before anything is
// written: the bundle never records a verdict its own data contradicts.
func WriteBundle(dir string, r evidence.Report, extra map[string][]byte) (evidence.Report, error) {
	r.SchemaVersion = evidence.SchemaVersion
	if r.Verdict == "" {
		r.Verdict = evidence.Decide(r.Checks, r.Required)
	}
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("refusing to write evidence: %w", err)
	}
	names := make([]string, 0, len(extra))
	for name := range extra {
		if err := evidence.CheckExtraName(name); err != nil {
			return r, err
		}
		names = append(names, name)
	}
	sort.Strings(names)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}

	r.Artifacts = nil
	write := func(name string, b []byte) error {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
		r.Artifacts = append(r.Artifacts, evidence.HashBytes(name, b))
		return nil
	}
	for _, name := range names {
		if err := write(name, extra[name]); err != nil {
			return r, err
		}
	}
	for _, f := range []struct {
		name   string
		render func(io.Writer, evidence.Report) error
	}{
		{evidence.FileJUnit, JUnit},
		{evidence.FileJSON, JSON},
		{evidence.FileMarkdown, Markdown},
		{evidence.FileHTML, HTML},
	} {
		var b bytes.Buffer
		if err := f.render(&b, r); err != nil {
			return r, fmt.Errorf("render %s: %w", f.name, err)
		}
		if err := write(f.name, b.Bytes()); err != nil {
			return r, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, evidence.FileSums), evidence.FormatSums(r.Artifacts), 0o644); err != nil {
		return r, err
	}
	return r, nil
}
