package selftest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/internal/contract"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// selftestSoak is the self-test's soak: within the two minutes, long enough that the fits
// after the warm-up (soak.WarmUp: 18 s) have 70 samples.
const selftestSoak = 90 * time.Second

// selftestRate is the self-test's offered rate: 1440 exports after the warm-up, 23 MiB kept by
// the leaking fake.
const selftestRate = 20

// soakSizes are small sets: the fake keeps its store on its heap, and a heap of a few MiB, not the
// SmallRun's ~60 MiB with its collections' swings of ±30 MiB, lets a short soak see 16 KiB an export.
func soakSizes() contract.Sizes {
	s := testkit.SmallRun()
	s.LoadRows, s.LargeRows, s.BulkRows, s.HeldRows = 500, 2000, 10, 10
	return s
}

// TestSoak soaks two fakes at once, a healthy one and one that keeps 16 KiB per export, each for
// selftestSoak at selftestRate over the seeded load set: the healthy one must pass the soak check,
// the leaking one must fail it on its memory slope. Both run side by side so the package takes
// one soak longer, not two, and both see the same machine.
func TestSoak(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		faults fake.Faults
		leaks  bool
	}{
		{"healthy", fake.Faults{}, false},
		{"keeps 16 KiB per export", fake.Faults{LeakPerExport: 16 << 10}, true},
	}
	checks := make([]map[string]evidence.Check, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() { checks[i] = soakFake(t, c.faults) })
	}
	wg.Wait()
	for i, c := range cases {
		soakCheck, ok := checks[i]["soak"]
		if !ok {
			t.Errorf("%s: no soak check", c.name)
			continue
		}
		if s := checks[i]["seed"].Status; s != evidence.StatusPassed {
			t.Errorf("%s: seed is %s: %q", c.name, s, checks[i]["seed"].Failures)
		}
		want := evidence.StatusPassed
		if c.leaks {
			want = evidence.StatusFailed
		}
		if soakCheck.Status != want {
			t.Errorf("%s: soak is %s, want %s: %q", c.name, soakCheck.Status, want, soakCheck.Failures)
		}
		if c.leaks && !failedOn(soakCheck, "soak.memory_bytes_per_export") {
			t.Errorf("%s: soak did not fail on soak.memory_bytes_per_export: %q", c.name, soakCheck.Failures)
		}
		for _, m := range soakCheck.Measures {
			t.Logf("%s: %s = %.4g %s (pass %v)", c.name, m.Name, m.Value, m.Unit, m.Pass)
		}
		for _, n := range soakCheck.Notes {
			t.Logf("%s: %s", c.name, n)
		}
	}
}

// soakFake seeds a fake with faults and soaks it, returning the checks by id.
func soakFake(t *testing.T, faults fake.Faults) map[string]evidence.Check {
	ctx, cancel := context.WithTimeout(context.Background(), selftestSoak+3*time.Minute)
	defer cancel()
	tg, err := startFake(t, ctx, faults)
	if err != nil {
		t.Error(err)
		return nil
	}
	run, err := pipeline.New(pipeline.Config{Target: tg, Thresholds: testkit.Thresholds(t), Suffix: "soak", Seed: 42,
		Sizes: soakSizes(), Limits: testkit.FakeLimits(), Soak: pipeline.SoakConfig{Duration: selftestSoak, Rate: selftestRate}})
	if err != nil {
		t.Error(err)
		return nil
	}
	checks := map[string]evidence.Check{}
	for _, c := range run.Some(ctx, "seed", "soak") {
		checks[c.ID] = c
	}
	return checks
}

// failedOn reports whether c failed measure name.
func failedOn(c evidence.Check, name string) bool {
	for _, m := range c.Measures {
		if m.Name == name && !m.Pass {
			return true
		}
	}
	return false
}
