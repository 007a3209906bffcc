package render

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
)

// writeTestBundle writes a bundle of r with a few extra files into a fresh directory.
func writeTestBundle(t *testing.T, r evidence.Report) (string, evidence.Report) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run-1")
	extra := map[string][]byte{
		"metrics-before.txt": []byte("# HELP exporter_exports_total x\n"),
		"metrics-after.txt":  []byte("# HELP exporter_exports_total y\n"),
		"ginkgo-report.json": []byte(`[{"SuiteDescription":"scenarios"}]`),
		"logs/exporter.log":  []byte("{\"level\":\"info\"}\n"),
	}
	written, err := WriteBundle(dir, r, extra)
	if err != nil {
		t.Fatal(err)
	}
	return dir, written
}

// readSums parses SHA256SUMS independently of the package's own parser.
func readSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, path, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not in sha256sum format", sc.Text())
		}
		sums[path] = sum
	}
	return sums
}

func TestWriteBundle(t *testing.T) {
	dir, written := writeTestBundle(t, greenReport(t))

	wantOrder := []string{"ginkgo-report.json", "logs/exporter.log", "metrics-after.txt", "metrics-before.txt", "junit.xml", "evidence.json", "EVIDENCE.md", "EVIDENCE.html"}
	var gotOrder []string
	for _, a := range written.Artifacts {
		gotOrder = append(gotOrder, a.Path)
	}
	if !slices.Equal(gotOrder, wantOrder) {
		t.Errorf("artifacts %v, want %v", gotOrder, wantOrder)
	}

	// Every file on disk, except SHA256SUMS itself, is listed with its real hash and nothing else is.
	sums := readSums(t, dir)
	var onDisk []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if rel == "SHA256SUMS" {
			return nil
		}
		onDisk = append(onDisk, rel)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		if sums[rel] != hex.EncodeToString(h[:]) {
			t.Errorf("%s: SHA256SUMS says %q, file hashes to %x", rel, sums[rel], h)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(onDisk)
	sorted := slices.Sorted(func(yield func(string) bool) {
		for k := range sums {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(onDisk, sorted) {
		t.Errorf("files on disk %v, SHA256SUMS lists %v", onDisk, sorted)
	}
	for _, a := range written.Artifacts {
		if sums[a.Path] != a.SHA256 {
			t.Errorf("returned artifact %s has %s, SHA256SUMS %s", a.Path, a.SHA256, sums[a.Path])
		}
		if fi, err := os.Stat(filepath.Join(dir, a.Path)); err != nil || fi.Size() != a.Bytes {
			t.Errorf("returned artifact %s: %d bytes recorded, stat %v %v", a.Path, a.Bytes, fi, err)
		}
	}

	// evidence.json lists the extras and junit.xml; EVIDENCE.md also lists evidence.json.
	var inJSON evidence.Report
	b, _ := os.ReadFile(filepath.Join(dir, "evidence.json"))
	if err := json.Unmarshal(b, &inJSON); err != nil {
		t.Fatal(err)
	}
	if n := len(inJSON.Artifacts); n != 5 || inJSON.Artifacts[4].Path != "junit.xml" {
		t.Errorf("evidence.json lists %d artifacts: %+v", n, inJSON.Artifacts)
	}
	if inJSON.Verdict != evidence.Green || inJSON.SchemaVersion != evidence.SchemaVersion {
		t.Errorf("evidence.json verdict %q schema %q", inJSON.Verdict, inJSON.SchemaVersion)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "EVIDENCE.md"))
	if !strings.HasPrefix(string(md), "# Verdict: GREEN\n") || !strings.Contains(string(md), "| evidence.json | `"+sums["evidence.json"]+"`") {
		t.Errorf("EVIDENCE.md does not start with the verdict or does not list evidence.json:\n%s", md)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "EVIDENCE.html"))
	if !strings.Contains(string(page), "<h1>Verdict: GREEN</h1>") || !strings.Contains(string(page), "<td>EVIDENCE.md</td><td><code>"+sums["EVIDENCE.md"]+"</code>") {
		t.Errorf("EVIDENCE.html does not show the verdict or does not list EVIDENCE.md:\n%s", page)
	}

	got, err := evidence.VerifyBundle(dir)
	if err != nil {
		t.Fatalf("fresh bundle does not verify: %v", err)
	}
	if got.Verdict != evidence.Green || got.RunID != written.RunID {
		t.Errorf("VerifyBundle = verdict %s run %s", got.Verdict, got.RunID)
	}
}

func TestWriteBundleDecidesEmptyVerdict(t *testing.T) {
	r := redReport(t)
	r.Verdict = ""
	_, written := writeTestBundle(t, r)
	if written.Verdict != evidence.Red {
		t.Errorf("verdict %q, want RED", written.Verdict)
	}
}

func TestWriteBundleRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*evidence.Report)
		extra   map[string][]byte
		wantErr string
	}{
		{"forged verdict", func(r *evidence.Report) { r.Verdict = evidence.Red }, nil, "does not follow from the checks"},
		{"forged pass", func(r *evidence.Report) { r.Checks[3].Measures[0].Value = 1 }, nil, "records pass=true"},
		{"unjudged measure", func(r *evidence.Report) {
			r.Checks[3].Measures = append(r.Checks[3].Measures, evidence.Measure{Name: "a1.missing_rows", Value: 5, Pass: true})
		}, nil, "recorded as informational"},
		{"loosened rule", func(r *evidence.Report) {
			r.Checks[5].Measures[0].Rule = &evidence.Rule{Op: "<=", Value: 99, Unit: "s"}
		}, nil, "the thresholds say <= 1 s"},
		{"collides", nil, map[string][]byte{"evidence.json": nil}, "collides"},
		{"collides with the page", nil, map[string][]byte{"EVIDENCE.html": nil}, "collides"},
		{"escapes", nil, map[string][]byte{"../x": nil}, "not a clean relative path"},
		{"absolute", nil, map[string][]byte{"/tmp/x": nil}, "not a clean relative path"},
		{"unclean", nil, map[string][]byte{"a//b": nil}, "not a clean relative path"},
		{"dot", nil, map[string][]byte{".": nil}, "not a clean relative path"},
		{"backslash", nil, map[string][]byte{`a\b`: nil}, "not a clean relative path"},
		{"newline", nil, map[string][]byte{"a\nb": nil}, "line break"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := greenReport(t)
			if tc.edit != nil {
				tc.edit(&r)
			}
			dir := filepath.Join(t.TempDir(), "out")
			_, err := WriteBundle(dir, r, tc.extra)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused bundle left %s behind (%v)", dir, err)
			}
		})
	}
}

func TestVerifyBundleDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tamper  func(t *testing.T, dir string)
		wantErr string
	}{
		{"edited extra", func(t *testing.T, dir string) { appendTo(t, dir, "metrics-after.txt", "x") }, "metrics-after.txt: SHA-256"},
		{"edited EVIDENCE.md", func(t *testing.T, dir string) { appendTo(t, dir, "EVIDENCE.md", "\nall good\n") }, "EVIDENCE.md: SHA-256"},
		{"edited EVIDENCE.html", func(t *testing.T, dir string) { appendTo(t, dir, "EVIDENCE.html", "<p>all good</p>") }, "EVIDENCE.html: SHA-256"},
		{"EVIDENCE.html unlisted", func(t *testing.T, dir string) {
			rewriteSums(t, dir, func(l string) bool { return !strings.HasSuffix(l, " EVIDENCE.html") })
		}, "EVIDENCE.html: not listed"},
		{"deleted file", func(t *testing.T, dir string) { remove(t, dir, "logs/exporter.log") }, "logs/exporter.log:"},
		{"verdict edited and rehashed", func(t *testing.T, dir string) {
			editJSON(t, dir, func(r *evidence.Report) { r.Verdict = evidence.Green })
		}, "does not follow from the checks"},
		{"pass edited and rehashed", func(t *testing.T, dir string) {
			editJSON(t, dir, func(r *evidence.Report) { r.Checks[3].Measures[0].Pass = true })
		}, "records pass=true"},
		{"threshold loosened and rehashed", func(t *testing.T, dir string) {
			editJSON(t, dir, func(r *evidence.Report) {
				r.Thresholds["a3.csv_p95_seconds"] = evidence.Rule{Op: "<=", Value: 10, Unit: "s"}
			})
		}, "the thresholds say <= 10 s"},
		{"schema changed and rehashed", func(t *testing.T, dir string) {
			editJSON(t, dir, func(r *evidence.Report) { r.SchemaVersion = "v0" })
		}, "schema version"},
		{"evidence.json unlisted", func(t *testing.T, dir string) {
			rewriteSums(t, dir, func(l string) bool { return !strings.HasSuffix(l, " evidence.json") })
		}, "evidence.json: not listed"},
		{"artifact unlisted", func(t *testing.T, dir string) {
			rewriteSums(t, dir, func(l string) bool { return !strings.HasSuffix(l, " metrics-before.txt") })
		}, "which SHA256SUMS does not list"},
		{"path escapes", func(t *testing.T, dir string) {
			appendTo(t, dir, "SHA256SUMS", strings.Repeat("0", 64)+"  ../../etc/passwd\n")
		}, "not a path inside the bundle"},
		{"listed twice", func(t *testing.T, dir string) {
			appendTo(t, dir, "SHA256SUMS", strings.Repeat("0", 64)+"  EVIDENCE.md\n")
		}, "listed twice"},
		{"garbage line", func(t *testing.T, dir string) { appendTo(t, dir, "SHA256SUMS", "not a sum\n") }, "not a sha256sum line"},
		{"bad json", func(t *testing.T, dir string) {
			write(t, dir, "evidence.json", "{")
			rehash(t, dir)
		}, "evidence.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := writeTestBundle(t, redReport(t))
			if _, err := evidence.VerifyBundle(dir); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			tc.tamper(t, dir)
			_, err := evidence.VerifyBundle(dir)
			if !errors.Is(err, evidence.ErrTampered) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want ErrTampered containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestVerifyBundleUnreadable(t *testing.T) {
	if _, err := evidence.VerifyBundle(t.TempDir()); err == nil || errors.Is(err, evidence.ErrTampered) {
		t.Errorf("empty directory: error %v, want a read error", err)
	}
}

func TestHashFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "exporter.rules.yml")
	if err := os.WriteFile(path, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := evidence.HashFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// sha256("abc"), from FIPS 180-2.
	want := evidence.Artifact{Path: filepath.ToSlash(path), SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Bytes: 3}
	if a != want {
		t.Errorf("HashFile = %+v, want %+v", a, want)
	}
	if _, err := evidence.HashFile(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("missing file: no error")
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, dir, name, s string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// editJSON rewrites evidence.json and fixes up SHA256SUMS, as a careful forger would.
func editJSON(t *testing.T, dir string, edit func(*evidence.Report)) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "evidence.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r evidence.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	edit(&r)
	b, err = json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "evidence.json", string(b))
	rehash(t, dir)
}

// rehash recomputes SHA256SUMS for the files it lists.
func rehash(t *testing.T, dir string) {
	t.Helper()
	var out strings.Builder
	for path := range readSums(t, dir) {
		b, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		out.WriteString(hex.EncodeToString(h[:]) + "  " + path + "\n")
	}
	write(t, dir, "SHA256SUMS", out.String())
}

func rewriteSums(t *testing.T, dir string, keep func(line string) bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" && keep(strings.TrimSuffix(l, "\n")) {
			out = append(out, l)
		}
	}
	write(t, dir, "SHA256SUMS", strings.Join(out, ""))
}
