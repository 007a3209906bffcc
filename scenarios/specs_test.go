package scenarios_test

import (
	"slices"
	"time"

	"github.com/exportatscale/exportatscale/harness/pipeline"

	. "github.com/onsi/ginkgo/v2"
)

// The run, in order: each step feeds the next, and every assertion runs even when another failed.
// Each spec is one call into the pipeline (harness/pipeline) and the record of the check it
// returns; the self-tests call the same steps against broken fakes.
var _ = Describe("Export acceptance", Ordered, ContinueOnFailure, func() {
	It("seed realistic trades in single and batch modes", Label("seed"), func(ctx SpecContext) {
		record(run.Seed(ctx))
	}, NodeTimeout(4*time.Minute))
	It("smoke exports 1k rows as CSV and PDF with every option, each fully verified", Label("smoke"), func(ctx SpecContext) {
		record(run.Smoke(ctx))
	}, NodeTimeout(2*time.Minute))
	It("load exports 10k rows concurrently, ends some exports badly, bursts past the rate limit and saturates the capacity", Label("load"), func(ctx SpecContext) {
		record(run.Load(ctx))
	}, NodeTimeout(5*time.Minute))

	It("A1 complete: every seeded record exactly once, every field equal, trailers right", Label("assert", "A1"), func() {
		record(run.A1())
	})
	It("A2 well-formed: RFC 4180 CSV with the declared header, valid paginated PDF, right content headers", Label("assert", "A2"), func() {
		record(run.A2())
	})
	It("A3 fast: latency, first byte and streaming rate within thresholds, no failed export", Label("assert", "A3"), func() {
		record(run.A3())
	})
	It("A4 bounded: peak anonymous memory within budget and flat in the export size", Label("assert", "A4"), func() {
		record(run.A4())
	})
	It("A5 protected: 429 and 503 with Retry-After, stalled readers cut off, no 5xx, no restart, no panic", Label("assert", "A5"), func(ctx SpecContext) {
		record(run.A5(ctx))
	}, NodeTimeout(time.Minute))
	It("A6 observable: the nine metrics exist, lint clean and reconcile with the harness", Label("assert", "A6"), func() {
		record(run.A6())
	})
	It("baseline steady: no measure regressed against the --baseline run (evidence/baseline.json)", Label("baseline"), func() {
		if opts.Baseline == "" {
			Skip("no --baseline was given, so the check is not required")
		}
		record(run.Baseline(opts.Baseline, suite.checks))
	})

	// The faults, after everything above judged the deployment whole: required of a deployment
	// of replicas over its own database (the cluster target), not run against anything else.
	It("F1 replica killed: cut exports detected and resumed exactly, the proxy routes around the dead replica, which comes back", Label("fault", "F1"), func(ctx SpecContext) {
		requireFault(pipeline.ReplicaKilledID)
		record(run.ReplicaKilled(ctx))
	}, NodeTimeout(5*time.Minute))
	It("F2 database restart: nothing acknowledged lost, no batch in part, ingest back within the bound", Label("fault", "F2"), func(ctx SpecContext) {
		requireFault(pipeline.DatabaseRestartID)
		record(run.DatabaseRestart(ctx))
	}, NodeTimeout(5*time.Minute))
})

// requireFault skips a fault spec the target cannot be put through; such a check is not required.
func requireFault(id string) {
	if suite.target == nil || !slices.Contains(pipeline.FaultChecks(suite.target), id) {
		Skip(id + ": the target is not a deployment of replicas over its own database, so the check is not required")
	}
}
