package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what a check reports instead of failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(path, []byte("one\ntwo\nthree\nfour\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	same := &recorder{TB: t}
	Check(same, path, []byte("one\ntwo\nthree\nfour\n"))
	if len(same.errors) != 0 {
		t.Errorf("the same bytes reported: %q", same.errors)
	}
	changed := &recorder{TB: t}
	Check(changed, path, []byte("one\ntwo\nthreE\nfour\n"))
	if len(changed.errors) != 1 || !strings.Contains(changed.errors[0], "at byte 12") ||
		!strings.Contains(changed.errors[0], `"two\nthreE\nfour\n"`) {
		t.Errorf("a changed byte reported as %q", changed.errors)
	}
	short := &recorder{TB: t}
	Check(short, path, []byte("one\n"))
	if len(short.errors) != 1 || !strings.Contains(short.errors[0], "the output has 4 bytes, the file 19") {
		t.Errorf("a short output reported as %q", short.errors)
	}
}
