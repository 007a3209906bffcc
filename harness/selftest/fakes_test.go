package selftest

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
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

// abLimits are the v1 profile's limits, which the suite starts its targets with, but with a 3 s
// write timeout.
func abLimits() *profile.Limits {
	return testkit.V1Limits(func(l *profile.Limits) { l.CutAfter = 3 * time.Second })
}

// behindProxy starts the real exporter as a process with the suite's limits and puts package
// fake's slowing proxy in front of it, holding back each export's last bytes for holdBack of its
// own time (fake.Faults.HoldBack; 0: none); the url target it returns is the proxy.
func behindProxy(t *testing.T, ctx context.Context, holdBack float64) target.Target {
	t.Helper()
	exp, err := target.Start(ctx, target.Options{Kind: target.KindProcess, RequireKind: true,
		BinaryPath: testkit.Binary(t, testkit.ExporterPkg), WorkDir: t.TempDir(), Env: testkit.V1Env(abLimits())})
	if err != nil {
		t.Fatal(err)
	}
	testkit.StopAtCleanup(t, 30*time.Second, exp.Stop)
	up, err := url.Parse(exp.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(fake.Proxy(up, fake.Faults{HoldBack: holdBack}))
	t.Cleanup(proxy.Close)
	front, err := target.Start(ctx, target.Options{Kind: target.KindURL, RequireKind: true, URL: proxy.URL, Token: exp.Token()})
	if err != nil {
		t.Fatal(err)
	}
	return front
}
