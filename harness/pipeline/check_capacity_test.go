package pipeline

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// rampStep is a step of a synthetic ramp: every arrival sent, p95s as given, saturated of them 503.
func rampStep(th Thresholds, offered, csvP95, pdfP95 float64, saturated int) load.RampStep {
	res := load.OpenResult{Arrivals: 60, Sent: 60, Completed: 60 - saturated, Failed: saturated, Saturated: saturated,
		Rows: 600000, Bytes: 60 << 20, Errors: map[string]int{}}
	res.CSV.Latency = load.Quantiles{Count: 45, P95: csvP95}
	res.CSV.FirstByteFromIntended = load.Quantiles{Count: 45, P95: csvP95 / 4}
	res.PDF.Latency = load.Quantiles{Count: 15, P95: pdfP95}
	return load.RampStep{Span: 6 * time.Second, Offered: offered, Achieved: offered * float64(60-saturated) / 60,
		Result: res, Broke: sloJudge(th, true)(res)}
}

func TestCapacityJudge(t *testing.T) {
	th := testkit.Thresholds(t)
	held, breaks := rampStep(th, 10, 0.05, 0.5, 0), rampStep(th, 15, 0.08, 0.7, 3)
	if !held.Held() || breaks.Held() || !strings.Contains(strings.Join(breaks.Broke, ""), "503_share 5 % breaks <= 1 %") {
		t.Fatalf("SLO judged: held %v, broke %v", held.Broke, breaks.Broke)
	}
	slow := rampStep(th, 5, 1.6, 0.5, 0)
	withMin := maps.Clone(th)
	withMin["capacity.knee_exports_per_second"] = evidence.Rule{Op: ">=", Value: 20, Unit: "exports/s"}
	noRule := maps.Clone(th)
	delete(noRule, sloFailureShare)
	for _, tt := range []struct {
		name   string
		th     Thresholds
		run    capacityRun
		status evidence.Status
		text   string // in the failures or notes
	}{
		{"knee", th, capacityRun{PDF: true, Ceiling: load.OpenCeilingResult{ExportsPerSecond: 400, Offered: 2000},
			Ramp: load.RampResult{Steps: []load.RampStep{held, breaks}, Knee: 0, Stopped: load.StoppedSLO}},
			evidence.StatusPassed, "knee: 10 exports/s sustained within the SLO"},
		{"on a cluster", th, capacityRun{PDF: true, Deployment: "2 exporter replicas behind HAProxy 2.6, over PostgreSQL 15",
			Ramp: load.RampResult{Steps: []load.RampStep{held, breaks}, Knee: 0, Stopped: load.StoppedSLO}},
			evidence.StatusPassed, "capacity of the deployment: 2 exporter replicas behind HAProxy"},
		{"at the instrument's ceiling", th, capacityRun{PDF: true, Ceiling: load.OpenCeilingResult{ExportsPerSecond: 12.5, Offered: 2000},
			Ramp: load.RampResult{Steps: []load.RampStep{held}, Knee: 0, Stopped: load.StoppedCeiling}},
			evidence.StatusPassed, "bound by the instrument, not the exporter"},
		{"no step held", th, capacityRun{PDF: true, Ramp: load.RampResult{Steps: []load.RampStep{slow, rampStep(th, 2.5, 1.5, 0.5, 0)}, Knee: -1, Stopped: load.StoppedSLO}},
			evidence.StatusFailed, "no step held the SLO: the lowest, offering 2.5 exports/s"},
		{"under the minimum capacity", withMin, capacityRun{PDF: true, Ramp: load.RampResult{Steps: []load.RampStep{held, breaks}, Knee: 0, Stopped: load.StoppedSLO}},
			evidence.StatusFailed, "capacity.knee_exports_per_second"},
		{"an SLO rule missing", noRule, capacityRun{PDF: true, Ramp: load.RampResult{Steps: []load.RampStep{held}, Knee: 0, Stopped: load.StoppedSLO}},
			evidence.StatusFailed, "no threshold for capacity.slo_failure_share"},
		{"no step ran", th, capacityRun{PDF: true, Ramp: load.RampResult{Knee: -1, Stopped: load.StoppedBudget}},
			evidence.StatusNotRun, "the ramp ran no step"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := judgeCapacity(tt.th, tt.run)
			if said := append(c.Failures, c.Notes...); c.Status != tt.status || !mentions(said, tt.text) {
				t.Errorf("status %s, want %s with %q in %q", c.Status, tt.status, tt.text, said)
			}
		})
	}
}
