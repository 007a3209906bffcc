package target

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/internal/testkit"
)

// requireEngine fails the test when no container engine answers: the container tests run
// wherever the unit tests run, make test included, and a machine without an engine fails them
// rather than passing them silently. testkit.SkipMissing=1 skips them instead, for a run by
// hand on such a machine; make test clears it.
func requireEngine(t *testing.T) EngineInfo {
	t.Helper()
	if os.Getenv(testkit.SkipMissing) == "1" {
		t.Skipf("%s=1: container tests skipped", testkit.SkipMissing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	info, err := ProbeEngine(ctx)
	if err != nil {
		t.Fatalf("the container tests need a Docker engine, and none answered: %v\n"+
			"(start one, or set EXPORTATSCALE_SKIP_MISSING=1 to skip these tests outside make test)", err)
	}
	return info
}

var imageID = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func TestDockerVersion(t *testing.T) {
	info := requireEngine(t)
	v, err := DockerVersion(context.Background())
	if err != nil || v == "" || v != info.ServerVersion {
		t.Fatalf("DockerVersion = %q, %v (probe said %+v)", v, err, info)
	}
	t.Logf("engine: %s", info)
}

// The container mechanics, with a stand-in whose memory use the test controls.
func TestContainerTargetStandin(t *testing.T) {
	requireEngine(t)
	tg := startTarget(t, Options{Kind: KindContainer, RequireKind: true, BinaryPath: standin(t)})
	checkContainer(t, tg)
	logsContain(t, tg, "standin: listening on")
	// The engine refreshes container stats about once a second: hold long enough.
	checkMemoryWindows(t, tg, 96, 3*time.Second)
	stopContainer(t, tg)
	logsContain(t, tg, "standin: stopped")
}

// The real exporter: built from this repository, in its FROM scratch image.
func TestContainerTargetExporter(t *testing.T) {
	requireEngine(t)
	tg := startTarget(t, Options{Kind: KindContainer, RequireKind: true, BinaryPath: exporterBinary(t), Args: []string{"--log-level=debug"}})
	checkContainer(t, tg)
	if err := capability[Sampler](t, tg).StartSampling(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	w := checkServesAndSamples(t, tg)
	t.Logf("memory: anonymous peak %d KiB, file peak %d KiB, over %d samples in %v",
		w.PeakBytes>>10, w.PeakFileBytes>>10, w.Samples, w.End.Sub(w.Start).Round(time.Millisecond))
	logs, err := capability[Logger](t, tg).Logs(context.Background())
	if err != nil || len(logs) == 0 {
		t.Errorf("Logs = %d bytes, %v", len(logs), err)
	}
	stopContainer(t, tg)
}

// checkContainer checks what every started container target promises.
func checkContainer(t *testing.T, tg Target) {
	t.Helper()
	info := tg.Info()
	t.Logf("target: %s; image %s (%s); binary build %v, image build %v, start to ready %v",
		info.Note, info.Image, info.ImageID, info.BinaryBuild, info.ImageBuild, info.Startup)
	if tg.Kind() != KindContainer || !strings.HasPrefix(tg.BaseURL(), "http://127.0.0.1:") {
		t.Fatalf("Kind %q, BaseURL %q", tg.Kind(), tg.BaseURL())
	}
	if !imageID.MatchString(tg.Info().ImageID) {
		t.Errorf("ImageDigest = %q", tg.Info().ImageID)
	}
	if info.Engine == nil || info.ImageBuild <= 0 || info.Startup <= 0 {
		t.Errorf("Info = %+v", info)
	}
	if code, _ := get(t, tg, "/healthz", true); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
	if rs, err := capability[Restarter](t, tg).Restarts(context.Background()); err != nil || rs.Exited || rs.RestartCount != 0 {
		t.Errorf("Restarts = %+v, %v", rs, err)
	}
}

// stopContainer stops the target, timing it, and checks the container is gone.
func stopContainer(t *testing.T, tg Target) {
	t.Helper()
	ct := tg.(*containerTarget)
	t0 := time.Now()
	if err := tg.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("stop and remove: %v", time.Since(t0))
	if rs, err := capability[Restarter](t, tg).Restarts(context.Background()); err != nil || rs.Exited {
		t.Errorf("after Stop: %+v, %v", rs, err)
	}
	if _, err := ct.ctr.Inspect(context.Background()); err == nil {
		t.Error("container still exists after Stop")
	}
	if _, err := os.Stat(ct.ws.dir); ct.ws.temporary && err == nil {
		t.Errorf("workspace %s left behind", ct.ws.dir)
	}
}

// Auto selection with the real probe picks whatever this machine offers, and says why.
func TestChooseAutoOnThisMachine(t *testing.T) {
	ctx := context.Background()
	_, probeErr := ProbeEngine(ctx)
	sel, err := choose(ctx, Options{}, ProbeEngine)
	if err != nil {
		t.Fatal(err)
	}
	want, note := KindContainer, "auto: a container engine answered"
	if probeErr != nil {
		want, note = KindProcess, "auto: no container engine"
	}
	if sel.kind != want || !strings.HasPrefix(sel.note, note) {
		t.Fatalf("choose() = %s (%s), want %s (%s…)", sel.kind, sel.note, want, note)
	}
	t.Log(sel.note)
	if _, err := choose(ctx, Options{Kind: KindContainer, RequireKind: true}, ProbeEngine); (err != nil) != (probeErr != nil) {
		t.Fatalf("required container: %v (probe: %v)", err, probeErr)
	}
}
