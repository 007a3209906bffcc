package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/seed"
)

// seeding is what Seed measured.
type seeding struct {
	Records int
	Took    time.Duration
	// Unstorable are the generated values the API's types cannot hold as seeded, by record and
	// field: not sent, so never compared, and each a finding.
	Unstorable []string
}

// measureSeed scrapes the metrics before any traffic, then creates and fills the smoke, load,
// large and bulk datasets: the smoke set's first SmokeSingle records one request each
// (concurrently), the rest in NDJSON batches.
func measureSeed(ctx context.Context, r *Run) (seeding, error) {
	r.say("scraping /metrics before any traffic")
	before, perReplica, err := r.scrape(ctx, "before")
	if err != nil {
		return seeding{}, fmt.Errorf("scraping /metrics before any traffic: %w", err)
	}
	r.before, r.replicasBefore = before, perReplica
	r.artifacts["metrics-before.txt"] = before.Raw

	t0 := time.Now()
	total := 0
	var unstorable []string
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
		records, bad := r.storable(s.schema, s.records)
		unstorable = append(unstorable, bad...)
		ds, err := r.seedDataset(ctx, s.kind, s.schema, records, s.seed, s.single, s.chunk)
		r.artifacts["seed-manifests.json"] = jsonArtifact(r.manifests)
		if err != nil {
			return seeding{}, err
		}
		total += len(ds.records)
	}
	return seeding{Records: total, Took: time.Since(t0), Unstorable: unstorable}, nil
}

// storable are the records the API's types can hold as seeded, and what it cannot hold of the
// others, by record and field.
func (r *Run) storable(schema seed.Schema, records []seed.Record) ([]seed.Record, []string) {
	bad := r.api.Unstorable(schema, records)
	if len(bad) == 0 {
		return records, nil
	}
	drop := map[int64]bool{}
	var lines []string
	for _, b := range bad {
		drop[b.Record] = true
		lines = append(lines, b.String())
	}
	var keep []seed.Record
	for _, rec := range records {
		if !drop[rec.ID] {
			keep = append(keep, rec)
		}
	}
	return keep, lines
}

func judgeSeed(th Thresholds, s seeding) evidence.Check {
	b := &builder{th: th}
	b.info("seed.records", float64(s.Records), "records")
	b.info("seed.seconds", s.Took.Seconds(), "s")
	b.info("seed.records_per_second", float64(s.Records)/s.Took.Seconds(), "records/s")
	if len(s.Unstorable) > 0 {
		b.fail("%d generated values the API's types cannot hold as seeded (not sent, so never compared):", len(s.Unstorable))
		b.explain(s.Unstorable...)
	}
	return b.check()
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
	if !r.caps.API().Single {
		single = 0 // the API takes records in batches only
	}
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

// expectAll is expect for each of opts.
func (r *Run) expectAll(ds *dataset, opts []export.Options) ([]*export.Expected, error) {
	out := make([]*export.Expected, 0, len(opts))
	for _, o := range opts {
		e, err := r.expect(ds, o)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

var seedCheck = define(Def{ID: "seed", Title: "realistic trades seeded in single and batch modes",
	Spec: "realistic trades in single and batch modes", Labels: []string{"seed"}, Timeout: 4 * time.Minute,
	Applies: always}, measureSeed, judgeSeed)
