// Package assert holds the six acceptance assertions A1–A6 (docs/design.md) as plain functions: each
// takes what the harness measured and the thresholds (data, see evidence.LoadThresholds) and
// returns an evidence.Check with every measured value and the rule it was judged by.
//
// A check that had nothing to judge (no export verified, no memory sampled) is NOT RUN, never
// passed; a defect found without a dedicated measure (ids out of order, a series that cannot be
// reconciled) is a failure line, which fails the check. A judged measure whose rule is missing
// from the thresholds fails its check too, so a typo or a dropped rule can never pass silently;
// only informational measures (other percentiles, throughputs, counts) may go without a rule.
package assert

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/harness/seed"
)

// Thresholds maps measure names to rules, as evidence.LoadThresholds returns them.
type Thresholds = map[string]evidence.Rule

// maxDetails bounds the explanation lines of one kind a failed check carries.
const maxDetails = 12

// builder collects one check's measures, hard failures and explanations.
type builder struct {
	th       Thresholds
	measures []evidence.Measure
	failures []string // each fails the check
	details  []string // explain a failed measure; attached only when the check failed
	notes    []string // qualify the measures, whatever the status
	notRun   string   // why the check could not be judged
}

func (b *builder) note(s string) { b.notes = append(b.notes, s) }

// measure records a judged measure; without a rule for name the check fails.
func (b *builder) measure(name string, v float64, unit string) {
	if _, ok := b.th[name]; !ok {
		b.fail("no threshold for %s", name)
	}
	b.measures = append(b.measures, evidence.Judge(b.th, name, v, unit))
}

// info records an informational measure, judged only if the thresholds happen to hold a rule for it.
func (b *builder) info(name string, v float64, unit string) {
	b.measures = append(b.measures, evidence.Judge(b.th, name, v, unit))
}

func (b *builder) fail(format string, args ...any) {
	b.failures = append(b.failures, fmt.Sprintf(format, args...))
}

// explain adds up to maxDetails lines of one kind of explanation.
func (b *builder) explain(lines ...string) {
	b.details = append(b.details, lines[:min(len(lines), maxDetails)]...)
}

func (b *builder) check(id, title string) evidence.Check {
	c := evidence.NewCheck(id, title, b.measures, b.failures)
	c.Notes = b.notes
	if c.Status == evidence.StatusFailed {
		c.Failures = append(c.Failures, b.details...)
		if len(c.Failures) == 0 {
			for _, m := range c.Measures {
				if !m.Pass && m.Rule != nil {
					c.Failures = append(c.Failures, fmt.Sprintf("%s = %v %s breaks %s %v", m.Name, m.Value, m.Unit, m.Rule.Op, m.Rule.Value))
				}
			}
		}
		return c
	}
	if b.notRun != "" {
		c.Status = evidence.StatusNotRun
		c.Failures = append(c.Failures, b.notRun)
	}
	return c
}

// A1 judges completeness: every seeded record exactly once in the CSV exports, every field equal to
// the seed (formula guard inverted, and applied exactly), and Content-Digest and Export-Rows
// present and right on every CSV and PDF export.
//
// When every CSV body arrived whole and exact but none carried a trailer (see
// export.CSVTotals.TrailersStripped), the check still fails, since no client could have verified
// those exports, and a note names the likely cause: an intermediary that drops HTTP trailers,
// not the exporter.
func A1(th Thresholds, csv export.CSVTotals, pdf export.PDFTotals) evidence.Check {
	b := &builder{th: th}
	b.measure("a1.missing_rows", float64(csv.Missing), "rows")
	b.measure("a1.duplicate_rows", float64(csv.Duplicates), "rows")
	b.measure("a1.mismatched_fields", float64(csv.Mismatched), "fields")
	b.measure("a1.trailer_mismatches", float64(csv.IntegrityMismatches+pdf.IntegrityMismatches), "exports")
	b.info("a1.csv_exports", float64(csv.Exports), "exports")
	if csv.Unexpected > 0 {
		b.fail("%d CSV rows carry an id that was never seeded", csv.Unexpected)
	}
	if csv.OutOfOrder > 0 {
		b.fail("%d CSV rows are out of ascending id order", csv.OutOfOrder)
	}
	if csv.Exports == 0 {
		b.notRun = "no CSV export was received to judge"
	}
	if csv.TrailersStripped() {
		b.note(fmt.Sprintf("trailers stripped by an intermediary: %d of %d CSV bodies complete and exact, "+
			"trailers missing on every export (a proxy that drops HTTP trailers, e.g. nginx < 1.27.2); "+
			"the exporter's bodies are right, but no client can verify them on this path", csv.Exact, csv.Exports))
	}
	b.explain(csv.Examples...)
	b.explain(pdf.Examples...)
	return b.check("A1", "complete")
}

// A2 judges well-formedness: CSV parses as strict RFC 4180 with the declared header and CRLF line
// ends; PDFs validate, have the expected pages with a right "Page N of M" footer each, the header
// on every page, and every id once in ascending order; every export carries the right
// Content-Type and Content-Disposition: attachment with a filename.
func A2(th Thresholds, csv export.CSVTotals, pdf export.PDFTotals) evidence.Check {
	b := &builder{th: th}
	b.measure("a2.csv_parse_errors", float64(csv.ParseErrors), "errors")
	b.measure("a2.pdf_invalid", float64(pdf.Invalid), "documents")
	b.measure("a2.pdf_page_mismatch", float64(pdf.PageMismatch), "documents")
	b.measure("a2.pdf_missing_ids", float64(pdf.MissingIDs), "ids")
	b.measure("a2.pdf_header_missing_pages", float64(pdf.TableHeaderMissing), "pages")
	b.measure("a2.content_header_mismatches", float64(csv.ContentHeaderMismatches+pdf.ContentHeaderMismatches), "exports")
	b.info("a2.pdf_exports", float64(pdf.Exports), "documents")
	switch {
	case csv.Exports == 0 && pdf.Exports == 0:
		b.notRun = "no CSV or PDF export was received to judge"
	case csv.Exports == 0:
		b.notRun = "no CSV export was received to judge"
	case pdf.Exports == 0:
		b.notRun = "no PDF export was received to judge"
	}
	b.explain(csv.Examples...)
	b.explain(pdf.Examples...)
	return b.check("A2", "well-formed")
}

// A3 judges speed under the load run, as the timed path measured it (the client only read the
// bodies; verification came afterwards): CSV and PDF p95 latency, CSV p95 first-byte latency, the
// median CSV streaming rate, CSV rows per second, and zero failed exports. The other percentiles,
// throughputs and the instrument's ceiling are information; a run that came within
// load.BoundFraction of the ceiling carries a note that it was bound by the instrument.
func A3(th Thresholds, r load.Result) evidence.Check {
	b := &builder{th: th}
	const mib = 1 << 20
	b.measure("a3.csv_p95_seconds", r.CSV.Latency.P95, "s")
	b.measure("a3.pdf_p95_seconds", r.PDF.Latency.P95, "s")
	b.measure("a3.csv_first_byte_p95_seconds", r.CSV.FirstByte.P95, "s")
	b.measure("a3.csv_stream_p50_mib_per_second", r.CSV.StreamRate.P50/mib, "MiB/s")
	b.measure("a3.csv_rows_per_second", r.CSVRowsPerSecond, "rows/s")
	b.measure("a3.failed_exports", float64(r.Failed), "exports")
	for _, f := range []struct {
		name string
		fr   load.FormatResult
	}{{"csv", r.CSV}, {"pdf", r.PDF}} {
		for _, d := range []struct {
			name, unit string
			scale      float64
			d          load.Distribution
		}{{"latency", "s", 1, f.fr.Latency}, {"first_byte", "s", 1, f.fr.FirstByte}, {"stream", "MiB/s", mib, f.fr.StreamRate}} {
			for _, p := range []struct {
				name string
				v    float64
			}{{"p5", d.d.P5}, {"p50", d.d.P50}, {"p95", d.d.P95}, {"p99", d.d.P99}} {
				name := fmt.Sprintf("a3.%s_%s_%s", f.name, d.name, p.name)
				if d.unit == "s" {
					name += "_seconds"
				} else {
					name += "_mib_per_second"
				}
				if !slices.ContainsFunc(b.measures, func(m evidence.Measure) bool { return m.Name == name }) {
					b.info(name, p.v/d.scale, d.unit)
				}
			}
		}
	}
	b.info("a3.rows_per_second", r.RowsPerSecond, "rows/s")
	b.info("a3.mib_per_second", r.MiBPerSecond, "MiB/s")
	b.info("a3.requests", float64(r.Requests), "exports")
	if c := r.Ceiling; c != nil {
		b.info("a3.ceiling_mib_per_second", c.MiBPerSecond, "MiB/s")
		b.info("a3.ceiling_rows_per_second", c.RowsPerSecond, "rows/s")
		b.info("a3.ceiling_csv_stream_p50_mib_per_second", c.CSV.StreamRate.P50/mib, "MiB/s")
		b.info("a3.fraction_of_ceiling", c.Fraction, "ratio")
		b.info("a3.csv_stream_fraction_of_ceiling", c.CSVStreamFraction, "ratio")
		if c.InstrumentBound {
			b.note(fmt.Sprintf("bound by the instrument, not the exporter: the exporter reached %.0f%% of the harness's own ceiling "+
				"(%.1f of %.1f MiB/s; median CSV stream %.0f%% of the replay's), so its figures are lower bounds",
				100*c.Fraction, r.MiBPerSecond, c.MiBPerSecond, 100*c.CSVStreamFraction))
		}
	}
	switch {
	case r.CSV.OK == 0:
		b.notRun = "no CSV export of the load run succeeded, so there is no CSV latency to judge"
	case r.PDF.OK == 0:
		b.notRun = "no PDF export of the load run succeeded, so there is no PDF latency to judge"
	case r.CSV.StreamRate.Count == 0:
		b.notRun = fmt.Sprintf("no CSV export of the load run was large enough (%d bytes) to time its streaming rate", load.MinRateBytes)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		b.explain(fmt.Sprintf("%d failed exports: %s", r.Errors[k], k))
	}
	b.explain(r.Examples...)
	return b.check("A3", "fast")
}

// Memory is what the target's sampler measured, in bytes.
//
// The judged figures are anonymous memory (target.MemoryWindow.PeakBytes): what the exporter
// allocated itself, which grows when it holds an export instead of streaming it. File-backed
// pages (its binary, a store it maps) are the kernel's to drop and refill; they are information.
type Memory struct {
	PeakExternal float64 // highest anonymous memory measured from outside the exporter (/proc, container stats) during the run
	// PeakExternalFile is the highest file-backed figure measured from outside
	// (target.MemoryWindow.PeakFileBytes: a process's resident file and shared pages, a
	// container's page cache); 0 when not measured. Information, and the upper end of the
	// cross-check with ProcessResident.
	PeakExternalFile float64
	PeakDuringSmall  float64 // anonymous peak while a small CSV export ran
	PeakDuringLarge  float64 // anonymous peak while a large CSV export ran
	// SmallBytes and LargeBytes are the body sizes of one small and one large export: the growth
	// between the two peaks is judged per byte of extra export, so a baseline of a few MiB (a
	// container's anonymous memory) or a few dozen (a process's RSS) does not change the verdict.
	SmallBytes, LargeBytes float64
	// ProcessResident is the highest process_resident_memory_bytes from /metrics during the
	// run: every resident page of the process, file-backed ones included.
	ProcessResident float64
	// SmallSamples and LargeSamples are the samples taken in the small and the large export's
	// window (target.MemoryWindow.Samples): a peak of fewer than two is stale or a single point.
	SmallSamples, LargeSamples int
}

// residentOutside is how far the process's own resident memory lies outside what was measured
// from outside it, as a ratio of at least 1. Its anonymous memory is part of its resident pages
// and anonymous plus file-backed memory covers them (a container's page cache may hold more
// than the process maps), so a healthy measurement gives 1, and peaks sampled at other moments
// a little more. The upper end counts only when the file figure was measured.
func residentOutside(m Memory) float64 {
	lo, hi := m.PeakExternal, m.PeakExternal+m.PeakExternalFile
	switch {
	case m.ProcessResident < lo:
		return lo / m.ProcessResident
	case m.PeakExternalFile > 0 && m.ProcessResident > hi:
		return m.ProcessResident / hi
	}
	return 1
}

// A4 judges boundedness on anonymous memory: its peak within budget, no growth in proportion to
// the export size (large-export peak over small-export peak, judged only on windows of two
// samples or more), and the outside measurement consistent with the process's own resident
// memory (a4.rss_crosscheck_ratio: anonymous memory no more than its resident pages, anonymous
// plus file-backed memory no less, within the ratio). File pages and the resident figure are
// information.
func A4(th Thresholds, m Memory) evidence.Check {
	b := &builder{th: th}
	if m.PeakExternal > 0 {
		b.measure("a4.peak_memory_bytes", m.PeakExternal, "bytes")
	}
	enoughSamples := m.SmallSamples >= 2 && m.LargeSamples >= 2
	sized := m.LargeBytes > m.SmallBytes && m.SmallBytes >= 0
	if m.PeakDuringSmall > 0 && m.PeakDuringLarge > 0 && enoughSamples && sized {
		// Extra peak memory per extra byte exported: about 0 when streaming, 1 or more when the
		// export is held in memory.
		b.measure("a4.memory_growth_ratio", max(0, m.PeakDuringLarge-m.PeakDuringSmall)/(m.LargeBytes-m.SmallBytes), "ratio")
	}
	b.info("a4.small_window_samples", float64(m.SmallSamples), "samples")
	b.info("a4.large_window_samples", float64(m.LargeSamples), "samples")
	if m.PeakExternalFile > 0 {
		b.info("a4.peak_file_bytes", m.PeakExternalFile, "bytes")
	}
	if m.ProcessResident > 0 {
		b.info("a4.process_resident_bytes", m.ProcessResident, "bytes")
	}
	if m.PeakExternal > 0 && m.ProcessResident > 0 {
		b.measure("a4.rss_crosscheck_ratio", residentOutside(m), "ratio")
	}
	switch {
	case m.PeakExternal == 0:
		b.notRun = "no memory measured from outside the exporter (the target does not allow it); " +
			"process_resident_memory_bytes counts file pages too and is not judged"
	case m.ProcessResident == 0:
		b.notRun = "no process_resident_memory_bytes to cross-check the outside measurement"
	case m.PeakDuringSmall == 0 || m.PeakDuringLarge == 0:
		b.notRun = "no memory peaks for the small and the large export"
	case !sized:
		b.notRun = "no export sizes for the small and the large export (the large must be the bigger)"
	case !enoughSamples:
		b.notRun = fmt.Sprintf("too few samples in the memory window (small export: %d, large export: %d; want 2 or more each)",
			m.SmallSamples, m.LargeSamples)
	}
	return b.check("A4", "bounded")
}

// Protection is what A5 judges.
type Protection struct {
	Tally    export.Tally     // every export answer of the run, the burst and saturation probes' included
	Burst    load.BurstResult // for the RateLimit and RateLimit-Policy headers of its 429s
	Restarts int              // exporter restarts seen by the target
	Panics   []string         // log lines that show a panic
	// Unprotected are protections the probes found missing, e.g. a stalled reader not cut off.
	Unprotected []string
	// RestartsObservable and LogsObservable say whether the target could report restarts and
	// logs at all; without them Restarts and Panics are not measured zeros, and A5 is NOT RUN.
	RestartsObservable, LogsObservable bool
}

// A5 judges protection: over-limit and over-capacity requests answered 429 and 503 with a valid
// Retry-After (the 429s also with RateLimit and RateLimit-Policy of the documented shape), and
// both actually happened; zero other 5xx; no restart; no panic in the logs.
func A5(th Thresholds, p Protection) evidence.Check {
	b := &builder{th: th}
	c := p.Tally
	b.measure("a5.rate_limited_without_retry_after", float64(c.NoRetryAfter[http.StatusTooManyRequests]), "responses")
	b.measure("a5.saturated_without_retry_after", float64(c.NoRetryAfter[http.StatusServiceUnavailable]), "responses")
	b.measure("a5.rate_limited_responses", float64(c.Status[http.StatusTooManyRequests]), "responses")
	b.measure("a5.saturated_responses", float64(c.Status[http.StatusServiceUnavailable]), "responses")
	b.measure("a5.server_errors", float64(c.ServerErrors()), "responses")
	var unobservable []string
	if p.RestartsObservable {
		b.measure("a5.restarts", float64(p.Restarts), "restarts")
	} else {
		unobservable = append(unobservable, "restarts")
	}
	if p.LogsObservable {
		b.measure("a5.panics_in_logs", float64(len(p.Panics)), "lines")
	} else {
		unobservable = append(unobservable, "logs")
	}
	if len(unobservable) > 0 {
		b.notRun = "the target does not let the harness observe the exporter's " + strings.Join(unobservable, " or ")
	}
	bad := false
	if n := p.Burst.RateLimited - p.Burst.WithRateLimit; n > 0 {
		b.fail(`%d of the burst's 429 answers lack a valid RateLimit header ("<name>";r=<int>;t=<int>)`, n)
		bad = true
	}
	if n := p.Burst.RateLimited - p.Burst.WithRateLimitPolicy; n > 0 {
		b.fail(`%d of the burst's 429 answers lack a valid RateLimit-Policy header ("<name>";q=<int>;w=<int>)`, n)
		bad = true
	}
	if h := p.Burst.Example; h != nil && (bad || c.NoRetryAfter[http.StatusTooManyRequests] > 0) {
		b.explain(fmt.Sprintf("first 429 of the burst: Retry-After: %q, RateLimit: %q, RateLimit-Policy: %q",
			h.Get("Retry-After"), h.Get("RateLimit"), h.Get("RateLimit-Policy")))
	}
	for _, s := range slices.Sorted(maps.Keys(c.Status)) {
		if s >= 500 && s != http.StatusServiceUnavailable {
			b.explain(fmt.Sprintf("%d answers HTTP %d", c.Status[s], s))
		}
	}
	for _, u := range p.Unprotected {
		b.fail("%s", u)
	}
	b.explain(p.Panics...)
	return b.check("A5", "protected")
}

// Observability is what A6 judges: two scrapes around the run and what the harness itself did
// between them.
type Observability struct {
	Before, After metrics.Snapshot // After taken once no export is in flight (metrics.WaitIdle)
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

// A6 judges observability: the nine metrics exposed with HELP and TYPE (and their label sets
// initialised), a lint-clean exposition, and metric deltas that reconcile with what the harness
// counted. Rows and bytes count only exports that ended ok, so they are compared exactly: the
// rows and bytes of an export that was cut short (abandoned, stalled) must not be in them. Rows
// are a lower bound only when a received body could not be parsed to count them.
func A6(th Thresholds, o Observability) evidence.Check {
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
	return b.check("A6", "observable")
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
