package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/exportatscale/exportatscale/internal/project"
)

// The repository's binaries that tests build, by package path from the module root.
const (
	ExporterPkg = "./exporter/cmd/exporter"
	FakePkg     = "./harness/internal/fake/cmd/fakeexporter"
)

var builds struct {
	sync.Mutex
	dir  string
	done map[string]built
}

type built struct {
	path string
	err  error
}

// Main runs a package's tests and removes the binaries Binary built for them. A package whose
// tests build binaries calls it from its TestMain: os.Exit(testkit.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	builds.Lock()
	defer builds.Unlock()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
		builds.dir, builds.done = "", nil
	}
	return code
}

// Binary builds the package pkg (a path from the module root, e.g. ExporterPkg) with the build
// tags given, statically (CGO_ENABLED=0, as the targets build the exporter), once per test binary,
// and returns the path of the binary. A failed build fails the test, every time it is asked for.
func Binary(t testing.TB, pkg string, tags ...string) string {
	t.Helper()
	key := pkg + " " + strings.Join(tags, ",")
	builds.Lock()
	defer builds.Unlock()
	b, ok := builds.done[key]
	if !ok {
		b = build(pkg, tags, len(builds.done))
		if builds.done == nil {
			builds.done = map[string]built{}
		}
		builds.done[key] = b
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// build builds pkg into the shared directory as its n-th binary.
func build(pkg string, tags []string, n int) built {
	wd, err := os.Getwd()
	if err != nil {
		return built{err: err}
	}
	root, err := project.Root(wd)
	if err != nil {
		return built{err: fmt.Errorf("build %s: %w", pkg, err)}
	}
	if builds.dir == "" {
		if builds.dir, err = os.MkdirTemp("", "testkit-bin-"); err != nil {
			return built{err: err}
		}
	}
	out := filepath.Join(builds.dir, fmt.Sprintf("%s-%d", filepath.Base(pkg), n))
	args := []string{"build", "-trimpath", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return built{err: fmt.Errorf("build %s (tags %q): %v\n%s", pkg, tags, err, b)}
	}
	return built{path: out}
}
