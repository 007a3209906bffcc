package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/assert"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/memory"
	"github.com/exportatscale/exportatscale/harness/seed"
	"github.com/exportatscale/exportatscale/harness/target"
)

// Step titles, as the evidence shows them.
const (
	titleSeed  = "realistic trades seeded in single and batch modes"
	titleSmoke = "1k rows exported as CSV and PDF with every option, each fully verified"
	titleLoad  = "10k rows exported concurrently, exports that end badly, burst and saturation probes"
)

// Seed scrapes the metrics before any traffic, then creates and fills the smoke, load, large and
// bulk datasets: the smoke set's first SmokeSingle records one request each (concurrently), the
// rest in NDJSON batches.
func (r *Run) Seed(ctx context.Context) evidence.Check {
	r.say("scraping /metrics before any traffic")
	before, perReplica, err := r.scrape(ctx, "before")
	if err != nil {
		return failed("seed", titleSeed, fmt.Errorf("scraping /metrics before any traffic: %w", err))
	}
	r.before, r.replicasBefore = before, perReplica
	r.artifacts["metrics-before.txt"] = before.Raw

	t0 := time.Now()
	total := 0
	for _, s := range []struct {
		kind          string
		schema        seed.Schema
		records       []seed.Record
		seed          uint64
		single, chunk int
	}{
		{"smoke", r.schema, seed.Generate(r.cfg.Seed, r.cfg.SmokeRows, 1), r.cfg.Seed, r.cfg.SmokeSingle, 500},
		{"load", r.schema, seed.Generate(r.cfg.Seed+1, r.cfg.LoadRows, 1), r.cfg.Seed + 1, 0, 2000},
		{"large", r.schema, seed.Generate(r.cfg.Seed+2, r.cfg.LargeRows, 1), r.cfg.Seed + 2, 0, 10000},
		{"bulk", bulkSchema, bulkRecords(r.cfg.BulkRows), 0, 0, 1000},
	} {
		ds, err := r.seedDataset(ctx, s.kind, s.schema, s.records, s.seed, s.single, s.chunk)
		r.artifacts["seed-manifests.json"] = jsonArtifact(r.manifests)
		if err != nil {
			return failed("seed", titleSeed, err)
		}
		total += len(ds.records)
	}
	took := time.Since(t0)
	return evidence.NewCheck("seed", titleSeed, []evidence.Measure{
		r.info("seed.records", float64(total), "records"),
		r.info("seed.seconds", took.Seconds(), "s"),
		r.info("seed.records_per_second", float64(total)/took.Seconds(), "records/s"),
	}, nil)
}

// seedDataset creates one dataset and loads its records; the first single of them one request
// each (concurrently), the rest in NDJSON batches of chunk.
func (r *Run) seedDataset(ctx context.Context, kind string, schema seed.Schema, records []seed.Record, seedValue uint64, single, chunk int) (*dataset, error) {
	ds := &dataset{name: r.datasetName(kind), schema: schema, records: records}
	created, err := r.seeder.CreateDataset(ctx, ds.name, schema)
	switch {
	case err != nil:
		return nil, fmt.Errorf("creating dataset %s: %w", ds.name, err)
	case !created:
		return nil, fmt.Errorf("dataset %s already exists: a run's datasets must be new", ds.name)
	}
	single = min(single, len(records))
	for _, job := range []seed.Job{
		{Dataset: ds.name, Schema: schema, Seed: seedValue, Records: ds.records[:single], Mode: seed.ModeSingle, Concurrency: 8},
		{Dataset: ds.name, Schema: schema, Seed: seedValue, Records: ds.records[single:], Mode: seed.ModeBatch, ChunkSize: chunk},
	} {
		if len(job.Records) == 0 {
			continue
		}
		r.say(fmt.Sprintf("seeding %d records into %s (%s mode)", len(job.Records), ds.name, job.Mode))
		sc := *r.seeder
		if r.cfg.Seeded != nil {
			sc.Progress = func(p seed.Progress) { r.cfg.Seeded(ds.name, p) }
		}
		m, err := sc.Seed(ctx, job)
		r.manifests = append(r.manifests, m)
		if err != nil {
			return nil, fmt.Errorf("seeding %s: %w", ds.name, err)
		}
	}
	if ds.full, err = r.expect(ds, export.Options{}); err != nil {
		return nil, err
	}
	r.datasets[kind] = ds
	return ds, nil
}

func (r *Run) expect(ds *dataset, opt export.Options) (*export.Expected, error) {
	return export.NewExpected(ds.name, ds.schema, ds.records, opt)
}

// variants are the export options each format is exercised with, for a dataset of n records
// with ids 1..n: everything, a column subset, a window by after and limit, a BOM, and
// combinations of them.
func variants(n int) (csv, pdf []export.Options) {
	csv = []export.Options{
		{},
		{Columns: []string{"trade_ts", "account", "symbol", "quantity", "price", "note"}},
		{After: int64(n / 4), Limit: n / 2},
		{BOM: true},
		{Columns: []string{"note", "quantity", "trade_ts"}, After: int64(n / 10), Limit: n / 4, BOM: true},
		{After: int64(n - 3)},
		{Limit: 1, Columns: []string{"symbol"}},
	}
	pdf = []export.Options{
		{},
		{Columns: []string{"account", "symbol", "quantity", "price", "note"}, After: int64(n / 5), Limit: n / 2},
	}
	return csv, pdf
}

// Smoke exports the smoke set as CSV and PDF with every option and combination of options, and
// verifies each export in full.
func (r *Run) Smoke(ctx context.Context) evidence.Check {
	ds := r.datasets["smoke"]
	if ds == nil {
		return skipped("smoke", titleSmoke, "the smoke dataset")
	}
	csvOpts, pdfOpts := variants(len(ds.records))
	var failures []string
	var full export.CSVReport
	var fullPDF export.PDFReport
	for i, opt := range csvOpts {
		exp, err := r.expect(ds, opt)
		if err != nil {
			return failed("smoke", titleSmoke, err)
		}
		r.say(fmt.Sprintf("exporting the smoke dataset as CSV with %s", describeOptions(opt)))
		c := r.verifyCSV(ctx, exp)
		if i == 0 {
			full = c
		}
		if f := c.Failure(); f != "" {
			failures = append(failures, fmt.Sprintf("CSV with %s: %s%s", describeOptions(opt), f, describeFetch(c.Fetch)))
			failures = append(failures, c.Examples[:min(len(c.Examples), 3)]...)
		}
	}
	for i, opt := range pdfOpts {
		exp, err := r.expect(ds, opt)
		if err != nil {
			return failed("smoke", titleSmoke, err)
		}
		r.say(fmt.Sprintf("exporting the smoke dataset as PDF with %s", describeOptions(opt)))
		p := r.verifyPDF(ctx, exp)
		if i == 0 {
			fullPDF = p
		}
		if f := p.Failure(); f != "" {
			failures = append(failures, fmt.Sprintf("PDF with %s: %s%s", describeOptions(opt), f, describeFetch(p.Fetch)))
			failures = append(failures, p.Examples[:min(len(p.Examples), 3)]...)
		}
	}
	return evidence.NewCheck("smoke", titleSmoke, []evidence.Measure{
		r.info("smoke.csv_rows", float64(full.Rows), "rows"),
		r.info("smoke.csv_seconds", full.Latency.Seconds(), "s"),
		r.info("smoke.pdf_pages", float64(fullPDF.Pages), "pages"),
		r.info("smoke.pdf_seconds", fullPDF.Latency.Seconds(), "s"),
		r.info("smoke.exports", float64(len(csvOpts)+len(pdfOpts)), "exports"),
	}, failures)
}

func describeOptions(o export.Options) string {
	s := ""
	if o.Columns != nil {
		s += fmt.Sprintf(" columns=%v", o.Columns)
	}
	if o.After > 0 {
		s += fmt.Sprintf(" after=%d", o.After)
	}
	if o.Limit > 0 {
		s += fmt.Sprintf(" limit=%d", o.Limit)
	}
	if o.BOM {
		s += " bom=1"
	}
	if s == "" {
		return "no options"
	}
	return s[1:]
}

// Load measures memory in windows of small and large exports from idle, runs the load test (timed
// path first, verification after) and the instrument's ceiling, then the exports that end badly,
// a burst over the rate limit and a saturation probe over the CSV capacity, and scrapes the
// metrics once nothing is in flight.
func (r *Run) Load(ctx context.Context) evidence.Check {
	ld, small, large, bulk := r.datasets["load"], r.datasets["smoke"], r.datasets["large"], r.datasets["bulk"]
	if ld == nil || small == nil || large == nil || bulk == nil {
		return skipped("load", titleLoad, "the seeded datasets")
	}
	var failures []string
	r.seriesStart = time.Now()
	sampler, observable := r.cfg.Target.(target.Sampler)
	if observable {
		observable = sampler.StartSampling(r.cfg.SampleInterval) == nil
	}
	resident := r.resident(ctx, r.http, 250*time.Millisecond)

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
		g, err := memory.Measure(ctx, sampler, memory.Probe{Export: verified(small.full, &sc), Pause: 50 * time.Millisecond},
			memory.Probe{Export: verified(large.full, &lc)}, memory.Procedure{})
		if err != nil {
			return failed("load", titleLoad, err)
		}
		r.memory = g.Memory()
		r.windows = append(r.windows, window{"small CSV exports", g.Small.Window}, window{"large CSV exports", g.Large.Window})
		r.artifacts["memory-windows.json"] = jsonArtifact(g)
	} else { // nothing to sample: still one verified export of each
		verified(small.full, &sc)(ctx)
		verified(large.full, &lc)(ctx)
	}
	for _, rep := range []struct {
		what string
		f    string
	}{{"small CSV export", sc.Failure()}, {"large CSV export", lc.Failure()}} {
		if rep.f != "" {
			failures = append(failures, rep.what+": "+rep.f)
		}
	}

	csvOpts, pdfOpts := variants(len(ld.records))
	var csvExp, pdfExp []*export.Expected
	for _, o := range csvOpts[:5] { // the last two are too small to time a stream
		e, err := r.expect(ld, o)
		if err != nil {
			return failed("load", titleLoad, err)
		}
		csvExp = append(csvExp, e)
	}
	for _, o := range pdfOpts {
		e, err := r.expect(ld, o)
		if err != nil {
			return failed("load", titleLoad, err)
		}
		pdfExp = append(pdfExp, e)
	}
	lcfg := load.Config{Client: r.exports, Jobs: load.Plan(r.cfg.LoadRequests, r.cfg.PDFShare, csvExp, pdfExp),
		Concurrency: r.cfg.LoadConcurrency, PDFConcurrency: 1, Timeout: 2 * time.Minute, Progress: r.cfg.Exported}
	r.say(fmt.Sprintf("load: %d exports of up to %d rows, %d at a time, %.0f%% PDF, bodies read on the timed path and verified afterwards",
		r.cfg.LoadRequests, len(ld.records), r.cfg.LoadConcurrency, r.cfg.PDFShare*100))
	r.loadStart = time.Now()
	res, replay, err := load.Run(ctx, lcfg)
	if err != nil {
		return failed("load", titleLoad, err)
	}
	r.tally.Merge(res.Tally)
	r.peak(observable, "load test")

	r.say("the instrument's ceiling: the same client and mix against an in-process replay of the captured bodies")
	if ceiling, err := load.Ceiling(ctx, lcfg, replay, res); err != nil {
		failures = append(failures, "measuring the instrument's ceiling: "+err.Error())
	} else {
		res.Ceiling = &ceiling
	}
	r.load = &res
	r.artifacts["load-result.json"] = jsonArtifact(res)

	r.say(fmt.Sprintf("exports that end badly: one abandoned mid-stream, one stalled past the write timeout (%s), one refused", r.cfg.WriteTimeout))
	end := load.BadEndings(ctx, load.BadEndingsConfig{Client: r.exports,
		Stall:    &export.Client{BaseURL: r.exports.BaseURL, Token: r.exports.Token, HTTP: r.stall},
		Expected: bulk.full, WriteTimeout: r.cfg.WriteTimeout,
		Refused: export.Refused(ld.name, "format=csv&columns=no_such_column")})
	r.endings = &end
	r.tally.Merge(end.Tally)
	failures = append(failures, end.Failures...)

	r.say("burst: more cheap exports, faster, than the rate limit allows")
	cheap, err := r.expect(small, export.Options{Limit: 1})
	if err != nil {
		return failed("load", titleLoad, err)
	}
	r.burst = load.Burst(ctx, load.BurstConfig{Client: r.exports, Expected: cheap, Requests: r.cfg.BurstRequests, Concurrency: 16, Enough: 20})
	r.tally.Merge(r.burst.Tally)
	wait := min(r.burst.MaxRetryAfter, 5*time.Second) + 200*time.Millisecond
	r.say(fmt.Sprintf("waiting %s for the rate limit to refill", wait))
	select {
	case <-time.After(wait):
	case <-ctx.Done():
	}

	r.say(fmt.Sprintf("saturation: %d bulk CSV exports held unread, then more requests", r.cfg.SaturationHold))
	held, err := r.expect(bulk, export.Options{Limit: min(len(bulk.records), r.cfg.HeldRows)})
	if err != nil {
		return failed("load", titleLoad, err)
	}
	// Held on connections with a small receive buffer, as the stalled reader is: a held export
	// must not finish into the client's socket buffer and free its slot.
	holder := &export.Client{BaseURL: r.exports.BaseURL, Token: r.exports.Token, HTTP: r.stall}
	sat, err := load.Saturate(ctx, load.SaturationConfig{Client: holder, Expected: held, Format: export.CSV, Hold: r.cfg.SaturationHold, Extra: 3})
	if err != nil {
		return failed("load", titleLoad, err)
	}
	r.saturated = &sat
	r.tally.Merge(sat.Tally)
	r.peak(observable, "ceiling, bad endings, burst, saturation") // the burst and the held exports count too
	r.memory.ProcessResident = resident()
	r.memoryOK = true
	for _, f := range sat.Failures {
		failures = append(failures, "saturation probe: "+f)
	}

	r.say("scraping /metrics once no export is in flight")
	after, perReplica, err := r.scrapeIdle(ctx)
	if err != nil {
		return failed("load", titleLoad, fmt.Errorf("scraping /metrics after the run: %w", err))
	}
	r.after, r.afterTaken, r.replicasAfter = after, true, perReplica
	r.artifacts["metrics-after.txt"] = after.Raw
	r.artifacts["probes.json"] = jsonArtifact(map[string]any{"burst": r.burst, "saturation": sat, "bad_endings": end, "memory": r.memory})

	ms := []evidence.Measure{
		r.info("load.exports", float64(res.Requests), "exports"),
		r.info("load.wall_seconds", res.Wall.Seconds(), "s"),
		r.info("load.rows_per_second", res.RowsPerSecond, "rows/s"),
		r.info("load.mib_per_second", res.MiBPerSecond, "MiB/s"),
		r.info("load.rate_limited_retries", float64(res.RateLimitedRetries), "responses"),
		r.info("load.burst_429", float64(r.burst.RateLimited), "responses"),
		r.info("load.saturation_503", float64(sat.Saturated), "responses"),
		r.info("load.large_export_rows", float64(lc.Rows), "rows"),
		r.info("load.abandoned_after_bytes", float64(end.AbandonedAfter), "bytes"),
		r.info("load.stalled_seconds", end.StalledFor.Seconds(), "s"),
	}
	if c := res.Ceiling; c != nil {
		ms = append(ms, r.info("load.ceiling_mib_per_second", c.MiBPerSecond, "MiB/s"),
			r.info("load.fraction_of_ceiling", c.Fraction, "ratio"))
	}
	return evidence.NewCheck("load", titleLoad, ms, failures)
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

// Series is what the Load step measured over time, for the charts of EVIDENCE.html: the load
// test's exports, the memory samples of every window it closed, and the answers of the burst and
// the saturation probe, each list at most evidence.MaxSeriesPoints long (thinned evenly). Every
// offset is from the moment Load began; an export's is its offset in the load test plus when the
// test was started, which is a little before its first request (goroutines starting). Nil before
// Load ran; a list the target or the run could not produce is empty.
func (r *Run) Series() *evidence.Series {
	if r.seriesStart.IsZero() {
		return nil
	}
	since := func(t time.Time) time.Duration { return t.Sub(r.seriesStart) }
	s := &evidence.Series{Start: r.seriesStart.UTC()}
	if r.load != nil {
		base := since(r.loadStart)
		for _, x := range r.load.Samples {
			rate, _ := x.StreamRate()
			s.Exports = append(s.Exports, evidence.ExportPoint{Format: x.Format, Offset: base + x.Offset, FirstByte: x.FirstByte,
				Latency: x.Latency, Bytes: x.Bytes, Rate: rate, OK: x.Failure == ""})
		}
	}
	for _, w := range r.windows {
		s.Windows = append(s.Windows, evidence.Span{Label: w.label, Start: since(w.Start), End: since(w.End)})
		for _, m := range w.Series {
			s.Memory = append(s.Memory, evidence.MemoryPoint{At: since(m.At), AnonBytes: m.AnonBytes, FileBytes: m.FileBytes})
		}
	}
	answers := func(probe string, start time.Time, as []load.Answer) {
		for _, a := range as {
			s.Answers = append(s.Answers, evidence.Answer{Probe: probe, At: since(start) + a.At, Status: a.Status})
		}
	}
	if !r.burst.Start.IsZero() {
		answers(evidence.ProbeBurst, r.burst.Start, r.burst.Answers)
	}
	if r.saturated != nil {
		answers(evidence.ProbeSaturation, r.saturated.Start, r.saturated.Answers)
	}
	s.Exports = evidence.ThinPoints(s.Exports, evidence.MaxSeriesPoints)
	s.Memory = evidence.ThinPoints(s.Memory, evidence.MaxSeriesPoints)
	s.Answers = evidence.ThinPoints(s.Answers, evidence.MaxSeriesPoints)
	return s
}

// A1 judges completeness over every verified export of the run.
func (r *Run) A1() evidence.Check {
	if r.tally.CSV.Exports == 0 {
		return skipped("A1", "complete", "exports to judge")
	}
	return assert.A1(r.cfg.Thresholds, r.tally.CSV, r.tally.PDF)
}

// A2 judges well-formedness over every verified export of the run.
func (r *Run) A2() evidence.Check {
	if r.tally.CSV.Exports == 0 {
		return skipped("A2", "well-formed", "exports to judge")
	}
	return assert.A2(r.cfg.Thresholds, r.tally.CSV, r.tally.PDF)
}

// A3 judges the load test's speed, and for a deployment of replicas that each served a share.
func (r *Run) A3() evidence.Check {
	if r.load == nil {
		return skipped("A3", "fast", "the load result")
	}
	return r.withShares(assert.A3(r.cfg.Thresholds, *r.load))
}

// A4 judges the memory the target's sampler measured.
func (r *Run) A4() evidence.Check {
	if !r.memoryOK {
		return skipped("A4", "bounded", "the memory measurements")
	}
	return assert.A4(r.cfg.Thresholds, r.memory)
}

// A5 judges protection: the run's answers, the burst, the stalled reader, and the target's
// restarts and logs where it shows them.
func (r *Run) A5(ctx context.Context) evidence.Check {
	if r.saturated == nil {
		return skipped("A5", "protected", "the burst and saturation probes")
	}
	p := assert.Protection{Tally: r.tally, Burst: r.burst}
	if r.endings != nil && r.endings.Stalled.Started() && !r.endings.StalledCut {
		p.Unprotected = append(p.Unprotected, "a reader that stalled past the write timeout was not cut off")
	}
	if rs, ok := r.cfg.Target.(target.Restarter); ok {
		state, err := rs.Restarts(ctx)
		if err != nil {
			return failed("A5", "protected", fmt.Errorf("reading the exporter's restarts: %w", err))
		}
		p.RestartsObservable = true
		p.Restarts = state.RestartCount
		if state.Exited {
			p.Restarts++
		}
	}
	if lg, ok := r.cfg.Target.(target.Logger); ok {
		logs, err := lg.Logs(ctx)
		if err != nil {
			return failed("A5", "protected", fmt.Errorf("reading the exporter's logs: %w", err))
		}
		p.LogsObservable = true
		p.Panics = Panics(logs)
	}
	return assert.A5(r.cfg.Thresholds, p)
}

// A6 judges observability: the metrics and their reconciliation with what the run counted.
func (r *Run) A6() evidence.Check {
	if !r.afterTaken {
		return skipped("A6", "observable", "the metric scrape after the run")
	}
	stored := map[string]int{}
	for _, ds := range r.datasets {
		ids := map[int64]bool{}
		for _, rec := range ds.records {
			ids[rec.ID] = true
		}
		stored[ds.name] = len(ids)
	}
	return assert.A6(r.cfg.Thresholds, assert.Observability{Before: r.before, After: r.after,
		Tally: r.tally, Manifests: r.manifests, Stored: stored, Omit: r.cfg.Omit})
}

// All runs every step and assertion in order and returns their checks, for callers that are not
// a Ginkgo suite (the self-tests).
func (r *Run) All(ctx context.Context) []evidence.Check {
	checks := []evidence.Check{r.Seed(ctx), r.Smoke(ctx), r.Load(ctx), r.A1(), r.A2(), r.A3(), r.A4(), r.A5(ctx), r.A6()}
	for _, id := range FaultChecks(r.cfg.Target) {
		switch id {
		case ReplicaKilledID:
			checks = append(checks, r.ReplicaKilled(ctx))
		case DatabaseRestartID:
			checks = append(checks, r.DatabaseRestart(ctx))
		}
	}
	return checks
}
