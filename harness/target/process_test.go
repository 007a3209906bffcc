package target

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
)

func TestProcessTarget(t *testing.T) {
	work := t.TempDir()
	tg := startTarget(t, Options{Kind: KindProcess, RequireKind: true, BinaryPath: standin(t), WorkDir: work})

	u, err := url.Parse(tg.BaseURL())
	if err != nil || u.Hostname() != "127.0.0.1" || u.Port() == "" {
		t.Fatalf("BaseURL = %q, want http://127.0.0.1:PORT", tg.BaseURL())
	}
	if tg.Kind() != KindProcess || tg.Info().ImageID != "" || tg.Info().Note != "process target requested" {
		t.Errorf("Kind %q, ImageDigest %q, Info %+v", tg.Kind(), tg.Info().ImageID, tg.Info())
	}
	if code, _ := get(t, tg, "/healthz", false); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
	// The tokens file the target wrote is in force.
	if code, _ := get(t, tg, "/alloc?mb=1", false); code != http.StatusUnauthorized {
		t.Errorf("alloc without token: %d, want 401", code)
	}
	if _, err := os.Stat(filepath.Join(work, "data", "standin.txt")); err != nil {
		t.Errorf("data dir: %v", err)
	}
	logsContain(t, tg, "standin: stdout line")
	logsContain(t, tg, "standin: listening on 127.0.0.1:")

	checkMemoryWindows(t, tg, 96, 300*time.Millisecond)

	if rs, err := capability[Restarter](t, tg).Restarts(context.Background()); err != nil || rs.Exited {
		t.Errorf("Restarts = %+v, %v", rs, err)
	}
	if err := tg.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	logsContain(t, tg, "standin: stopped")
	if rs, _ := capability[Restarter](t, tg).Restarts(context.Background()); rs.Exited || rs.ExitCode != 0 {
		t.Errorf("after Stop: %+v, want an expected clean exit", rs)
	}
	if err := capability[Sampler](t, tg).StartSampling(time.Second); err == nil {
		t.Error("StartSampling after Stop: want error")
	}
}

// An exit the harness did not ask for is reported, and Stop says so.
func TestProcessTargetCrash(t *testing.T) {
	tg := startTarget(t, Options{Kind: KindProcess, BinaryPath: standin(t)})
	// The stand-in exits while answering, so the request itself fails.
	req, _ := http.NewRequest(http.MethodGet, tg.BaseURL()+"/exit?code=3", nil)
	req.Header.Set("Authorization", "Bearer "+tg.Token())
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	var rs RunState
	gomega.NewWithT(t).Eventually(func() bool {
		rs, _ = capability[Restarter](t, tg).Restarts(context.Background())
		return rs.Exited
	}).WithTimeout(2 * time.Second).WithPolling(20 * time.Millisecond).Should(gomega.BeTrue())
	if rs.ExitCode != 3 {
		t.Fatalf("Restarts = %+v, want exited with 3", rs)
	}
	if err := tg.Stop(context.Background()); err == nil || !strings.Contains(err.Error(), "already exited with code 3") {
		t.Fatalf("Stop = %v", err)
	}
}

func TestProcessTargetUncleanShutdown(t *testing.T) {
	tg := startTarget(t, Options{Kind: KindProcess, BinaryPath: standin(t), Args: []string{"--exit-on-term=2"}})
	if err := tg.Stop(context.Background()); err == nil || !strings.Contains(err.Error(), "code 2 after SIGTERM") {
		t.Fatalf("Stop = %v", err)
	}
}

// An exporter that dies while starting fails Start quickly, with its output in the error.
func TestProcessTargetStartFailure(t *testing.T) {
	start := time.Now()
	tg, err := Start(context.Background(), Options{Kind: KindProcess, BinaryPath: standin(t), Args: []string{"--no-such-flag"}})
	if err == nil {
		tg.Stop(context.Background())
		t.Fatal("Start succeeded with a flag the exporter rejects")
	}
	if !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("Start error = %v", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("Start took %v to notice", time.Since(start))
	}
}

func TestProcessTargetMissingBinary(t *testing.T) {
	_, err := Start(context.Background(), Options{Kind: KindProcess, BinaryPath: filepath.Join(t.TempDir(), "nope")})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Start = %v, want not-exist error", err)
	}
}

// The real exporter accepts the flags a process target passes and shuts down cleanly.
func TestProcessTargetExporter(t *testing.T) {
	tg := startTarget(t, Options{Kind: KindProcess, RequireKind: true, BinaryPath: exporterBinary(t), Args: []string{"--rate=1000"}})
	if err := capability[Sampler](t, tg).StartSampling(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, tg, "/healthz", false); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
	w := checkServesAndSamples(t, tg)
	t.Logf("memory: anonymous peak %d KiB, file peak %d KiB, over %d samples (%s)", w.PeakBytes>>10, w.PeakFileBytes>>10, w.Samples, w.Method)
	if err := tg.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v\n%s", err, must(capability[Logger](t, tg).Logs(context.Background())))
	}
}

func must(b []byte, _ error) []byte { return b }
