package load_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/harness/load"
)

// sloP95 is the self-tests' SLO: every format's p95 latency from the intended send time within
// 0.5 s, and no more than 1% of the arrivals failed or not sent.
func sloP95(limit float64) func(load.OpenResult) []string {
	return func(r load.OpenResult) []string {
		var broke []string
		for _, f := range []struct {
			name string
			q    load.Quantiles
		}{{"csv", r.CSV.Latency}, {"pdf", r.PDF.Latency}} {
			if f.q.Count > 0 && f.q.P95 > limit {
				broke = append(broke, fmt.Sprintf("%s p95 %.3fs > %.3fs", f.name, f.q.P95, limit))
			}
		}
		if bad := r.Failed + r.Dropped + r.Unsent; float64(bad) > 0.01*float64(r.Arrivals) {
			broke = append(broke, fmt.Sprintf("%d of %d arrivals failed or not sent", bad, r.Arrivals))
		}
		return broke
	}
}

func logSteps(t *testing.T, res load.RampResult) {
	t.Helper()
	for i, s := range res.Steps {
		t.Logf("step %d at %5.1fs: offered %6.2f/s achieved %6.2f/s csv p95 %.3fs pdf p95 %.3fs late %d dropped %d %v",
			i+1, s.Start.Seconds(), s.Offered, s.Achieved, s.Result.CSV.Latency.P95, s.Result.PDF.Latency.P95, s.Result.Late, s.Result.Dropped, s.Broke)
	}
	k, _ := res.KneeStep()
	t.Logf("knee %.2f/s (step %d), stopped: %s, wall %s", k.Achieved, res.Knee+1, res.Stopped, res.Wall.Round(time.Millisecond))
}

// TestRampKnownCapacity ramps against a fake that serves 2 exports at a time, each held 100 ms
// before its first byte, the others waiting in line: its capacity is 20 exports/s, whatever the
// machine's speed (the hold is a timer, not work). The knee must come within 20% of it. Beyond
// 20/s the line grows through each step and the p95 from the intended send time passes 0.5 s.
// A busy machine can break a step early now and then; the ramp is repeated (up to three times)
// until one comes within the margin, and every attempt is logged.
func TestRampKnownCapacity(t *testing.T) {
	t.Parallel()
	const want = 20.0 // Slots / FirstByteDelay
	c, jobs := openJobs(t, fake.Faults{Slots: 2, FirstByteDelay: 100 * time.Millisecond})
	var knees []float64
	for attempt := 1; attempt <= 3; attempt++ {
		res, err := load.FindKnee(context.Background(), load.RampConfig{
			Open:  load.OpenConfig{Client: c, Jobs: jobs, MaxInFlight: 64, Timeout: 10 * time.Second},
			Start: 5, Factor: 1.5, Step: 4 * time.Second, Refine: 3, Budget: 90 * time.Second,
			Judge: sloP95(0.5),
		})
		if err != nil {
			t.Fatal(err)
		}
		logSteps(t, res)
		k, ok := res.KneeStep()
		if !ok || res.Stopped != load.StoppedSLO || res.LowerBound() { // a busy machine may break the lowest step
			t.Logf("attempt %d: knee found %v, stopped by %s, knee a lower bound %v: want the SLO to break above the knee",
				attempt, ok, res.Stopped, res.LowerBound())
			continue
		}
		knees = append(knees, k.Achieved)
		if math.Abs(k.Achieved-want) <= 0.2*want {
			return
		}
	}
	t.Errorf("knees %.2f exports/s (of the attempts that found one), none within 20%% of the true capacity %.0f/s", knees, want)
}

// TestRampStopsAtCeiling ramps against a fast healthy fake with an instrument ceiling given as 10
// exports/s: no step offers more than 80% of it, and the ramp ends there, its knee a lower bound.
func TestRampStopsAtCeiling(t *testing.T) {
	t.Parallel()
	c, jobs := openJobs(t, fake.Faults{})
	var told int
	res, err := load.FindKnee(context.Background(), load.RampConfig{
		Open:  load.OpenConfig{Client: c, Jobs: jobs, Timeout: 10 * time.Second},
		Start: 4, Factor: 1.5, Step: 2 * time.Second, Budget: 30 * time.Second, Ceiling: 10,
		Judge: sloP95(2), Stepped: func(load.RampStep) { told++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	logSteps(t, res)
	if res.Stopped != load.StoppedCeiling || !res.LowerBound() || told != len(res.Steps) {
		t.Fatalf("stopped by %s, lower bound %v, told of %d of %d steps", res.Stopped, res.LowerBound(), told, len(res.Steps))
	}
	last := res.Steps[len(res.Steps)-1]
	if !last.AtCeiling || last.Offered > 8.01 || res.Knee != len(res.Steps)-1 {
		t.Errorf("last step offered %.2f/s at ceiling %v, knee step %d", last.Offered, last.AtCeiling, res.Knee+1)
	}
	if _, err := load.FindKnee(context.Background(), load.RampConfig{Open: load.OpenConfig{Client: c, Jobs: jobs}, Start: 0, Judge: sloP95(1)}); err == nil {
		t.Error("a ramp from 0 exports/s: no error")
	}
}

// TestOpenCeiling measures the open driver's own ceiling against an in-process replay of a
// fake's answers: every replayed answer arrives whole, and the driver completes some per second.
func TestOpenCeiling(t *testing.T) {
	t.Parallel()
	c, jobs := openJobs(t, fake.Faults{})
	cfg := load.OpenConfig{Client: c, Jobs: jobs, Schedule: load.Constant(10, time.Second), Timeout: 10 * time.Second}
	_, replay, err := load.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ceil, err := load.OpenCeiling(context.Background(), cfg, replay)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("open ceiling: %.0f exports/s (%.1f MiB/s), %d completed, %d dropped, %d late over %s; timer slack p99 %.4fs",
		ceil.ExportsPerSecond, ceil.MiBPerSecond, ceil.Completed, ceil.Dropped, ceil.Late, ceil.Elapsed, ceil.TimerSlack.P99)
	if ceil.Failed != 0 || ceil.Completed == 0 || !(ceil.ExportsPerSecond > 0) || ceil.Offered != load.OpenCeilingRate {
		t.Errorf("ceiling %+v", ceil)
	}
	if _, err := load.OpenCeiling(context.Background(), cfg, nil); err == nil {
		t.Error("no replay: no error")
	}
}
