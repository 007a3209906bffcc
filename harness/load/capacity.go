package load

import (
	"context"
	"fmt"
	"math"
	"time"
)

// RampConfig is a search for the capacity knee: the open model offers a constant rate for one
// step, the step is judged against the SLO, and the next step offers more, until the SLO breaks,
// the instrument's ceiling or the time budget is reached. After the first break the steps go
// between the highest rate that held and the lowest that broke. Each step starts from an idle
// exporter (the last one's exports all answered and verified) and lasts long enough for a queue to
// build: over capacity, latency from the intended send time grows through the step.
type RampConfig struct {
	// Open is every step's configuration: Client, Jobs, MaxInFlight, LateBound, Tolerance and
	// Timeout. Its Schedule, MaxArrivals and Bound are set per step.
	Open OpenConfig
	// Start is the first step's rate (exports/s); Factor each next step's rate over the last one
	// that held, until one breaks (0: 1.5).
	Start, Factor float64
	// Step is a step's length (0: 8 s); a step offers at most MaxStepArrivals (0: 300), so a fast
	// one is shorter, but never shorter than MinStep (0: 2 s).
	Step, MinStep   time.Duration
	MaxStepArrivals int
	// Refine is how many steps go between the highest rate that held and the lowest that broke,
	// once one broke (0: 2).
	Refine int
	// Budget bounds the whole ramp, answers' verification included (0: 2 minutes): a step that
	// might not end within it is not started.
	Budget time.Duration
	// Ceiling is the instrument's ceiling (exports/s, OpenCeiling; 0: unknown): no step offers more
	// than BoundFraction of it, and a step that held there ends the ramp.
	Ceiling float64
	// MaxRate bounds every step's rate (0: none), for a limit the client cannot measure past, such
	// as the deployment's rate limit per client; a step that held at it ends the ramp.
	MaxRate float64
	// Judge says what in a step's result breaks the SLO, one line each; none: the step held.
	Judge func(OpenResult) []string
	// Stepped, when set, is told each step once it is judged.
	Stepped func(RampStep)
}

// RampStep is one step of the ramp.
type RampStep struct {
	// Start is when the step began, from the ramp's start; Span its schedule's length and Elapsed
	// until its last answer arrived (off the clock, its answers were verified after that).
	Start   time.Duration `json:"start_ns"`
	Span    time.Duration `json:"span_ns"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Offered float64       `json:"offered_per_second"`
	// Achieved is the exports complete and exactly right per second of Span, those whose only
	// fault is their content headers included (A2 judges those; A3 times them too).
	Achieved float64  `json:"achieved_per_second"`
	Broke    []string `json:"broke,omitempty"` // how the step broke the SLO; empty: it held
	// AtCeiling is true when the step offered BoundFraction of the instrument's ceiling, AtMax
	// when it offered RampConfig.MaxRate.
	AtCeiling bool `json:"at_ceiling,omitempty"`
	AtMax     bool `json:"at_max,omitempty"`
	// SlotsFull is true when the step broke the SLO only by the arrivals the driver dropped
	// because every one of its MaxInFlight slots was busy: it measured the instrument's bound on
	// exports in flight, not the exporter, and the ramp ends there.
	SlotsFull bool       `json:"slots_full,omitempty"`
	Result    OpenResult `json:"result"`
}

// Held reports whether the step held the SLO.
func (s RampStep) Held() bool { return len(s.Broke) == 0 }

// Why the ramp ended (RampResult.Stopped).
const (
	StoppedSLO     = "slo"      // the SLO broke, and the steps between held and broke were run
	StoppedCeiling = "ceiling"  // a step held at the instrument's ceiling
	StoppedBudget  = "budget"   // the time budget left no room for another step
	StoppedMaxRate = "max_rate" // a step held at RampConfig.MaxRate
	StoppedSlots   = "slots"    // a step dropped arrivals: every slot of the driver was busy
	StoppedContext = "context"  // the run was cancelled
)

// RampResult is the outcome of FindKnee.
type RampResult struct {
	Steps []RampStep `json:"steps"`
	// Knee is the index in Steps of the step that held with the highest achieved rate, -1 when
	// none held.
	Knee    int           `json:"knee"`
	Stopped string        `json:"stopped"`
	Ceiling float64       `json:"ceiling_per_second"`
	Wall    time.Duration `json:"wall_ns"`
}

// KneeStep is the knee's step, false when no step held.
func (r RampResult) KneeStep() (RampStep, bool) {
	if r.Knee < 0 || r.Knee >= len(r.Steps) {
		return RampStep{}, false
	}
	return r.Steps[r.Knee], true
}

// LowerBound reports whether the knee is only a lower bound of the capacity: no step above it
// broke the SLO (the ramp ended at the instrument's ceiling or its budget).
func (r RampResult) LowerBound() bool {
	k, ok := r.KneeStep()
	if !ok {
		return false
	}
	for _, s := range r.Steps {
		if !s.Held() && s.Offered > k.Offered {
			return false
		}
	}
	return true
}

func (cfg RampConfig) withDefaults() (RampConfig, error) {
	if cfg.Judge == nil {
		return cfg, fmt.Errorf("ramp: a Judge is required")
	}
	if !(cfg.Start > 0) || math.IsInf(cfg.Start, 0) {
		return cfg, fmt.Errorf("ramp: the first rate must be a positive number, not %v", cfg.Start)
	}
	if cfg.Factor <= 1 {
		cfg.Factor = 1.5
	}
	cfg.Step = orDefault(cfg.Step, 8*time.Second)
	cfg.MinStep = orDefault(cfg.MinStep, 2*time.Second)
	cfg.Budget = orDefault(cfg.Budget, 2*time.Minute)
	cfg.MaxStepArrivals = orDefault(cfg.MaxStepArrivals, 300)
	cfg.Refine = orDefault(cfg.Refine, 2)
	o := cfg.Open
	o.Schedule = Constant(cfg.Start, cfg.Step) // each step sets its own
	o, err := o.withDefaults()
	cfg.Open = o
	return cfg, err
}

// stepSpan is how long a step at rate lasts.
func (cfg RampConfig) stepSpan(rate float64) time.Duration {
	d := time.Duration(float64(cfg.MaxStepArrivals) / rate * float64(time.Second))
	return max(cfg.MinStep, min(cfg.Step, d))
}

// FindKnee runs the search cfg describes and returns every step it ran and the knee.
func FindKnee(ctx context.Context, cfg RampConfig) (RampResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return RampResult{}, err
	}
	start := time.Now()
	res := RampResult{Knee: -1, Ceiling: cfg.Ceiling}
	limit := OpenCeilingRate // nothing above it could be told from the instrument's limit
	if cfg.Ceiling > 0 {
		limit = min(limit, BoundFraction*cfg.Ceiling)
	}
	held, broke := 0.0, math.Inf(1) // highest rate that held, lowest that broke
	top := limit
	if cfg.MaxRate > 0 {
		top = min(top, cfg.MaxRate)
	}
	rate, refined := min(cfg.Start, top), 0
	var slowest time.Duration // the longest a step took beyond its span (drain and verification)
	for {
		span := cfg.stepSpan(rate)
		if time.Since(start)+span+max(slowest, cfg.Open.LateBound) > cfg.Budget {
			res.Stopped = StoppedBudget
			break
		}
		if ctx.Err() != nil {
			res.Stopped = StoppedContext
			break
		}
		st := runStep(ctx, cfg, rate, span, start)
		st.AtCeiling, st.AtMax = rate >= limit, cfg.MaxRate > 0 && rate >= cfg.MaxRate
		slowest = max(slowest, time.Since(start)-st.Start-span)
		res.Steps = append(res.Steps, st)
		if cfg.Stepped != nil {
			cfg.Stepped(st)
		}
		if st.Held() {
			held = max(held, rate)
			if k, ok := res.KneeStep(); !ok || st.Achieved > k.Achieved {
				res.Knee = len(res.Steps) - 1
			}
		} else {
			broke = min(broke, rate)
		}
		next, stop := nextRate(cfg, held, broke, top, st, &refined)
		if stop != "" {
			res.Stopped = stop
			break
		}
		rate = next
	}
	res.Wall = time.Since(start)
	return res, nil
}

// nextRate is the rate of the step after st, or why the ramp ends: below the first break it
// multiplies the highest rate that held by the factor, up to limit; after it, it takes the
// geometric middle of the highest that held and the lowest that broke (half the lowest that broke
// when none held), Refine times.
func nextRate(cfg RampConfig, held, broke, limit float64, st RampStep, refined *int) (float64, string) {
	switch {
	case st.SlotsFull:
		return 0, StoppedSlots
	case st.Held() && st.AtCeiling:
		return 0, StoppedCeiling
	case st.Held() && st.AtMax:
		return 0, StoppedMaxRate
	case math.IsInf(broke, 1):
		return min(held*cfg.Factor, limit), ""
	case *refined >= cfg.Refine || (held > 0 && broke/held < 1.05):
		return 0, StoppedSLO
	}
	*refined++
	if held == 0 {
		return broke / 2, ""
	}
	return math.Sqrt(held * broke), ""
}

// runStep offers rate for span, open-model, and judges the step.
func runStep(ctx context.Context, cfg RampConfig, rate float64, span time.Duration, start time.Time) RampStep {
	oc := cfg.Open
	oc.Schedule = Constant(rate, span)
	oc.MaxArrivals = int(rate*span.Seconds()) + 2 // every arrival of the step: rate is at most OpenCeilingRate
	oc.Bound = 0                                  // the schedule's own
	st := RampStep{Start: time.Since(start), Span: span, Offered: rate}
	res, _, err := Open(ctx, oc)
	if err != nil { // the configuration was checked: only a schedule without arrivals gets here
		st.Broke = []string{err.Error()}
		return st
	}
	served := res.Completed + res.Errors["content_headers"]
	st.Result, st.Elapsed, st.Offered = res, res.Elapsed, res.OfferedRate
	st.Achieved = float64(served) / span.Seconds()
	st.Broke = cfg.Judge(res)
	if res.Dropped > 0 && len(st.Broke) > 0 { // broken by the drops alone: the driver's bound
		whole := res
		whole.Dropped = 0
		st.SlotsFull = len(cfg.Judge(whole)) == 0
	}
	if res.Arrivals == 0 || served == 0 {
		st.Broke = append(st.Broke, "no export of the step completed")
	}
	return st
}
