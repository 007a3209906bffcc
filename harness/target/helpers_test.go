package target

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/internal/testkit"
	"github.com/onsi/gomega"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// standin is testdata/standin, built once per test binary: a static stand-in that serves /readyz
// and can be told to use memory or exit (see its doc comment).
func standin(t *testing.T) string {
	t.Helper()
	return testkit.Binary(t, "./harness/target/testdata/standin")
}

// exporterBinary is the real exporter from this repository, built once per test binary.
func exporterBinary(t *testing.T) string {
	t.Helper()
	return testkit.Binary(t, testkit.ExporterPkg)
}

// startTarget starts a target and stops it when the test ends.
func startTarget(t *testing.T, o Options) Target {
	t.Helper()
	if o.Log == nil {
		o.Log = testkit.LogWriter(t)
	}
	return testkit.Start(t, 3*time.Minute, time.Minute, func(ctx context.Context) (Target, error) { return Start(ctx, o) })
}

// get requests path on the target, with its token when auth, and returns the status and body.
func get(t *testing.T, tg Target, path string, auth bool) (int, string) {
	t.Helper()
	token := ""
	if auth {
		token = tg.Token()
	}
	return testkit.Do(t, http.MethodGet, tg.BaseURL()+path, "", token, "")
}

// checkServesAndSamples checks that tg serves its metrics with the token, refuses an export without
// one, and has sampled anonymous and file-backed memory; it returns the memory window.
func checkServesAndSamples(t *testing.T, tg Target) MemoryWindow {
	t.Helper()
	if code, body := get(t, tg, "/metrics", true); code != http.StatusOK || !strings.Contains(body, "exporter_") {
		t.Errorf("metrics: %d, %d bytes", code, len(body))
	}
	if code, _ := get(t, tg, "/v1/datasets/absent/export?format=csv", false); code != http.StatusUnauthorized {
		t.Errorf("export without token: %d, want 401 (tokens file not in force?)", code)
	}
	w, ok := capability[Sampler](t, tg).ResetPeak()
	if !ok || w.PeakBytes == 0 || w.PeakFileBytes == 0 || w.Errors > 0 {
		t.Errorf("memory window = %+v, %v", w, ok)
	}
	return w
}

// logsContain waits briefly for text to show up in the target's logs.
func logsContain(t *testing.T, tg Target, text string) {
	t.Helper()
	gomega.NewWithT(t).Eventually(func() (string, error) {
		logs, err := capability[Logger](t, tg).Logs(context.Background())
		return string(logs), err
	}).WithTimeout(5*time.Second).WithPolling(100*time.Millisecond).Should(gomega.ContainSubstring(text), "the target's logs")
}

// checkMemoryWindows has the exporter hold mb MiB of anonymous memory for hold during the
// second of three windows, and map an mb MiB file during the third, and checks the peaks
// measured from outside tell the windows apart: anonymous memory judged, file pages beside it.
func checkMemoryWindows(t *testing.T, tg Target, mb int, hold time.Duration) {
	t.Helper()
	if err := capability[Sampler](t, tg).StartSampling(50 * time.Millisecond); err != nil {
		t.Fatalf("StartSampling: %v", err)
	}
	time.Sleep(hold)
	window := func(name, path string) MemoryWindow {
		t.Helper()
		if path != "" {
			if code, body := get(t, tg, fmt.Sprintf("%s?mb=%d&hold=%s", path, mb, hold), true); code != http.StatusOK {
				t.Fatalf("%s: %d %s", path, code, body)
			}
		}
		w, ok := capability[Sampler](t, tg).ResetPeak()
		if !ok {
			t.Fatalf("%s window not measured: %+v", name, w)
		}
		if w.Errors > 0 {
			t.Errorf("%s window: sampling errors: %d, last %s", name, w.Errors, w.LastError)
		}
		t.Logf("%s window: anonymous peak %d KiB, file peak %d KiB, over %d samples", name, w.PeakBytes>>10, w.PeakFileBytes>>10, w.Samples)
		return w
	}
	idle := window("idle", "")
	anon := window("anonymous", "/alloc")
	file := window("file", "/map")
	t.Logf("method: %s", idle.Method)
	grew := func(w MemoryWindow) (anon, file int64) {
		return int64(w.PeakBytes) - int64(idle.PeakBytes), int64(w.PeakFileBytes) - int64(idle.PeakFileBytes)
	}
	want := int64(mb) << 20 * 3 / 4
	if a, _ := grew(anon); a < want {
		t.Errorf("anonymous window: anonymous peak exceeds idle peak by %d KiB, want about %d MiB", a>>10, mb)
	}
	if a, f := grew(file); f < want || a > want/4 {
		t.Errorf("file window: file peak exceeds idle by %d KiB, anonymous peak by %d KiB; want about %d MiB and near 0", f>>10, a>>10, mb)
	}
}

// capability returns tg's optional interface C, failing the test if it has none.
func capability[C any](t *testing.T, tg Target) C {
	t.Helper()
	c, ok := tg.(C)
	if !ok {
		var none C
		t.Fatalf("a %s target is not a %T", tg.Kind(), &none)
	}
	return c
}
