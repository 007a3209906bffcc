package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/human"
	"github.com/exportatscale/exportatscale/harness/load"
)

// capacityRun is what the capacity check measured: the open driver's own ceiling, the ramp, and
// what it was judged against.
type capacityRun struct {
	Ceiling    load.OpenCeilingResult `json:"ceiling"`
	CeilingErr string                 `json:"ceiling_error,omitempty"`
	Closed     float64                `json:"closed_exports_per_second"` // the load test's, the ramp's scale
	Ramp       load.RampResult        `json:"ramp"`
	PDF        bool                   `json:"pdf"` // the API exports PDF
	Deployment string                 `json:"deployment,omitempty"`
	// RateLimit bounds the ramp's rates: a share of the deployment's rate limit per client.
	RateLimit float64 `json:"rate_limit_per_second,omitempty"`

	start time.Time // when the ramp began
}

// The SLO a step of the capacity ramp must hold, as rules of the thresholds (data): p95 latency
// from the intended send time per format, p95 first byte of CSV from the intended send time, the
// share of arrivals that failed (refusals with 503 apart, content headers apart as A3 does) or
// could not be sent, and the share answered 503.
const (
	sloCSVP95       = "capacity.slo_csv_p95_seconds"
	sloPDFP95       = "capacity.slo_pdf_p95_seconds"
	sloFirstByteP95 = "capacity.slo_first_byte_p95_seconds"
	sloFailureShare = "capacity.slo_failure_share"
	slo503Share     = "capacity.slo_503_share"
)

var sloUnits = []struct{ name, unit string }{
	{sloCSVP95, "s"}, {sloPDFP95, "s"}, {sloFirstByteP95, "s"}, {sloFailureShare, "ratio"}, {slo503Share, "ratio"},
}

// sloValues are a step's values of the SLO's measures.
func sloValues(r load.OpenResult) map[string]float64 {
	arrivals := float64(max(r.Arrivals, 1))
	failed := r.Failed - r.Saturated - r.Errors["content_headers"] + r.Dropped + r.Unsent
	return map[string]float64{
		sloCSVP95: r.CSV.Latency.P95, sloPDFP95: r.PDF.Latency.P95, sloFirstByteP95: r.CSV.FirstByteFromIntended.P95,
		sloFailureShare: float64(failed) / arrivals, slo503Share: float64(r.Saturated) / arrivals,
	}
}

// sloJudge says how a step's result breaks the SLO of th, a PDF rule only for an API with PDF.
func sloJudge(th Thresholds, pdf bool) func(load.OpenResult) []string {
	return func(r load.OpenResult) []string {
		var broke []string
		v := sloValues(r)
		for _, s := range sloUnits {
			if s.name == sloPDFP95 && !pdf {
				continue
			}
			if ru := th[s.name]; !ru.Holds(v[s.name]) {
				broke = append(broke, fmt.Sprintf("%s %s breaks %s %s", strings.TrimPrefix(s.name, "capacity.slo_"),
					human.Value(v[s.name], s.unit), ru.Op, human.Value(ru.Value, s.unit)))
			}
		}
		return broke
	}
}

// rateLimitShare is the share of the deployment's rate limit per client the ramp may offer.
const rateLimitShare = 0.9

// capacitySlots bounds the exports the open driver keeps in flight, in the ceiling and the ramp
// alike: far more than a deployment serves at once (v1: 12 a replica), so that the exporter's own
// refusals, not the driver, end a step; a step that still finds them all busy ends the ramp as the
// instrument's bound (load.StoppedSlots).
const capacitySlots = 128

// capacityDefaults are the ramp's bounds unless the run's Config says otherwise.
const (
	capacityBudget = 2 * time.Minute
	capacityStep   = 6 * time.Second
)

// measureCapacity measures the open driver's own ceiling against an in-process replay of the load
// test's answers, then ramps the load test's mix open-model in steps from a third of the load
// test's closed-model throughput, until the SLO breaks, the ceiling or the budget is reached.
func measureCapacity(ctx context.Context, r *Run) (capacityRun, error) {
	if r.load == nil || len(r.loadJobs) == 0 || r.load.Wall <= 0 {
		return capacityRun{}, missing("the load test's result and mix")
	}
	for _, s := range sloUnits {
		if _, ok := r.cfg.Thresholds[s.name]; !ok {
			return capacityRun{}, fmt.Errorf("no threshold for %s: the capacity SLO is data (evidence/thresholds.json)", s.name)
		}
	}
	budget, step := r.cfg.CapacityBudget, r.cfg.CapacityStep
	if budget <= 0 {
		budget = capacityBudget
	}
	if step <= 0 {
		step = capacityStep
	}
	deadline := time.Now().Add(budget)
	c := capacityRun{Closed: float64(r.load.Requests) / r.load.Wall.Seconds(), PDF: r.caps.API().PDF}
	if r.cfg.Limits.Rate > 0 { // one client past the rate limit measures the limit: stay under it
		replicas := 1
		if t := r.Topology(); t != nil {
			replicas = max(1, len(t.Replicas))
		}
		c.RateLimit = rateLimitShare * r.cfg.Limits.Rate * float64(replicas)
	}
	if t := r.Topology(); t != nil {
		c.Deployment = fmt.Sprintf("%d exporter replicas behind %s, over %s", len(t.Replicas), t.Proxy, t.Database)
	}
	oc := load.OpenConfig{Client: r.exports, Jobs: r.loadJobs, MaxInFlight: capacitySlots, Timeout: 30 * time.Second}
	r.say("capacity: the open driver's own ceiling, the load test's mix against an in-process replay of its answers")
	if ceil, err := load.OpenCeiling(ctx, oc, r.replay); err != nil {
		c.CeilingErr = err.Error()
	} else {
		c.Ceiling = ceil
	}
	start := c.Closed / 3
	r.say(fmt.Sprintf("capacity: instrument's ceiling %s; ramping the load test's mix open-model from %s in steps of %s, within %s",
		human.Rate(c.Ceiling.ExportsPerSecond, "exports/s"), human.Rate(start, "exports/s"), step, time.Until(deadline).Round(time.Second)))
	c.start = time.Now()
	n := 0
	ramp, err := load.FindKnee(ctx, load.RampConfig{Open: oc, Start: start, Factor: 1.5, Step: step, Budget: time.Until(deadline), MaxRate: c.RateLimit,
		Ceiling: c.Ceiling.ExportsPerSecond, Judge: sloJudge(r.cfg.Thresholds, c.PDF),
		Stepped: func(s load.RampStep) { n++; r.say("capacity step " + fmt.Sprint(n) + ": " + stepLine(s)) }})
	if err != nil {
		return c, err
	}
	c.Ramp = ramp
	for _, s := range ramp.Steps {
		r.tally.Merge(s.Result.Tally)
	}
	if k, ok := ramp.KneeStep(); ok {
		r.say(fmt.Sprintf("capacity: knee %s (%s, %s), the instrument's ceiling %s; the ramp ended: %s",
			human.Rate(k.Achieved, "exports/s"), human.Rate(float64(k.Result.Rows)/k.Span.Seconds(), "rows/s"),
			human.Value(float64(k.Result.Bytes)/(1<<20)/k.Span.Seconds(), "MiB/s"), human.Rate(c.Ceiling.ExportsPerSecond, "exports/s"), ramp.Stopped))
	}
	r.capacity = &c
	r.artifacts["capacity.json"] = jsonArtifact(c)
	return c, nil
}

// timerSlackNoted is how late the open driver's scheduler may wake (p99, seconds) before a step
// says that the instrument itself was busy.
const timerSlackNoted = 0.05

// stepLine is a step as the terminal and the check's notes show it.
func stepLine(s load.RampStep) string {
	line := fmt.Sprintf("offered %s, achieved %s, p95 CSV %s", human.Rate(s.Offered, "exports/s"), human.Rate(s.Achieved, "exports/s"),
		human.Seconds(s.Result.CSV.Latency.P95))
	if s.Result.PDF.Latency.Count > 0 {
		line += ", PDF " + human.Seconds(s.Result.PDF.Latency.P95)
	}
	if slack := s.Result.TimerSlack.P99; slack > timerSlackNoted {
		line += fmt.Sprintf(" (the driver's own timer woke up to %s late, p99: the instrument was busy too)", human.Seconds(slack))
	}
	if s.Held() {
		return line + ": within the SLO"
	}
	return line + ": breaks the SLO (" + strings.Join(s.Broke, "; ") + ")"
}

// judgeCapacity records the SLO's measures at the knee (at the lowest step when none held, which
// fails the check), the knee with its rows/s and MiB/s for the run's mix, judged against a minimum
// capacity when the thresholds hold one (capacity.knee_exports_per_second), the instrument's
// ceiling beside it, and every step as a note.
func judgeCapacity(th Thresholds, c capacityRun) evidence.Check {
	b := &builder{th: th}
	steps := c.Ramp.Steps
	if len(steps) == 0 {
		b.notRun = "the ramp ran no step within its time budget"
		return b.check()
	}
	k, held := c.Ramp.KneeStep()
	at := k
	if !held { // the lowest step
		at = steps[0]
		for _, s := range steps {
			if s.Offered < at.Offered {
				at = s
			}
		}
		b.fail("no step held the SLO: the lowest, offering %s, broke it: %s", human.Rate(at.Offered, "exports/s"), strings.Join(at.Broke, "; "))
	}
	v := sloValues(at.Result)
	for _, s := range sloUnits {
		if s.name == sloPDFP95 && !c.PDF {
			b.notApplicable(s.name, "the API has no PDF export")
			continue
		}
		b.measure(s.name, v[s.name], s.unit)
	}
	const mib = 1 << 20
	secs := k.Span.Seconds()
	b.info("capacity.knee_exports_per_second", k.Achieved, "exports/s") // 0 when none held
	if _, ok := th["capacity.knee_exports_per_second"]; !ok {
		b.note("no minimum capacity is required (no rule capacity.knee_exports_per_second in the thresholds): the knee is reported, not judged against one")
	}
	b.info("capacity.knee_offered_per_second", k.Offered, "exports/s")
	if held && secs > 0 {
		b.info("capacity.knee_rows_per_second", float64(k.Result.Rows)/secs, "rows/s")
		b.info("capacity.knee_mib_per_second", float64(k.Result.Bytes)/mib/secs, "MiB/s")
	}
	b.info("capacity.closed_exports_per_second", c.Closed, "exports/s")
	b.info("capacity.steps", float64(len(steps)), "steps")
	b.info("capacity.wall_seconds", c.Ramp.Wall.Seconds(), "s")
	capacityNotes(b, c, k, held)
	return b.check()
}

// capacityNotes records the instrument's ceiling beside the knee, why the ramp ended, the
// deployment measured, and every step.
func capacityNotes(b *builder, c capacityRun, k load.RampStep, held bool) {
	if c.CeilingErr != "" {
		b.note("the instrument's ceiling could not be measured: " + c.CeilingErr)
	} else {
		b.info("capacity.ceiling_exports_per_second", c.Ceiling.ExportsPerSecond, "exports/s")
		if held && c.Ceiling.ExportsPerSecond > 0 {
			b.info("capacity.knee_fraction_of_ceiling", k.Achieved/c.Ceiling.ExportsPerSecond, "ratio")
		}
		if c.Ceiling.ExportsPerSecond >= 0.95*c.Ceiling.Offered {
			b.note(fmt.Sprintf("the instrument kept up with all it was offered for its ceiling (%s): its ceiling is at least that",
				human.Rate(c.Ceiling.Offered, "exports/s")))
		}
	}
	switch {
	case held && c.Ramp.Stopped == load.StoppedCeiling:
		b.note(fmt.Sprintf("bound by the instrument, not the exporter: the ramp reached %.0f%% of the open driver's own ceiling (%s against an in-process replay) "+
			"within the SLO, so the capacity is at least %s", 100*load.BoundFraction, human.Rate(c.Ceiling.ExportsPerSecond, "exports/s"), human.Rate(k.Achieved, "exports/s")))
	case held && c.Ramp.Stopped == load.StoppedMaxRate:
		b.note(fmt.Sprintf("bound by the rate limit, not the capacity: the ramp reached %s, %.0f%% of the deployment's rate limit per client, "+
			"within the SLO, so the capacity is at least %s", human.Rate(c.RateLimit, "exports/s"), 100*rateLimitShare, human.Rate(k.Achieved, "exports/s")))
	case c.Ramp.Stopped == load.StoppedSlots:
		b.note(fmt.Sprintf("bound by the instrument: the last step dropped arrivals because all %d of the open driver's slots were busy, "+
			"so the ramp stopped there; the capacity is at least %s", capacitySlots, human.Rate(k.Achieved, "exports/s")))
	case held && c.Ramp.LowerBound():
		b.note(fmt.Sprintf("the ramp ended (%s) before any step broke the SLO: the capacity is at least %s", c.Ramp.Stopped, human.Rate(k.Achieved, "exports/s")))
	case held:
		b.note(fmt.Sprintf("knee: %s sustained within the SLO (offered %s); the SLO broke above it", human.Rate(k.Achieved, "exports/s"), human.Rate(k.Offered, "exports/s")))
	}
	if c.Deployment != "" {
		b.note("capacity of the deployment: " + c.Deployment)
	}
	for i, s := range c.Ramp.Steps {
		b.note(fmt.Sprintf("step %d (%s): %s", i+1, s.Span, stepLine(s)))
	}
}

// capacitySeries is the ramp for the knee chart, its offsets from the run's series start.
func (r *Run) capacitySeries() *evidence.Capacity {
	c := r.capacity
	if c == nil {
		return nil
	}
	base := c.start.Sub(r.seriesStart)
	out := &evidence.Capacity{Knee: c.Ramp.Knee, LowerBound: c.Ramp.LowerBound(), Stopped: c.Ramp.Stopped,
		CeilingExportsPerSecond: c.Ceiling.ExportsPerSecond, Deployment: c.Deployment}
	if k, ok := c.Ramp.KneeStep(); ok {
		out.KneeExportsPerSecond = k.Achieved
	}
	for _, s := range c.Ramp.Steps {
		out.Steps = append(out.Steps, evidence.CapacityStep{Start: base + s.Start, End: base + s.Start + s.Span,
			Drained: base + s.Start + s.Elapsed, Offered: s.Offered, Achieved: s.Achieved,
			CSVP95: s.Result.CSV.Latency.P95, PDFP95: s.Result.PDF.Latency.P95, Held: s.Held()})
	}
	return out
}

var capacityCheck = define(Def{ID: "capacity", Title: "knee: the highest sustained exports/s within the SLO",
	Spec:   "finds the capacity knee: the open model ramps the load test's mix in steps until the SLO breaks or the instrument's ceiling",
	Labels: []string{"capacity"}, Timeout: capacityBudget + time.Minute, Applies: always}, measureCapacity, judgeCapacity)
