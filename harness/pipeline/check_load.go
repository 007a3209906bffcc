package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/memory"
	"github.com/exportatscale/exportatscale/harness/target"
)

// loading is what Load measured, beyond what it leaves on the run for the assertions.
type loading struct {
	Load       load.Result
	Large      export.CSVReport
	Endings    load.BadEndingsResult
	Burst      load.BurstResult
	Saturation load.SaturationResult
	Failures   []string
}

// measureLoad measures memory in windows of small and large exports from idle, runs the load
// test (timed path first, verification after) and the instrument's ceiling, then the exports that
// end badly, a burst over the rate limit and a saturation probe over the CSV capacity, and
// scrapes the metrics once nothing is in flight.
func measureLoad(ctx context.Context, r *Run) (loading, error) {
	ld, small, large, bulk := r.datasets["load"], r.datasets["smoke"], r.datasets["large"], r.datasets["bulk"]
	if ld == nil || small == nil || large == nil || bulk == nil {
		return loading{}, missing("the seeded datasets")
	}
	var l loading
	r.seriesStart = time.Now()
	sampler, observable := r.cfg.Target.(target.Sampler)
	if observable {
		observable = sampler.StartSampling(r.cfg.SampleInterval) == nil
	}
	resident := r.resident(ctx, r.http, 250*time.Millisecond)
	var err error
	if l.Large, err = r.memoryWindows(ctx, observable, small, large, &l.Failures); err != nil {
		return l, err
	}
	if l.Load, err = r.loadTest(ctx, ld, observable, &l.Failures); err != nil {
		return l, err
	}
	l.Endings = r.badEndings(ctx, ld, bulk)
	l.Failures = append(l.Failures, l.Endings.Failures...)
	if l.Burst, err = r.burstProbe(ctx, small); err != nil {
		return l, err
	}
	if l.Saturation, err = r.saturationProbe(ctx, bulk); err != nil {
		return l, err
	}
	r.peak(observable, "ceiling, bad endings, burst, saturation") // the burst and the held exports count too
	r.memory.ProcessResident = resident()
	r.memoryOK = true
	for _, f := range l.Saturation.Failures {
		l.Failures = append(l.Failures, "saturation probe: "+f)
	}
	r.say("scraping /metrics once no export is in flight")
	after, perReplica, err := r.scrapeIdle(ctx)
	if err != nil {
		return l, fmt.Errorf("scraping /metrics after the run: %w", err)
	}
	r.after, r.afterTaken, r.replicasAfter = after, true, perReplica
	r.artifacts["metrics-after.txt"] = after.Raw
	r.artifacts["probes.json"] = jsonArtifact(map[string]any{"burst": l.Burst, "saturation": l.Saturation,
		"bad_endings": l.Endings, "memory": r.memory})
	return l, nil
}

// memoryWindows measures memory from idle: small CSV exports, then large ones, each kind repeated
// through its own sampling window. It returns the last large export.
func (r *Run) memoryWindows(ctx context.Context, observable bool, small, large *dataset, failures *[]string) (export.CSVReport, error) {
	r.say("memory, from idle: small CSV exports, then large ones, each kind repeated through its own sampling window")
	var sc, lc export.CSVReport
	// Each export of a window is verified and counted like any other; for the window it only has
	// to arrive whole, since memory is about the bytes streamed (A1 and A2 judge the content).
	verified := func(exp *export.Expected, last *export.CSVReport) memory.Export {
		return func(ctx context.Context) (int64, bool) {
			*last = r.verifyCSV(ctx, exp)
			return last.Bytes, last.Started() && last.Complete
		}
	}
	if observable {
		g, err := memory.Measure(ctx, r.cfg.Target.(target.Sampler), memory.Probe{Export: verified(small.full, &sc), Pause: 50 * time.Millisecond},
			memory.Probe{Export: verified(large.full, &lc)}, memory.Procedure{})
		if err != nil {
			return lc, err
		}
		r.memory = g.Memory()
		r.windows = append(r.windows, window{"small CSV exports", g.Small.Window}, window{"large CSV exports", g.Large.Window})
		r.artifacts["memory-windows.json"] = jsonArtifact(g)
	} else { // nothing to sample: still one verified export of each
		verified(small.full, &sc)(ctx)
		verified(large.full, &lc)(ctx)
	}
	for _, rep := range []struct{ what, f string }{{"small CSV export", sc.Failure()}, {"large CSV export", lc.Failure()}} {
		if rep.f != "" {
			*failures = append(*failures, rep.what+": "+rep.f)
		}
	}
	return lc, nil
}

// loadTest runs the load test over the load set, the timed path first and verification after,
// then the instrument's ceiling against an in-process replay of what it received.
func (r *Run) loadTest(ctx context.Context, ld *dataset, observable bool, failures *[]string) (load.Result, error) {
	all, _ := allVariants(len(ld.records))
	csvOpts := supported(all[:5], r.caps.API()) // the last two CSV variants are too small to time a stream
	_, pdfOpts := variants(len(ld.records), r.caps.API())
	csvExp, err := r.expectAll(ld, csvOpts)
	if err != nil {
		return load.Result{}, err
	}
	pdfExp, err := r.expectAll(ld, pdfOpts)
	if err != nil {
		return load.Result{}, err
	}
	lcfg := load.Config{Client: r.exports, Jobs: load.Plan(r.cfg.LoadRequests, r.cfg.PDFShare, csvExp, pdfExp),
		Concurrency: r.cfg.LoadConcurrency, PDFConcurrency: 1, Timeout: 2 * time.Minute, Progress: r.cfg.Exported}
	r.say(fmt.Sprintf("load: %d exports of up to %d rows, %d at a time, %.0f%% PDF, bodies read on the timed path and verified afterwards",
		r.cfg.LoadRequests, len(ld.records), r.cfg.LoadConcurrency, r.cfg.PDFShare*100))
	r.loadStart = time.Now()
	res, replay, err := load.Run(ctx, lcfg)
	if err != nil {
		return res, err
	}
	r.tally.Merge(res.Tally)
	r.peak(observable, "load test")

	r.say("the instrument's ceiling: the same client and mix against an in-process replay of the captured bodies")
	if ceiling, err := load.Ceiling(ctx, lcfg, replay, res); err != nil {
		*failures = append(*failures, "measuring the instrument's ceiling: "+err.Error())
	} else {
		res.Ceiling = &ceiling
	}
	r.load, r.loadJobs, r.replay = &res, lcfg.Jobs, replay
	r.artifacts["load-result.json"] = jsonArtifact(res)
	return res, nil
}

// badEndings ends exports badly: one abandoned mid-stream, one stalled past the write timeout,
// one refused.
func (r *Run) badEndings(ctx context.Context, ld, bulk *dataset) load.BadEndingsResult {
	r.say(fmt.Sprintf("exports that end badly: one abandoned mid-stream, one stalled past the write timeout (%s), one refused", r.cfg.Limits.StalledCut()))
	end := load.BadEndings(ctx, load.BadEndingsConfig{Client: r.exports,
		Stall:    r.client(r.stall),
		Expected: bulk.full, WriteTimeout: r.cfg.Limits.StalledCut(),
		Refused: export.Refused(ld.name, export.Options{Columns: []string{"no_such_column"}})})
	r.endings = &end
	r.tally.Merge(end.Tally)
	return end
}

// burstProbe sends more cheap exports, faster, than the rate limit allows, then waits for the
// limit to refill.
func (r *Run) burstProbe(ctx context.Context, small *dataset) (load.BurstResult, error) {
	r.say("burst: more cheap exports, faster, than the rate limit allows")
	cheap, err := r.expect(small, export.Options{Limit: 1})
	if err != nil {
		return load.BurstResult{}, err
	}
	r.burst = load.Burst(ctx, load.BurstConfig{Client: r.exports, Expected: cheap, Requests: r.cfg.BurstRequests, Concurrency: 16, Enough: 20})
	r.tally.Merge(r.burst.Tally)
	wait := min(r.burst.MaxRetryAfter, 5*time.Second) + 200*time.Millisecond
	r.say(fmt.Sprintf("waiting %s for the rate limit to refill", wait))
	select {
	case <-time.After(wait):
	case <-ctx.Done():
	}
	return r.burst, nil
}

// saturationProbe holds SaturationHold bulk CSV exports unread, then sends more requests.
func (r *Run) saturationProbe(ctx context.Context, bulk *dataset) (load.SaturationResult, error) {
	r.say(fmt.Sprintf("saturation: %d bulk CSV exports held unread, then more requests", r.cfg.SaturationHold))
	held, err := r.expect(bulk, export.Options{Limit: min(len(bulk.records), r.cfg.HeldRows)})
	if err != nil {
		return load.SaturationResult{}, err
	}
	// Held on connections with a small receive buffer, as the stalled reader is: a held export
	// must not finish into the client's socket buffer and free its slot.
	holder := r.client(r.stall)
	sat, err := load.Saturate(ctx, load.SaturationConfig{Client: holder, Expected: held, Format: export.CSV, Hold: r.cfg.SaturationHold, Extra: 3})
	if err != nil {
		return sat, err
	}
	r.saturated = &sat
	r.tally.Merge(sat.Tally)
	return sat, nil
}

func judgeLoad(th Thresholds, l loading) evidence.Check {
	b := &builder{th: th}
	res := l.Load
	b.info("load.exports", float64(res.Requests), "exports")
	b.info("load.wall_seconds", res.Wall.Seconds(), "s")
	b.info("load.rows_per_second", res.RowsPerSecond, "rows/s")
	b.info("load.mib_per_second", res.MiBPerSecond, "MiB/s")
	b.info("load.rate_limited_retries", float64(res.RateLimitedRetries), "responses")
	b.info("load.burst_429", float64(l.Burst.RateLimited), "responses")
	b.info("load.saturation_503", float64(l.Saturation.Saturated), "responses")
	b.info("load.large_export_rows", float64(l.Large.Rows), "rows")
	b.info("load.abandoned_after_bytes", float64(l.Endings.AbandonedAfter), "bytes")
	b.info("load.stalled_seconds", l.Endings.StalledFor.Seconds(), "s")
	if c := res.Ceiling; c != nil {
		b.info("load.ceiling_mib_per_second", c.MiBPerSecond, "MiB/s")
		b.info("load.fraction_of_ceiling", c.Fraction, "ratio")
	}
	for _, f := range l.Failures {
		b.fail("%s", f)
	}
	return b.check()
}

// peak closes the target's current memory window, named label for the charts, and folds it into
// the run's peak.
func (r *Run) peak(observable bool, label string) {
	if !observable {
		return
	}
	if w, ok := r.cfg.Target.(target.Sampler).ResetPeak(); ok {
		r.memory.PeakExternal = max(r.memory.PeakExternal, float64(w.PeakBytes))
		r.memory.PeakExternalFile = max(r.memory.PeakExternalFile, float64(w.PeakFileBytes))
		r.windows = append(r.windows, window{label, w})
	}
}

var loadCheck = define(Def{ID: "load", Title: "10k rows exported concurrently, exports that end badly, burst and saturation probes",
	Spec:   "exports 10k rows concurrently, ends some exports badly, bursts past the rate limit and saturates the capacity",
	Labels: []string{"load"}, Timeout: 5 * time.Minute, Applies: always}, measureLoad, judgeLoad)
