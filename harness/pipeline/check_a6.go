package pipeline

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/harness/seed"
)

// measureObservability is the two scrapes around the run and what the harness did between them.
func measureObservability(_ context.Context, r *Run) (Observability, error) {
	if !r.afterTaken {
		return Observability{}, missing("the metric scrape after the run")
	}
	stored := map[string]int{}
	for _, ds := range r.datasets {
		ids := map[int64]bool{}
		for _, rec := range ds.records {
			ids[rec.ID] = true
		}
		stored[ds.name] = len(ids)
	}
	return Observability{Before: r.before, After: r.after, Tally: r.tally, Manifests: r.manifests,
		Stored: stored, Omit: r.cfg.Omit}, nil
}

// Observability is what A6 judges: two scrapes around the run and what the harness itself did
// between them.
type Observability struct {
	Before, After metrics.Snapshot // After taken once no export is in flight (Run.scrapeIdle)
	Tally         export.Tally     // every export request between the scrapes
	Manifests     []seed.Manifest  // every seeding between the scrapes (records confirmed, 429s met)
	// Stored maps each seeded dataset to the records it must hold after the run (distinct ids),
	// checked exactly against exporter_store_records in After.
	Stored map[string]int
	// Omit names metric series (e.g. "exporter_export_rows_total") left out of the reconciliation.
	// Only the harness's self-tests set it, to show that each reconciliation is what catches its
	// broken fake; the suite never does.
	Omit []string
}

// judgeA6 judges observability: the nine metrics exposed with HELP and TYPE (and their label sets
// initialised), a lint-clean exposition, and metric deltas that reconcile with what the harness
// counted. Rows and bytes count only exports that ended ok, so they are compared exactly: the
// rows and bytes of an export that was cut short (abandoned, stalled) must not be in them. Rows
// are a lower bound only when a received body could not be parsed to count them.
func judgeA6(th Thresholds, o Observability) evidence.Check {
	b := &builder{th: th}
	missing := metrics.Missing(o.After)
	b.measure("a6.missing_metrics", float64(len(missing)), "metrics")
	b.explain(missing...)
	lint, err := metrics.Lint(o.After.Raw)
	if err != nil {
		b.fail("%v", err)
	}
	b.measure("a6.lint_problems", float64(len(lint)), "problems")
	b.explain(lint...)
	unreconciled := Reconcile(o)
	b.measure("a6.unreconciled", float64(len(unreconciled)), "values")
	b.explain(unreconciled...)
	if len(o.After.Samples) == 0 {
		b.notRun = "no metrics scrape after the run"
	}
	return b.check()
}

// Reconcile compares the metric deltas between o.Before and o.After with what the harness counted
// (exports by format and outcome, rows, bytes, histogram counts, rejections by reason, ingested
// records), and the stored records in o.After with o.Stored; one line per disagreement, naming
// the series, its value and the harness's count.
func Reconcile(o Observability) []string {
	d := metrics.Delta(o.Before, o.After)
	c := o.Tally
	var out []string
	cmp := func(name string, labels []string, want float64, lowerBound bool) {
		if slices.Contains(o.Omit, name) {
			return
		}
		got, ok := d.Get(name, labels...)
		key := metrics.Series(name, pairMap(labels))
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: series missing, harness counted %v", key, want))
		case lowerBound && got < want:
			out = append(out, fmt.Sprintf("%s: delta %v, harness received at least %v", key, got, want))
		case !lowerBound && got != want:
			out = append(out, fmt.Sprintf("%s: delta %v, harness counted %v", key, got, want))
		}
	}
	for _, f := range []string{export.CSV, export.PDF} {
		cmp("exporter_exports_total", []string{"format", f, "outcome", "ok"}, float64(c.Completed[f]), false)
		cmp("exporter_exports_total", []string{"format", f, "outcome", "aborted"}, float64(c.Cut[f]), false)
		cmp("exporter_exports_total", []string{"format", f, "outcome", "client_error"}, float64(c.ClientError[f]), false)
		cmp("exporter_exports_total", []string{"format", f, "outcome", "server_error"}, float64(c.ServerError[f]), false)
		cmp("exporter_export_rows_total", []string{"format", f}, float64(c.Rows[f]), c.Uncounted[f] > 0)
		cmp("exporter_export_bytes_total", []string{"format", f}, float64(c.Bytes[f]), false)
		// Every export is timed, whatever its outcome; only a started one has a first byte.
		cmp("exporter_export_duration_seconds_count", []string{"format", f},
			float64(c.Started[f]+c.ClientError[f]+c.ServerError[f]), false)
		cmp("exporter_export_first_byte_seconds_count", []string{"format", f}, float64(c.Started[f]), false)
		if v, ok := o.After.Samples.Get("exporter_exports_in_flight", "format", f); ok && v != 0 {
			out = append(out, fmt.Sprintf("exporter_exports_in_flight{format=%q}: %v after the run, want 0", f, v))
		}
	}
	ingested, ingest429 := map[seed.Mode]int{}, 0
	for _, m := range o.Manifests {
		ingested[m.Mode] += m.Rows
		ingest429 += m.RateLimited
	}
	cmp("exporter_requests_rejected_total", []string{"reason", "rate_limited"},
		float64(c.Status[http.StatusTooManyRequests]+ingest429), false)
	cmp("exporter_requests_rejected_total", []string{"reason", "saturated"}, float64(c.Status[http.StatusServiceUnavailable]), false)
	cmp("exporter_requests_rejected_total", []string{"reason", "too_large"}, float64(c.Status[http.StatusRequestEntityTooLarge]), false)
	cmp("exporter_requests_rejected_total", []string{"reason", "unauthorized"},
		float64(c.Status[http.StatusUnauthorized]+c.Status[http.StatusForbidden]), false)
	for _, m := range []seed.Mode{seed.ModeSingle, seed.ModeBatch} {
		cmp("exporter_ingest_records_total", []string{"mode", string(m), "outcome", "ok"}, float64(ingested[m]), false)
	}
	uncounted := map[string]bool{}
	for _, m := range o.Manifests {
		if _, ok := o.Stored[m.Dataset]; !ok && !uncounted[m.Dataset] {
			uncounted[m.Dataset] = true
			out = append(out, metrics.Series("exporter_store_records", map[string]string{"dataset": m.Dataset})+
				": seeded, but the harness passed no record count to check")
		}
	}
	for _, ds := range slices.Sorted(maps.Keys(o.Stored)) {
		want := float64(o.Stored[ds])
		key := metrics.Series("exporter_store_records", map[string]string{"dataset": ds})
		switch got, ok := o.After.Samples.Get("exporter_store_records", "dataset", ds); {
		case !ok:
			out = append(out, fmt.Sprintf("%s: series missing after the run, harness seeded %v records", key, want))
		case got != want:
			out = append(out, fmt.Sprintf("%s: %v after the run, harness seeded %v records", key, got, want))
		}
	}
	return out
}

func pairMap(labels []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		m[labels[i]] = labels[i+1]
	}
	return m
}

var a6Check = define(Def{ID: "A6", Title: "observable",
	Spec:    "observable: the nine metrics exist, lint clean and reconcile with the harness",
	Labels:  []string{"assert", "A6"},
	Applies: needs(func(c Capabilities) bool { return c.API().Metrics }, "the profile maps none of the API's metrics")}, measureObservability, judgeA6)
