package selftest

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/assert"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/harness/seed"
)

// healthyMemory is what a sampler would report for a streaming exporter: the in-process fakes
// have no memory of their own to sample. TestMemoryGrowth measures a fake exporter process.
var healthyMemory = assert.Memory{PeakExternal: 60e6, PeakDuringSmall: 50e6, PeakDuringLarge: 52e6, ProcessResident: 58e6,
	SmallSamples: 5, LargeSamples: 12, SmallBytes: 120e3, LargeBytes: 12e6}

// limits are the fake's protections in every run: small enough that the probes trip them, large
// enough that seeding and load do not.
func limits(f fake.Faults) fake.Config {
	return fake.Config{Rate: 20, Burst: 60, MaxCSV: 3, MaxPDF: 2, PDFMaxRows: 500, Faults: f}
}

// pipeline runs the whole acceptance measurement against a fake exporter and returns the six
// checks by id.
func pipeline(t *testing.T, cfg fake.Config) map[string]evidence.Check {
	t.Helper()
	return measure(t, fake.Start(t, cfg).URL, healthyMemory)
}

// measure runs the whole acceptance measurement against the exporter at url and returns the six
// checks by id.
func measure(t *testing.T, url string, mem assert.Memory) map[string]evidence.Check {
	t.Helper()
	th, err := evidence.LoadThresholds("")
	if err != nil {
		t.Fatal(err)
	}
	th["a3.csv_rows_per_second"] = evidence.Rule{Op: ">=", Value: 1000, Unit: "rows/s"} // a shared 2-core test machine
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := func(token string) *export.Client { return &export.Client{BaseURL: url, Token: token} }

	before, err := metrics.Scrape(ctx, nil, url, "")
	if err != nil {
		t.Fatal(err)
	}
	// seed: trades in batch mode, a few in single mode, and a bulky dataset for the saturation probe.
	sc := &seed.Client{BaseURL: url, Token: "seed"}
	trades := seed.Generate(42, 300, 1)
	singles := seed.Generate(43, 30, 1001)
	bulkSchema := seed.Schema{{Name: "blob", Type: seed.TypeString}}
	var bulk []seed.Record
	for i := range 1000 {
		bulk = append(bulk, seed.Record{ID: int64(i + 1), Values: []any{strings.Repeat("=bulk, \"text\"\r\n", 1000)}})
	}
	var manifests []seed.Manifest
	for _, job := range []seed.Job{
		{Dataset: "trades", Schema: seed.Trades(), Records: trades, Mode: seed.ModeBatch, ChunkSize: 100},
		{Dataset: "trades", Schema: seed.Trades(), Records: singles, Mode: seed.ModeSingle, Concurrency: 4},
		{Dataset: "bulk", Schema: bulkSchema, Records: bulk, Mode: seed.ModeBatch, ChunkSize: 250},
	} {
		if _, err := sc.CreateDataset(ctx, job.Dataset, job.Schema); err != nil {
			t.Fatal(err)
		}
		m, err := sc.Seed(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		manifests = append(manifests, m)
	}
	all := slices.Concat(trades, singles)
	expect := func(dataset string, schema seed.Schema, recs []seed.Record, opt export.Options) *export.Expected {
		e, err := export.NewExpected(dataset, schema, recs, opt)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	full := expect("trades", seed.Trades(), all, export.Options{})

	var (
		counts    export.Counts
		csvTotals export.CSVTotals
		pdfTotals export.PDFTotals
	)
	// smoke: one CSV (with BOM) and one PDF.
	csvReport := client("smoke").CSV(ctx, expect("trades", seed.Trades(), all, export.Options{BOM: true}))
	pdfReport := client("smoke").PDF(ctx, full)
	counts.AddCSV(csvReport)
	counts.AddPDF(pdfReport)
	csvTotals.Add(csvReport)
	pdfTotals.Add(pdfReport)
	// client errors the exporter must count as exports: an unknown dataset (404), a PDF over the
	// row cap (413, also a rejection).
	counts.AddCSV(client("smoke").CSV(ctx, expect("nope", seed.Trades(), nil, export.Options{})))
	counts.AddPDF(client("smoke").PDF(ctx, expect("bulk", bulkSchema, bulk, export.Options{})))

	// load, burst, saturation.
	res, err := load.Run(ctx, load.Config{Client: client("load"), CSV: full, PDF: full, Requests: 16, Concurrency: 2, PDFShare: 0.25, PDFConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	counts.Merge(res.Counts)
	csvTotals.Merge(res.CSVTotals)
	pdfTotals.Merge(res.PDFTotals)
	burst := load.Burst(ctx, load.BurstConfig{Client: client("burst"), Requests: 100,
		Expected: expect("trades", seed.Trades(), all, export.Options{Limit: 1})})
	counts.Merge(burst.Counts)
	csvTotals.Merge(burst.CSVTotals)
	sat, err := load.Saturate(ctx, load.SaturationConfig{Client: client("saturate"), Format: export.CSV, Hold: 4, Extra: 2,
		Expected: expect("bulk", bulkSchema, bulk, export.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	counts.Merge(sat.Counts)
	csvTotals.Merge(sat.CSVTotals)

	after, err := metrics.WaitIdle(ctx, nil, url, "")
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]evidence.Check{}
	for _, c := range []evidence.Check{
		assert.A1(th, csvTotals, pdfTotals),
		assert.A2(th, csvTotals, pdfTotals),
		assert.A3(th, res),
		assert.A4(th, mem),
		// An in-process fake cannot restart unseen, and it logs nothing that could show a panic.
		assert.A5(th, assert.Protection{Counts: counts, Burst: burst, RestartsObservable: true, LogsObservable: true}),
		assert.A6(th, assert.Observability{Before: before, After: after, Counts: counts, Manifests: manifests,
			Stored: map[string]int{"trades": len(all), "bulk": len(bulk)}}),
	} {
		checks[c.ID] = c
	}
	return checks
}

// firstWith returns the id of the first generated trade whose note satisfies f.
func firstWith(f func(note string) bool) int64 {
	for _, r := range seed.Generate(42, 300, 1) {
		if f(r.Values[len(r.Values)-1].(string)) {
			return r.ID
		}
	}
	panic("no such note")
}

func TestPipeline(t *testing.T) {
	quoted := firstWith(func(n string) bool { return strings.Contains(n, `"`) && strings.Contains(n, ",") })
	tests := []struct {
		name    string
		faults  fake.Faults
		red     []string // must fail
		mayFail []string // may fail as a consequence
	}{
		{name: "healthy"},
		{name: "dropped row", faults: fake.Faults{DropID: 7}, red: []string{"A1", "A3"}},
		{name: "duplicated row", faults: fake.Faults{DuplicateID: 7}, red: []string{"A1", "A3"}},
		{name: "wrong value", faults: fake.Faults{WrongValueID: 7}, red: []string{"A1", "A3"}},
		{name: "missing formula guard", faults: fake.Faults{NoGuard: true}, red: []string{"A1", "A3"}},
		{name: "mis-quoted field", faults: fake.Faults{MisquoteID: quoted}, red: []string{"A2", "A3"}, mayFail: []string{"A1"}},
		// Cut short, the bulky exports finish before the saturation probe can hold them.
		{name: "truncated stream", faults: fake.Faults{TruncateAfter: 100}, red: []string{"A1", "A3"}, mayFail: []string{"A5"}},
		{name: "PDF missing a page", faults: fake.Faults{PDFDropPage: 2}, red: []string{"A2", "A3"}, mayFail: []string{"A1", "A6"}},
		{name: "missing metric", faults: fake.Faults{MissingMetric: "exporter_export_first_byte_seconds"}, red: []string{"A6"}},
		{name: "unreconciled metric", faults: fake.Faults{RowsSkew: 1}, red: []string{"A6"}},
		{name: "500s under load", faults: fake.Faults{ErrorEvery: 7}, red: []string{"A3", "A5"}, mayFail: []string{"A1", "A2"}},
		{name: "429 without Retry-After", faults: fake.Faults{NoRetryAfter: true}, red: []string{"A5"}},
		{name: "429 with Retry-After: soon", faults: fake.Faults{RetryAfter: "soon"}, red: []string{"A5"}},
		{name: "store records skewed", faults: fake.Faults{StoreSkew: 1}, red: []string{"A6"}},
		// Holding every export in memory breaks nothing else; TestMemoryGrowth measures it RED.
		{name: "buffered exports", faults: fake.Faults{BufferExports: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks := pipeline(t, limits(tt.faults))
			var failed []string
			for id, c := range checks {
				switch {
				case c.Status == evidence.StatusFailed:
					failed = append(failed, id)
				case c.Status != evidence.StatusPassed:
					t.Errorf("%s is %s: %q", id, c.Status, c.Failures)
				}
			}
			sort.Strings(failed)
			verdict := evidence.Decide(slices.Collect(mapValues(checks)), []string{"A1", "A2", "A3", "A4", "A5", "A6"})
			if len(tt.red) == 0 {
				if verdict != evidence.Green {
					t.Errorf("verdict %s, failed %v", verdict, describe(checks, failed))
				}
				return
			}
			if verdict != evidence.Red {
				t.Errorf("verdict %s, want RED", verdict)
			}
			for _, id := range tt.red {
				if !slices.Contains(failed, id) {
					t.Errorf("%s passed, want it failed", id)
				}
			}
			for _, id := range failed {
				if !slices.Contains(tt.red, id) && !slices.Contains(tt.mayFail, id) {
					t.Errorf("%s failed too: %q", id, checks[id].Failures)
				}
			}
			if t.Failed() {
				t.Logf("failed checks: %v", describe(checks, failed))
			}
		})
	}
}

func mapValues(m map[string]evidence.Check) func(func(evidence.Check) bool) {
	return func(yield func(evidence.Check) bool) {
		for _, c := range m {
			if !yield(c) {
				return
			}
		}
	}
}

func describe(checks map[string]evidence.Check, ids []string) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString("\n" + id + ":")
		for _, m := range checks[id].Measures {
			if !m.Pass {
				b.WriteString(" " + m.Name)
			}
		}
		for _, f := range checks[id].Failures {
			b.WriteString("\n  " + f)
		}
	}
	return b.String()
}
