package selftest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/internal/contract"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// TestRegressionAB is the short A/B self-test: the exporter behind a proxy that holds every
// export back by half its own time is RED on the regression check against the same exporter
// behind a proxy that does not; the healthy pair is GREEN. The 30 % case is the series'
// (scenarios/ab-series.sh, 60 pairs over 50k rows): with this test's 36 pairs over 20k rows and the
// proxy in the test's own process, a 30 % hold measured 1.23× on CSV once, too near the 20 %
// minimum for a test that must not flake on a busy machine. Both sides of every case run behind a
// proxy, so the only difference between them is the fault. 36 pairs over 20k rows (27 CSV, 9 PDF
// of the run's mix): about 40 s a case on this 2-core machine shared with other work.
func TestRegressionAB(t *testing.T) {
	// A small run, but the load set the suite's: the pairs are exported from it.
	sizes := testkit.SmallRun()
	sizes.LoadRows = contract.DefaultSizes().LoadRows
	for _, c := range []struct {
		name     string
		holdBack float64
		want     evidence.Status
	}{
		{"candidate held back by half its time", 0.5, evidence.StatusFailed},
		{"healthy pair", 0, evidence.StatusPassed},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cand := behindProxy(t, ctx, c.holdBack)
			base := behindProxy(t, ctx, 0)
			run, err := pipeline.New(pipeline.Config{Target: cand, Compare: base, ComparePairs: 36, CompareRows: 20000, Thresholds: testkit.Thresholds(t),
				Suffix: "ab", Seed: 42, Sizes: sizes, Limits: abLimits()})
			if err != nil {
				t.Fatal(err)
			}
			checks := run.Some(ctx, "regression")
			got := checks[0]
			t.Logf("%s: %s\n  %s\n  %s", got.ID, got.Status, strings.Join(got.Failures, "\n  "), strings.Join(got.Notes, "\n  "))
			if got.Status != c.want {
				t.Fatalf("regression is %s, want %s", got.Status, c.want)
			}
			ab := run.AB()
			if ab == nil || len(ab.Measures) == 0 || len(ab.Measures[0].Candidate) < 8 {
				t.Fatalf("the run kept no A/B comparison to chart: %+v", ab)
			}
			if f := strings.Join(got.Failures, "\n"); c.want == evidence.StatusFailed && (!strings.Contains(f, "export latency") || !strings.Contains(f, "% CI")) {
				t.Errorf("the failure does not name the measure that regressed and its effect: %q", got.Failures)
			}
		})
	}
}
