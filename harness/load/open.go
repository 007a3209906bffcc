package load

import (
	"context"
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/exportatscale/exportatscale/harness/export"
)

// OpenConfig is one run of the open model: exports start when the Schedule says, whether or not
// the earlier ones have finished, so a slow exporter cannot slow the load down and hide its
// queueing (coordinated omission).
type OpenConfig struct {
	Client   *export.Client
	Jobs     []Job    // cycled through in order, one per arrival
	Schedule Schedule // when the exports are meant to start
	// MaxInFlight bounds the exports in flight (0: 64). An arrival that finds every slot taken
	// waits for one, in arrival order.
	MaxInFlight int
	// LateBound is how long after its intended time an arrival may still be sent (0: 1 s); one
	// that found no free slot by then is dropped, not sent.
	LateBound time.Duration
	// Tolerance is how far after its intended time an export may be sent without counting as
	// late (0: 10 ms).
	Tolerance   time.Duration
	MaxArrivals int           // bound on the number of arrivals taken from Schedule (0: 100000)
	Timeout     time.Duration // per export (0: 2 minutes)
	// Bound is the longest the run may take, from its start (0: the schedule's span plus
	// LateBound plus Timeout). Arrivals not yet sent when it ends count as Unsent, exports in
	// flight are cut off and fail.
	Bound time.Duration

	// unverified leaves the answers unverified and drops each body once read: the open ceiling's
	// replayed answers are the exporter's own, verified already.
	unverified bool
}

func (cfg OpenConfig) withDefaults() (OpenConfig, error) {
	if err := (Config{Client: cfg.Client, Jobs: cfg.Jobs}).validate(); err != nil {
		return cfg, err
	}
	if cfg.Schedule == nil {
		return cfg, fmt.Errorf("load: a Schedule is required")
	}
	cfg.MaxInFlight = orDefault(cfg.MaxInFlight, 64)
	cfg.MaxArrivals = orDefault(cfg.MaxArrivals, 100000)
	cfg.LateBound = orDefault(cfg.LateBound, time.Second)
	cfg.Tolerance = orDefault(cfg.Tolerance, 10*time.Millisecond)
	cfg.Timeout = orDefault(cfg.Timeout, 2*time.Minute)
	cfg.Bound = orDefault(cfg.Bound, cfg.Schedule.Span()+cfg.LateBound+cfg.Timeout)
	return cfg, nil
}

// arrivalOutcome is what became of one arrival on the timed path.
type arrivalOutcome struct {
	intended time.Time
	sent     time.Time        // zero when not sent
	got      *export.Received // nil when not sent
	dropped  bool             // no free slot within LateBound
}

// Open runs cfg's schedule against the exporter: a single scheduler sleeps until each arrival's
// intended time and queues it, and MaxInFlight workers send the queued arrivals in order and read
// each body to its end. Every answer is verified afterwards, off the clock, as Run verifies. It
// also returns one captured answer per query (for Ceiling).
func Open(ctx context.Context, cfg OpenConfig) (OpenResult, Replay, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return OpenResult{}, nil, err
	}
	offsets := cfg.Schedule.Offsets(cfg.MaxArrivals)
	if len(offsets) == 0 {
		return OpenResult{}, nil, fmt.Errorf("load: the schedule has no arrivals")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Bound)
	defer cancel()
	start := time.Now()
	outcomes := make([]arrivalOutcome, len(offsets))
	queue := make(chan int, len(offsets)) // never full: the scheduler never waits for a worker
	slack := newHist()
	done := make(chan struct{})
	for range cfg.MaxInFlight {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range queue {
				outcomes[i] = sendArrival(ctx, cfg, i, outcomes[i].intended)
			}
		}()
	}
	schedule(ctx, start, offsets, outcomes, queue, slack)
	close(queue)
	for range cfg.MaxInFlight {
		<-done
	}
	res := summarize(cfg, offsets, outcomes, slack)
	return res, res.replay, nil
}

// schedule sleeps until each arrival's intended time and queues it, recording how late it woke
// (the timer's slack). Arrivals after ctx ended are left unqueued.
func schedule(ctx context.Context, start time.Time, offsets []time.Duration, outcomes []arrivalOutcome, queue chan<- int, slack *hdrhistogram.Histogram) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i, off := range offsets {
		at := start.Add(off)
		outcomes[i].intended = at
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		record(slack, time.Since(at))
		queue <- i
	}
}

// sendArrival sends arrival i unless it is already more than LateBound past its intended time.
// An open model does not resend after a 429: the refusal is the answer.
func sendArrival(ctx context.Context, cfg OpenConfig, i int, intended time.Time) arrivalOutcome {
	o := arrivalOutcome{intended: intended}
	if ctx.Err() != nil {
		return o
	}
	if time.Since(intended) > cfg.LateBound {
		o.dropped = true
		return o
	}
	job := cfg.Jobs[i%len(cfg.Jobs)]
	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	o.sent = time.Now()
	o.got = cfg.Client.Get(rctx, job.Format, job.Expected)
	if cfg.unverified {
		o.got.Drop()
	}
	return o
}
