package testkit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// SkipMissing names the one environment switch for tests that need something the machine lacks:
// set to 1, such a test skips; otherwise (as in `make test`) it fails, naming what is missing.
const SkipMissing = "EXPORTATSCALE_SKIP_MISSING"

// A Need is something a test needs from the machine: a name, how to get it, and how to tell
// whether it is there.
type Need struct {
	Name    string
	Install string
	present func() bool
}

// The needs of the repository's tests.
var (
	// Docker is a Docker engine that answers.
	Docker = Need{Name: "a Docker engine", Install: "start the Docker daemon", present: dockerAnswers}
	// PostgreSQL is Debian's PostgreSQL server binaries (initdb and postgres).
	PostgreSQL = Need{Name: "PostgreSQL's server (initdb)", Install: "make tools-postgres", present: func() bool {
		m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
		return len(m) > 0
	}}
	// Chromium is a headless-capable Chromium on PATH (LookChromium finds it).
	Chromium = Need{Name: "a headless Chromium", Install: "make tools-chromium", present: func() bool {
		_, ok := LookChromium()
		return ok
	}}
	// HAProxy is haproxy on PATH.
	HAProxy = Need{Name: "haproxy", Install: "make tools-haproxy", present: onPath("haproxy")}
	// ClickHouse is Debian's clickhouse-server (18.16 in Debian 12) on PATH or in /usr/sbin.
	ClickHouse = Need{Name: "ClickHouse's server (clickhouse-server)", Install: "make tools-clickhouse", present: func() bool {
		return onPath("clickhouse-server")() || fileExists("/usr/sbin/clickhouse-server")
	}}
	// Nginx is nginx on PATH or in /usr/sbin.
	Nginx = Need{Name: "nginx", Install: "make tools-nginx", present: func() bool {
		return onPath("nginx")() || fileExists("/usr/sbin/nginx")
	}}
)

// Require fails t (or, with SkipMissing=1, skips it) unless every need is met.
func Require(t testing.TB, needs ...Need) {
	t.Helper()
	for _, n := range needs {
		if n.present() {
			continue
		}
		if os.Getenv(SkipMissing) == "1" {
			t.Skipf("%s is missing (%s=1)", n.Name, SkipMissing)
		}
		t.Fatalf("%s is missing: %s, or set %s=1 to skip the tests that need it", n.Name, n.Install, SkipMissing)
	}
}

// LookChromium finds a headless-capable Chromium on PATH.
func LookChromium() (string, bool) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

func onPath(name string) func() bool {
	return func() bool { _, err := exec.LookPath(name); return err == nil }
}

func fileExists(path string) bool { _, err := os.Stat(path); return err == nil }

func dockerAnswers() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").Run() == nil
}
