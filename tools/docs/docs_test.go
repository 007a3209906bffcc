package docs

import (
	"bufio"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/exportatscale/exportatscale/internal/project"
)

const (
	maxREADMELines = 200
	maxLineRunes   = 120
)

// root is the repository's root.
func root(t *testing.T) string {
	t.Helper()
	r, err := project.Root(".")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// manual is README.md and docs/*.md, relative to the root: the pages the line and heading rules
// hold for.
func manual(t *testing.T, root string) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("no docs/*.md")
	}
	files := []string{"README.md"}
	for _, p := range pages {
		rel, _ := filepath.Rel(root, p)
		files = append(files, rel)
	}
	return files
}

// markdown is every Markdown file of the repository, relative to the root, outside what git ignores
// of the build (bin/, evidence/out/) and .git.
func markdown(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch filepath.ToSlash(rel) {
			case ".git", "bin", "evidence/out", "data":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".md") {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.Split(s, "\n")
}

// prose calls f with every line outside fenced code blocks, and its number from 1.
func prose(ls []string, f func(n int, line string)) {
	fence := ""
	for i, l := range ls {
		trimmed := strings.TrimLeft(l, " ")
		if fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
			fence = trimmed[:3]
			continue
		}
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		f(i+1, l)
	}
}

var heading = regexp.MustCompile(`^(#{1,6})[ \t]+(.*?)[ \t#]*$`)

// headings returns the ATX headings of ls outside code blocks: level, text and line number.
func headings(ls []string) (levels []int, texts []string, at []int) {
	prose(ls, func(n int, l string) {
		if m := heading.FindStringSubmatch(l); m != nil {
			levels, texts, at = append(levels, len(m[1])), append(texts, m[2]), append(at, n)
		}
	})
	return levels, texts, at
}

func TestREADMEShort(t *testing.T) {
	if n := len(lines(t, filepath.Join(root(t), "README.md"))); n > maxREADMELines {
		t.Errorf("README.md has %d lines, at most %d: move reference material into docs/", n, maxREADMELines)
	}
}

func TestLineLength(t *testing.T) {
	r := root(t)
	for _, f := range manual(t, r) {
		for i, l := range lines(t, filepath.Join(r, f)) {
			if n := utf8.RuneCountInString(l); n > maxLineRunes {
				t.Errorf("%s:%d: %d characters, at most %d", f, i+1, n, maxLineRunes)
			}
		}
	}
}

// TestHeadingLevels: each page starts with a level-1 heading, and a heading is at most one level
// deeper than the one before it.
func TestHeadingLevels(t *testing.T) {
	r := root(t)
	for _, f := range manual(t, r) {
		levels, texts, at := headings(lines(t, filepath.Join(r, f)))
		if len(levels) == 0 {
			t.Errorf("%s: no heading", f)
			continue
		}
		if levels[0] != 1 {
			t.Errorf("%s:%d: the first heading %q is level %d, want 1", f, at[0], texts[0], levels[0])
		}
		for i := 1; i < len(levels); i++ {
			if levels[i] > levels[i-1]+1 {
				t.Errorf("%s:%d: %q is level %d after level %d", f, at[i], texts[i], levels[i], levels[i-1])
			}
		}
	}
}

var (
	inlineLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	refLink    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*(\S+)`)
	codeSpan   = regexp.MustCompile("`[^`]*`")
)

// TestLinks: every relative link in the repository's Markdown names a file or directory inside
// the repository, and an anchor into a Markdown file names one of its headings. Nothing points
// outside the clone.
func TestLinks(t *testing.T) {
	r := root(t)
	anchors := map[string]map[string]bool{}
	for _, f := range markdown(t, r) {
		ls := lines(t, filepath.Join(r, f))
		for i, l := range ls {
			if strings.Contains(l, "../shared") {
				t.Errorf("%s:%d: refers to ../shared, which a clone does not have", f, i+1)
			}
		}
		prose(ls, func(n int, l string) {
			l = codeSpan.ReplaceAllString(l, "")
			var targets []string
			for _, m := range inlineLink.FindAllStringSubmatch(l, -1) {
				targets = append(targets, m[1])
			}
			if m := refLink.FindStringSubmatch(l); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if err := resolve(r, f, target, anchors); err != nil {
					t.Errorf("%s:%d: link %s: %v", f, n, target, err)
				}
			}
		})
	}
}

// resolve checks one link target written in the file from (relative to root).
func resolve(root, from, target string, anchors map[string]map[string]bool) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	if u.Scheme != "" || u.Host != "" {
		return nil // a URL: not this test's business
	}
	if strings.HasPrefix(u.Path, "/") {
		return fmt.Errorf("absolute path: write it relative to %s", from)
	}
	path := from // a bare #anchor is into the same file
	if u.Path != "" {
		path = filepath.Join(filepath.Dir(from), filepath.FromSlash(u.Path))
	}
	if path == ".." || strings.HasPrefix(path, ".."+string(filepath.Separator)) {
		return fmt.Errorf("outside the repository")
	}
	info, err := os.Stat(filepath.Join(root, path))
	if err != nil {
		return fmt.Errorf("no such file in the repository")
	}
	if u.Fragment == "" || info.IsDir() || !strings.HasSuffix(path, ".md") {
		return nil
	}
	if anchors[path] == nil {
		anchors[path] = slugs(root, path)
	}
	if !anchors[path][u.Fragment] {
		return fmt.Errorf("%s has no heading #%s", filepath.ToSlash(path), u.Fragment)
	}
	return nil
}

// slugs are the anchors a Markdown renderer such as GitHub's gives the headings of the file:
// lower case, punctuation dropped, spaces made hyphens, repeats numbered -1, -2, ….
func slugs(root, path string) map[string]bool {
	f, err := os.Open(filepath.Join(root, path))
	if err != nil {
		return nil
	}
	defer f.Close()
	var ls []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ls = append(ls, sc.Text())
	}
	_, texts, _ := headings(ls)
	out, seen := map[string]bool{}, map[string]int{}
	for _, text := range texts {
		var b strings.Builder
		for _, c := range strings.ToLower(text) {
			switch {
			case c == ' ':
				b.WriteRune('-')
			case c == '-' || c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c):
				b.WriteRune(c)
			}
		}
		s := b.String()
		if n := seen[s]; n > 0 {
			out[fmt.Sprintf("%s-%d", s, n)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}
