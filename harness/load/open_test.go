package load_test

import (
	"context"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/seed"
)

func TestScheduleOffsets(t *testing.T) {
	c := load.Constant(20, 2*time.Second)
	offs := c.Offsets(1000)
	if len(offs) != 40 || c.Span() != 2*time.Second {
		t.Fatalf("constant: %d offsets over %v", len(offs), c.Span())
	}
	for i, o := range offs {
		if want := time.Duration(i) * 50 * time.Millisecond; (o - want).Abs() > time.Microsecond {
			t.Errorf("constant: offset %d is %v, want %v", i, o, want)
		}
	}
	if got := len(c.Offsets(7)); got != 7 {
		t.Errorf("bounded by max: %d offsets", got)
	}
	if got := len(c.Offsets(0)); got != 0 {
		t.Errorf("max 0: %d offsets", got)
	}

	s := load.Steps([]float64{10, 0, 20}, time.Second)
	offs = s.Offsets(1000)
	if len(offs) != 30 || s.Span() != 3*time.Second {
		t.Fatalf("steps: %d offsets over %v", len(offs), s.Span())
	}
	for _, o := range offs {
		if o >= time.Second && o < 2*time.Second {
			t.Errorf("steps: an arrival at %v, in the step of rate 0", o)
		}
	}
	if offs[10] != 2*time.Second || offs[29] != 2*time.Second+950*time.Millisecond {
		t.Errorf("steps: third step starts at %v, ends at %v", offs[10], offs[29])
	}

	r := load.Ramp(0, 40, 2*time.Second) // 40 exports in all
	offs = r.Offsets(1000)
	if len(offs) != 40 {
		t.Fatalf("ramp: %d offsets", len(offs))
	}
	for i := 1; i < len(offs); i++ {
		if offs[i] <= offs[i-1] || offs[i] >= 2*time.Second {
			t.Fatalf("ramp: offsets not increasing within the span: %v", offs)
		}
		if i > 1 && offs[i]-offs[i-1] > offs[i-1]-offs[i-2] {
			t.Fatalf("ramp up: gaps grow at %d: %v", i, offs)
		}
	}
	down := load.Ramp(40, 0, 2*time.Second).Offsets(1000)
	if len(down) != 40 || down[1]-down[0] >= down[39]-down[38] {
		t.Errorf("ramp down: %d offsets, first gap %v, last %v", len(down), down[1]-down[0], down[39]-down[38])
	}
}

// openJobs is a mix of CSV and PDF exports of a small dataset on a fake with faults.
func openJobs(t *testing.T, faults fake.Faults) (*export.Client, []load.Job) {
	t.Helper()
	recs := seed.Generate(5, 200, 1)
	c := start(t, fake.Config{Faults: faults}, "trades", seed.Trades(), recs)
	full := expect(t, "trades", seed.Trades(), recs, export.Options{})
	return c, load.Plan(8, 0.25, []*export.Expected{full}, []*export.Expected{full})
}

func TestOpenHealthy(t *testing.T) {
	c, jobs := openJobs(t, fake.Faults{})
	res, replay, err := load.Open(context.Background(), load.OpenConfig{
		Client: c, Jobs: jobs, Schedule: load.Constant(20, 2*time.Second),
		MaxInFlight: 8, Timeout: 10 * time.Second, Bound: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("offered %.1f/s achieved %.1f/s late %d dropped %d; latency p95 %.4fs service p95 %.4fs; timer slack p99 %.4fs",
		res.OfferedRate, res.AchievedRate, res.Late, res.Dropped, res.CSV.Latency.P95, res.CSV.Service.P95, res.TimerSlack.P99)
	if res.Arrivals != 40 || res.Sent != 40 || res.Completed != 40 || res.Failed != 0 || res.Dropped != 0 || res.Unsent != 0 {
		t.Fatalf("result %+v", res)
	}
	if res.OfferedRate != 20 || res.AchievedRate != res.OfferedRate {
		t.Errorf("offered %v/s, achieved %v/s", res.OfferedRate, res.AchievedRate)
	}
	// A healthy fake with free slots makes no export late: one is late only when the machine woke
	// the scheduler late (TimerSlack), which a busy machine does now and then. So lateness beyond
	// a tenth of the arrivals fails only when the scheduler itself was on time.
	if res.Late > res.Arrivals/10 && res.TimerSlack.P90 < 0.010 {
		t.Errorf("%d of %d exports late against a healthy fake, with the scheduler on time (slack p90 %.4fs)",
			res.Late, res.Arrivals, res.TimerSlack.P90)
	}
	if res.CSV.Latency.Count != 30 || res.PDF.Latency.Count != 10 || res.CSV.Service.Count != 30 ||
		res.CSV.Latency.P50 <= 0 || res.CSV.Latency.Max < res.CSV.Latency.P99 || res.TimerSlack.Count != 40 {
		t.Errorf("distributions csv %+v pdf %+v slack %+v", res.CSV, res.PDF, res.TimerSlack)
	}
	if res.Tally.Completed[export.CSV] != 30 || len(replay) == 0 {
		t.Errorf("tally %+v, replay of %d answers", res.Tally, len(replay))
	}
}

// TestOpenCoordinatedOmission offers 20 exports/s to a fake that holds each 300 ms, through two
// slots: about 6.7/s can be served. The open model reports the wait for a slot in the latency;
// a closed run of the same exports sees only the 300 ms.
func TestOpenCoordinatedOmission(t *testing.T) {
	c, jobs := openJobs(t, fake.Faults{FirstByteDelay: 300 * time.Millisecond})
	res, _, err := load.Open(context.Background(), load.OpenConfig{
		Client: c, Jobs: jobs, Schedule: load.Constant(20, 2*time.Second),
		MaxInFlight: 2, Timeout: 10 * time.Second, Bound: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	lat, svc := max(res.CSV.Latency.P95, res.PDF.Latency.P95), max(res.CSV.Service.P95, res.PDF.Service.P95)
	t.Logf("offered %.1f/s achieved %.1f/s sent %d late %d dropped %d failed %d; latency p95 %.3fs vs service p95 %.3fs",
		res.OfferedRate, res.AchievedRate, res.Sent, res.Late, res.Dropped, res.Failed, lat, svc)
	if res.Arrivals != 40 || res.Failed != 0 || res.Unsent != 0 || res.Sent+res.Dropped != 40 {
		t.Fatalf("result %+v", res)
	}
	if res.Dropped == 0 || res.Late < res.Sent/2 {
		t.Errorf("an overloaded exporter: %d late of %d sent, %d dropped", res.Late, res.Sent, res.Dropped)
	}
	if svc < 0.2 || lat < 2*svc {
		t.Errorf("latency from the intended time p95 %.3fs, service p95 %.3fs: the queueing is hidden", lat, svc)
	}
	if res.AchievedRate > 0.75*res.OfferedRate { // the completions after the span count too (about 22)
		t.Errorf("achieved %.1f/s of %.1f/s offered, beyond the fake's capacity", res.AchievedRate, res.OfferedRate)
	}

	closed, _, err := load.Run(context.Background(), load.Config{Client: c, Jobs: jobs, Concurrency: 2, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("closed model, same exports: latency p95 %.3fs", closed.CSV.Latency.P95)
	if closed.Failed != 0 || closed.CSV.Latency.P95 > lat/2 {
		t.Errorf("closed model: %d failed, latency p95 %.3fs", closed.Failed, closed.CSV.Latency.P95)
	}
}

func TestOpenConfig(t *testing.T) {
	c, jobs := openJobs(t, fake.Faults{})
	for name, cfg := range map[string]load.OpenConfig{
		"no client":   {Jobs: jobs, Schedule: load.Constant(1, time.Second)},
		"no jobs":     {Client: c, Schedule: load.Constant(1, time.Second)},
		"no schedule": {Client: c, Jobs: jobs},
		"no arrivals": {Client: c, Jobs: jobs, Schedule: load.Constant(0, time.Second)},
	} {
		if _, _, err := load.Open(context.Background(), cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestOpenBound ends a 30 s schedule after its 1 s bound: the arrivals not sent by then are
// counted unsent, and the exports cut off in flight fail.
func TestOpenBound(t *testing.T) {
	c, jobs := openJobs(t, fake.Faults{FirstByteDelay: 200 * time.Millisecond})
	began := time.Now()
	res, _, err := load.Open(context.Background(), load.OpenConfig{
		Client: c, Jobs: jobs, Schedule: load.Constant(10, 30*time.Second),
		MaxInFlight: 4, Timeout: 10 * time.Second, Bound: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("in %v: sent %d completed %d unsent %d failed %d", time.Since(began), res.Sent, res.Completed, res.Unsent, res.Failed)
	if took := time.Since(began); took > 15*time.Second {
		t.Errorf("a run bounded to 1 s took %v", took)
	}
	if res.Arrivals != 300 || res.Unsent < 250 || res.Sent+res.Dropped+res.Unsent != 300 || res.Completed+res.Failed != res.Sent {
		t.Errorf("result %+v", res)
	}
}
