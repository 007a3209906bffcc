package pipeline

import (
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// soakOf is a soak of d whose memory rose perExport bytes an export, the counts flat, or with no
// memory sample when perExport < 0.
func soakOf(d time.Duration, perExport float64) soaked {
	fit := func(s float64) *evidence.Fit { return &evidence.Fit{Slope: s, Points: 50} }
	qs := []evidence.SoakQuantity{}
	for _, sq := range soakQuantities {
		q := sq.q
		switch {
		case q.Name == "memory_bytes" && perExport < 0:
			q.Missing = "no memory sample was read during the soak"
		case q.Name == "memory_bytes":
			q.PerExport, q.PerHour = fit(perExport), fit(perExport*4*3600)
		default:
			q.PerExport, q.PerHour = fit(0), fit(0)
		}
		qs = append(qs, q)
	}
	return soaked{Duration: d, Rate: 4, Result: load.OpenResult{Arrivals: 400, Completed: 400},
		Series: evidence.Soak{End: d, WarmUp: d / 5, Rate: 4, Quantities: qs}}
}

// withBounds is s with its memory's per-export slope bounded by low and high.
func withBounds(s soaked, low, high float64) soaked {
	for i, q := range s.Series.Quantities {
		if q.Name == "memory_bytes" {
			f := *q.PerExport
			f.Low, f.High = low, high
			s.Series.Quantities[i].PerExport = &f
		}
	}
	return s
}

func TestJudgeSoak(t *testing.T) {
	th := testkit.Thresholds(t)
	for _, tt := range []struct {
		name       string
		s          soaked
		status     evidence.Status
		hourly     string // the name the memory's hourly slope is recorded under
		hourlyPass bool
	}{
		{"flat, short", soakOf(2*time.Minute, 100), evidence.StatusPassed, "soak.memory_bytes_per_hour_short_fit", true},
		{"16 KiB an export, short", soakOf(2*time.Minute, 16384), evidence.StatusFailed, "soak.memory_bytes_per_hour_short_fit", true},
		{"flat, long", soakOf(10*time.Minute, 100), evidence.StatusPassed, "soak.memory_bytes_per_hour", true},
		{"16 KiB an export, long", soakOf(10*time.Minute, 16384), evidence.StatusFailed, "soak.memory_bytes_per_hour", false},
		{"no memory", soakOf(2*time.Minute, -1), evidence.StatusNotRun, "", true},
		// The bounds of the per-export slope decide: a leak is RED when even its lower bound breaks
		// the rule (8 KiB), and a slope whose bounds straddle the rule is not judged.
		{"leak, bounds above the rule", withBounds(soakOf(2*time.Minute, 16384), 9000, 30000), evidence.StatusFailed,
			"soak.memory_bytes_per_hour_short_fit", true},
		{"leak or noise, bounds straddling the rule", withBounds(soakOf(2*time.Minute, 16384), 1000, 30000), evidence.StatusNotRun,
			"soak.memory_bytes_per_export_inconclusive", true},
		{"flat, bounds below the rule", withBounds(soakOf(2*time.Minute, 100), -5000, 5000), evidence.StatusPassed,
			"soak.memory_bytes_per_export", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := judgeSoak(th, tt.s)
			if c.Status != tt.status {
				t.Errorf("status %s, want %s: %q", c.Status, tt.status, c.Failures)
			}
			found := tt.hourly == ""
			for _, m := range c.Measures {
				if m.Name == tt.hourly {
					found = true
					if m.Pass != tt.hourlyPass {
						t.Errorf("%s pass %v, want %v", m.Name, m.Pass, tt.hourlyPass)
					}
				}
			}
			if !found {
				t.Errorf("no measure %s", tt.hourly)
			}
			if tt.status == evidence.StatusNotRun && !mentions(c.Failures, "no memory slope") && !mentions(c.Failures, "soak longer") {
				t.Errorf("not run without saying why: %q", c.Failures)
			}
		})
	}
}
