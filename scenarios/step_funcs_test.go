package scenarios_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/assert"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/memory"
	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/harness/target"
)

func stepSeed(ctx SpecContext) {
	r := run
	r.require("the target", r.target != nil)
	By("scraping /metrics before any traffic")
	before, err := metrics.Scrape(ctx, r.http, r.exports.BaseURL, r.exports.Token)
	Expect(err).NotTo(HaveOccurred())
	r.before = before
	r.extras["metrics-before.txt"] = before.Raw

	t0 := time.Now()
	smoke := r.seedDataset(ctx, "smoke", opts.SmokeRows, opts.Seed, 200, 500)
	ld := r.seedDataset(ctx, "load", opts.LoadRows, opts.Seed+1, 0, 2000)
	large := r.seedDataset(ctx, "large", opts.LargeRows, opts.Seed+2, 0, 10000)
	took := time.Since(t0)
	r.extras["seed-manifests.json"] = jsonArtifact(r.manifests)
	total := len(smoke.records) + len(ld.records) + len(large.records)
	r.record(evidence.NewCheck("seed", "realistic trades seeded in single and batch modes", []evidence.Measure{
		info("seed.records", float64(total), "records"),
		info("seed.seconds", took.Seconds(), "s"),
		info("seed.records_per_second", float64(total)/took.Seconds(), "records/s"),
	}, nil))
}

func stepSmoke(ctx SpecContext) {
	r := run
	ds := r.datasets["smoke"]
	r.require("the smoke dataset", ds != nil)
	By("exporting the smoke dataset as CSV")
	c := r.verifyCSV(ctx, ds.csv)
	By("exporting the smoke dataset as PDF")
	p := r.verifyPDF(ctx, ds.pdf)
	var failures []string
	if f := c.Failure(); f != "" {
		failures = append(failures, "CSV: "+f+describeFetch(c.Fetch))
	}
	if f := p.Failure(); f != "" {
		failures = append(failures, "PDF: "+f+describeFetch(p.Fetch))
	}
	r.record(evidence.NewCheck("smoke", "1k rows exported as CSV and PDF, each fully verified", []evidence.Measure{
		info("smoke.csv_rows", float64(c.Rows), "rows"),
		info("smoke.csv_seconds", c.Latency.Seconds(), "s"),
		info("smoke.pdf_pages", float64(p.Pages), "pages"),
		info("smoke.pdf_seconds", p.Latency.Seconds(), "s"),
	}, failures))
}

func describeFetch(f export.Fetch) string {
	msg := fmt.Sprintf(" (status %d", f.Status)
	if f.Err != "" {
		msg += ": " + f.Err
	}
	if f.Body != "" {
		msg += ": " + f.Body
	}
	return msg + ")"
}

func stepLoad(ctx SpecContext) {
	r := run
	ld, small, large := r.datasets["load"], r.datasets["smoke"], r.datasets["large"]
	r.require("the seeded datasets", ld != nil && small != nil && large != nil)
	observable := r.target.StartSampling(200*time.Millisecond) == nil
	resident := memory.Resident(ctx, r.http, r.exports.BaseURL, r.exports.Token, 250*time.Millisecond)

	By("memory, from idle: small CSV exports, then large ones, each kind repeated through its own sampling window")
	var sc, lc export.CSVReport
	verified := func(exp *export.Expected, last *export.CSVReport) memory.Export {
		return func(ctx context.Context) (int64, bool) {
			*last = r.verifyCSV(ctx, exp)
			return last.Bytes, last.Failure() == ""
		}
	}
	if observable {
		g, err := memory.Measure(ctx, r.target, memory.Probe{Export: verified(small.csv, &sc), Pause: 50 * time.Millisecond},
			memory.Probe{Export: verified(large.csv, &lc)}, memory.Procedure{})
		Expect(err).NotTo(HaveOccurred())
		m := g.Memory()
		m.PeakExternal = max(m.PeakDuringSmall, m.PeakDuringLarge)
		r.memory = m
		r.extras["memory-windows.json"] = jsonArtifact(g)
	} else { // nothing to sample: still one verified export of each
		verified(small.csv, &sc)(ctx)
		verified(large.csv, &lc)(ctx)
	}

	By(fmt.Sprintf("load: %d exports of %d rows, %d at a time, %.0f%% PDF", opts.LoadRequests, len(ld.records), opts.LoadConcurrency, opts.PDFShare*100))
	res, err := load.Run(ctx, load.Config{
		Client: r.exports, CSV: ld.csv, PDF: ld.pdf, Requests: opts.LoadRequests, Concurrency: opts.LoadConcurrency,
		PDFShare: opts.PDFShare, PDFConcurrency: 1, Timeout: 2 * time.Minute,
	})
	Expect(err).NotTo(HaveOccurred())
	r.load = &res
	r.counts.Merge(res.Counts)
	r.csv.Merge(res.CSVTotals)
	r.pdf.Merge(res.PDFTotals)
	r.extras["load-result.json"] = jsonArtifact(res)
	if w, ok := r.target.ResetPeak(); ok && observable {
		r.memory.PeakExternal = max(r.memory.PeakExternal, float64(w.PeakBytes))
	}

	By("burst: more cheap exports, faster, than the rate limit allows")
	cheap, err := export.NewExpected(small.name, r.schema, small.records, export.Options{Limit: 1})
	Expect(err).NotTo(HaveOccurred())
	r.burst = load.Burst(ctx, load.BurstConfig{Client: r.exports, Expected: cheap, Requests: 150, Concurrency: 16})
	r.counts.Merge(r.burst.Counts)
	r.csv.Merge(r.burst.CSVTotals)
	wait := min(r.burst.MaxRetryAfter, 5*time.Second) + 200*time.Millisecond
	By(fmt.Sprintf("waiting %s for the rate limit to refill", wait))
	time.Sleep(wait)

	hold := 11 // the suite starts its own targets with --max-csv-exports=10
	if r.target.Kind() == target.KindURL {
		hold = 20 // more than the default capacity of 16
	}
	By(fmt.Sprintf("saturation: %d large CSV exports held unread, then more requests", hold))
	// Each held export is big enough not to finish into socket buffers (about 12 MB), and no bigger:
	// all of them are read and verified when released.
	held, err := export.NewExpected(large.name, r.schema, large.records, export.Options{Limit: min(len(large.records), 100000)})
	Expect(err).NotTo(HaveOccurred())
	sat, err := load.Saturate(ctx, load.SaturationConfig{Client: r.exports, Expected: held, Format: export.CSV, Hold: hold, Extra: 3})
	Expect(err).NotTo(HaveOccurred())
	r.saturated = &sat
	r.counts.Merge(sat.Counts)
	r.csv.Merge(sat.CSVTotals)
	if w, ok := r.target.ResetPeak(); ok && observable { // the burst and the held exports count too
		r.memory.PeakExternal = max(r.memory.PeakExternal, float64(w.PeakBytes))
	}
	r.memory.ProcessResident = resident()
	r.memoryOK = true

	By("scraping /metrics once no export is in flight")
	after, err := metrics.WaitIdle(ctx, r.http, r.exports.BaseURL, r.exports.Token)
	Expect(err).NotTo(HaveOccurred())
	r.after, r.afterTaken = after, true
	r.extras["metrics-after.txt"] = after.Raw
	r.extras["probes.json"] = jsonArtifact(map[string]any{"burst": r.burst, "saturation": sat, "memory": r.memory})

	var failures []string
	for _, rep := range []struct {
		what string
		f    string
	}{{"small CSV export", sc.Failure()}, {"large CSV export", lc.Failure()}} {
		if rep.f != "" {
			failures = append(failures, rep.what+": "+rep.f)
		}
	}
	for _, f := range sat.Failures {
		failures = append(failures, "saturation probe: "+f)
	}
	r.record(evidence.NewCheck("load", "10k rows exported concurrently, burst and saturation probes", []evidence.Measure{
		info("load.exports", float64(res.Requests), "exports"),
		info("load.wall_seconds", res.Wall.Seconds(), "s"),
		info("load.rows_per_second", res.RowsPerSecond, "rows/s"),
		info("load.mib_per_second", res.MBPerSecond, "MiB/s"),
		info("load.burst_429", float64(r.burst.RateLimited), "responses"),
		info("load.saturation_503", float64(sat.Saturated), "responses"),
		info("load.large_export_rows", float64(lc.Rows), "rows"),
	}, failures))
}

func assertA1(ctx SpecContext) {
	run.require("exports to judge", run.csv.Exports > 0)
	run.record(assert.A1(run.thresholds, run.csv, run.pdf))
}

func assertA2(ctx SpecContext) {
	run.require("exports to judge", run.csv.Exports > 0)
	run.record(assert.A2(run.thresholds, run.csv, run.pdf))
}

func assertA3(ctx SpecContext) {
	run.require("the load result", run.load != nil)
	run.record(assert.A3(run.thresholds, *run.load))
}

func assertA4(ctx SpecContext) {
	run.require("the memory measurements", run.memoryOK)
	run.record(assert.A4(run.thresholds, run.memory))
}

func assertA5(ctx SpecContext) {
	r := run
	r.require("the burst and saturation probes", r.saturated != nil)
	p := assert.Protection{Counts: r.counts, Burst: r.burst}
	state, err := r.target.Restarts(ctx)
	if err != nil && !errors.Is(err, target.ErrNotObservable) {
		Fail("reading the exporter's restarts: " + err.Error())
	}
	p.RestartsObservable = err == nil
	p.Restarts = state.RestartCount
	if state.Exited {
		p.Restarts++
	}
	logs, err := r.target.Logs(ctx)
	p.LogsObservable = err == nil
	for _, line := range strings.Split(string(logs), "\n") {
		if strings.Contains(strings.ToLower(line), "panic") {
			p.Panics = append(p.Panics, line)
		}
	}
	r.record(assert.A5(r.thresholds, p))
}

func assertA6(ctx SpecContext) {
	run.require("the metric scrape after the run", run.afterTaken)
	stored := map[string]int{}
	for _, ds := range run.datasets {
		ids := map[int64]bool{}
		for _, rec := range ds.records {
			ids[rec.ID] = true
		}
		stored[ds.name] = len(ids)
	}
	run.record(assert.A6(run.thresholds, assert.Observability{Before: run.before, After: run.after,
		Counts: run.counts, Manifests: run.manifests, Stored: stored}))
}
