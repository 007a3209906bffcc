package selftest

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// fakeArgs start the fake with faults; its limits are testkit.FakeLimits, given in its environment
// (testkit.FakeEnv) as the suite gives its own targets theirs: small enough that the probes trip
// them, large enough that seeding and load do not.
func fakeArgs(f fake.Faults) []string {
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return []string{"--faults-json=" + string(b)}
}

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// secondProfile is the fake's second API shape (testdata/fake-second.yaml), loaded once.
var secondProfile = sync.OnceValues(func() (*profile.Profile, error) { return profile.Load("testdata/fake-second.yaml") })

// startFake starts the fake exporter with faults (and args) as a process through the suite's
// process target, in its environment (testkit.FakeEnv), and stops it when the test ends.
func startFake(t *testing.T, ctx context.Context, faults fake.Faults, args ...string) (target.Target, error) {
	t.Helper()
	tg, err := target.Start(ctx, target.Options{Kind: target.KindProcess, RequireKind: true,
		BinaryPath: testkit.Binary(t, testkit.FakePkg), WorkDir: t.TempDir(), Env: testkit.FakeEnv(),
		Args: append(fakeArgs(faults), args...)})
	if err == nil {
		testkit.StopAtCleanup(t, 30*time.Second, tg.Stop)
	}
	return tg, err
}
