package target

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/internal/project"
)

// exporterPkg is the exporter's main package, relative to the repository root.
const exporterPkg = "./exporter/cmd/exporter"

// BuildBinary builds the exporter as a static binary (CGO_ENABLED=0, -trimpath) from the
// module at repoRoot into outDir/exporter and returns that path.
func BuildBinary(ctx context.Context, repoRoot, outDir string) (string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("build exporter: %w", err)
	}
	out, err := filepath.Abs(filepath.Join(outDir, "exporter"))
	if err != nil {
		return "", fmt.Errorf("build exporter: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, exporterPkg)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s in %s: %w\n%s", exporterPkg, repoRoot, err, strings.TrimSpace(buf.String()))
	}
	return out, nil
}

// findRepoRoot returns the nearest directory upward from dir holding a go.mod.
func findRepoRoot(dir string) (string, error) {
	root, err := project.Root(dir)
	if errors.Is(err, project.ErrNoRoot) {
		return "", errors.New("no go.mod above the working directory; set Options.RepoRoot")
	}
	return root, err
}

// repoRoot returns o.RepoRoot or the module root above the working directory.
func (o Options) repoRoot() (string, error) {
	if o.RepoRoot != "" {
		return o.RepoRoot, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return findRepoRoot(wd)
}

// prepareImageContext fills dir with what exporter/Dockerfile expects: the Dockerfile, the
// static binary named exporter, and an empty directory data.
func prepareImageContext(repoRoot, binary, dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(repoRoot, "exporter", "Dockerfile"), filepath.Join(dir, "Dockerfile"), 0o644); err != nil {
		return err
	}
	return copyFile(binary, filepath.Join(dir, "exporter"), 0o755)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// workspace is the directory a target writes into, and whether Stop removes it.
type workspace struct {
	dir       string
	temporary bool
}

func newWorkspace(o Options) (workspace, error) { return newWorkspaceAs(o, "exporter-target-") }

// newWorkspaceAs is newWorkspace with the temporary directory's name starting with prefix.
func newWorkspaceAs(o Options, prefix string) (workspace, error) {
	if o.WorkDir != "" {
		if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
			return workspace{}, err
		}
		return workspace{dir: o.WorkDir}, nil
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return workspace{}, err
	}
	return workspace{dir: dir, temporary: true}, nil
}

// removeIfFailed removes w if *err is set when the start that made it returns, deferred by that
// start: a target that did not start leaves no workspace behind.
func (w workspace) removeIfFailed(err *error) {
	if *err != nil {
		w.remove()
	}
}

func (w workspace) remove() error {
	if !w.temporary {
		return nil
	}
	return os.RemoveAll(w.dir)
}

// binary returns o.BinaryPath or builds the exporter into the workspace.
func (w workspace) binary(ctx context.Context, o Options) (path string, built time.Duration, err error) {
	if o.BinaryPath != "" {
		if _, err := os.Stat(o.BinaryPath); err != nil {
			return "", 0, fmt.Errorf("exporter binary: %w", err)
		}
		path, err = filepath.Abs(o.BinaryPath)
		return path, 0, err
	}
	root, err := o.repoRoot()
	if err != nil {
		return "", 0, err
	}
	t0 := time.Now()
	path, err = BuildBinary(ctx, root, filepath.Join(w.dir, "bin"))
	return path, time.Since(t0), err
}
