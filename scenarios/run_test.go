package scenarios_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/assert"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/harness/seed"
	"github.com/exportatscale/exportatscale/harness/target"
)

// runState is what the steps measured, handed from step to step and to the evidence.
type runState struct {
	started    time.Time
	root       string
	env        evidence.Environment
	thresholds map[string]evidence.Rule
	target     target.Target

	http    *http.Client
	seeder  *seed.Client
	exports *export.Client
	schema  seed.Schema

	datasets      map[string]*dataset // smoke, load, large
	before, after metrics.Snapshot
	afterTaken    bool
	manifests     []seed.Manifest

	counts    export.Counts // every export request between the two scrapes
	csv       export.CSVTotals
	pdf       export.PDFTotals
	load      *load.Result
	burst     load.BurstResult
	saturated *load.SaturationResult
	memory    assert.Memory
	memoryOK  bool

	checks map[string]evidence.Check
	extras map[string][]byte
}

type dataset struct {
	name    string
	records []seed.Record
	csv     *export.Expected
	pdf     *export.Expected
}

func newRunState() *runState {
	return &runState{datasets: map[string]*dataset{}, checks: map[string]evidence.Check{}, extras: map[string][]byte{}}
}

func (r *runState) connect(baseURL, token string) {
	r.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	r.seeder = &seed.Client{BaseURL: baseURL, Token: token, HTTP: r.http, Progress: progressPrinter()}
	r.exports = &export.Client{BaseURL: baseURL, Token: token, HTTP: r.http}
	r.schema = seed.Trades()
}

// require skips the spec when an earlier step did not produce what it judges: not run, never passed.
func (r *runState) require(what string, ok bool) {
	GinkgoHelper()
	if !ok {
		Skip(what + " is missing: an earlier step did not complete, so this cannot be judged")
	}
}

// progressPrinter shows seeding progress (records/s, ETA) about once a second.
func progressPrinter() func(seed.Progress) {
	var last time.Time
	return func(p seed.Progress) {
		if time.Since(last) < time.Second && p.Done < p.Total {
			return
		}
		last = time.Now()
		GinkgoWriter.Printf("  seeded %d/%d records, %.0f records/s, ETA %s\n", p.Done, p.Total, p.RecordsPerSecond, p.ETA.Round(100*time.Millisecond))
	}
}

var nameUnsafe = regexp.MustCompile(`[^a-z0-9_-]`)

// datasetName makes a dataset name unique to this run, so runs against a shared deployment never
// mix their records.
func datasetName(kind string) string {
	return kind + "-" + nameUnsafe.ReplaceAllString(strings.ToLower(opts.RunID), "")
}

// seedDataset creates one dataset and loads n generated records; the first `single` of them one
// request each (concurrently), the rest in NDJSON batches.
func (r *runState) seedDataset(ctx context.Context, kind string, n int, seedValue uint64, single, chunk int) *dataset {
	GinkgoHelper()
	ds := &dataset{name: datasetName(kind), records: seed.Generate(seedValue, n, 1)}
	created, err := r.seeder.CreateDataset(ctx, ds.name, r.schema)
	Expect(err).NotTo(HaveOccurred(), "creating dataset %s", ds.name)
	Expect(created).To(BeTrue(), "dataset %s must be new", ds.name)
	single = min(single, n)
	jobs := []seed.Job{{Dataset: ds.name, Schema: r.schema, Seed: seedValue, Records: ds.records[:single], Mode: seed.ModeSingle, Concurrency: 8},
		{Dataset: ds.name, Schema: r.schema, Seed: seedValue, Records: ds.records[single:], Mode: seed.ModeBatch, ChunkSize: chunk}}
	for _, job := range jobs {
		if len(job.Records) == 0 {
			continue
		}
		By(fmt.Sprintf("seeding %d records into %s (%s mode)", len(job.Records), ds.name, job.Mode))
		m, err := r.seeder.Seed(ctx, job)
		r.manifests = append(r.manifests, m)
		Expect(err).NotTo(HaveOccurred(), "seeding %s", ds.name)
		AddReportEntry(fmt.Sprintf("seeded %s (%s)", ds.name, job.Mode), fmt.Sprintf("%d records, %.0f records/s, %d requests, %d rate-limited",
			m.Rows, m.RecordsPerSecond, m.Requests, m.RateLimited))
	}
	ds.csv, err = export.NewExpected(ds.name, r.schema, ds.records, export.Options{})
	Expect(err).NotTo(HaveOccurred())
	ds.pdf = ds.csv
	r.datasets[kind] = ds
	return ds
}

// verifyCSV fetches and fully verifies one CSV export, counting it for A1, A2, A5 and A6.
func (r *runState) verifyCSV(ctx context.Context, exp *export.Expected) export.CSVReport {
	rep := r.exports.CSV(ctx, exp)
	r.counts.AddCSV(rep)
	r.csv.Add(rep)
	return rep
}

func (r *runState) verifyPDF(ctx context.Context, exp *export.Expected) export.PDFReport {
	rep := r.exports.PDF(ctx, exp)
	r.counts.AddPDF(rep)
	r.pdf.Add(rep)
	return rep
}

// record keeps a step's or an assertion's check for the evidence, shows its measures in the
// report, and fails the spec when the check did not pass.
func (r *runState) record(c evidence.Check) {
	GinkgoHelper()
	r.checks[c.ID] = c
	for _, m := range c.Measures {
		rule := "informational"
		if m.Rule != nil {
			rule = fmt.Sprintf("%s %v %s", m.Rule.Op, m.Rule.Value, m.Rule.Unit)
		}
		AddReportEntry(m.Name, fmt.Sprintf("%v %s (%s, pass=%v)", m.Value, m.Unit, rule, m.Pass))
	}
	switch c.Status {
	case evidence.StatusPassed:
	case evidence.StatusNotRun, evidence.StatusSkipped:
		Skip(fmt.Sprintf("%s could not be judged: %s", c.ID, strings.Join(c.Failures, "; ")))
	default:
		Fail(fmt.Sprintf("%s %s failed:\n%s", c.ID, c.Title, strings.Join(c.Failures, "\n")))
	}
}

// info builds an informational measure (no threshold may exist under its name).
func info(name string, v float64, unit string) evidence.Measure {
	return evidence.Judge(run.thresholds, name, v, unit)
}

func jsonArtifact(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return []byte(err.Error())
	}
	return append(b, '\n')
}
