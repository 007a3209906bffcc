package scenarios_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
)

// The run, in order: each step feeds the next, and every assertion runs even when another failed.
var _ = Describe("Export acceptance", Ordered, ContinueOnFailure, func() {
	It("seed realistic trades in single and batch modes", Label("seed"), stepSeed, NodeTimeout(4*time.Minute))
	It("smoke exports 1k rows as CSV and PDF, each fully verified", Label("smoke"), stepSmoke, NodeTimeout(2*time.Minute))
	It("load exports 10k rows concurrently, then bursts past the rate limit and saturates the capacity", Label("load"), stepLoad, NodeTimeout(5*time.Minute))

	It("A1 complete: every seeded record exactly once, every field equal, trailers right", Label("assert", "A1"), assertA1)
	It("A2 well-formed: RFC 4180 CSV with the declared header, valid paginated PDF", Label("assert", "A2"), assertA2)
	It("A3 fast: latency percentiles and throughput within thresholds, no failed export", Label("assert", "A3"), assertA3)
	It("A4 bounded: peak memory within budget and flat in the export size", Label("assert", "A4"), assertA4)
	It("A5 protected: 429 and 503 with Retry-After, no 5xx, no restart, no panic", Label("assert", "A5"), assertA5, NodeTimeout(time.Minute))
	It("A6 observable: the nine metrics exist, lint clean and reconcile with the harness", Label("assert", "A6"), assertA6)
})
