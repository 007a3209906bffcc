package pipeline

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/api"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/memory"
	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/harness/seed"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

func TestA1(t *testing.T) {
	th := testkit.Thresholds(t)
	for _, tt := range []struct {
		name   string
		csv    export.CSVTotals
		pdf    export.PDFTotals
		status evidence.Status
		line   string
	}{
		{"clean", export.CSVTotals{Exports: 2}, export.PDFTotals{Exports: 1}, evidence.StatusPassed, ""},
		{"nothing received", export.CSVTotals{}, export.PDFTotals{}, evidence.StatusNotRun, "no CSV export"},
		{"missing", export.CSVTotals{Exports: 1, Missing: 2, Examples: []string{"id 4 missing"}}, export.PDFTotals{}, evidence.StatusFailed, "id 4 missing"},
		{"out of order", export.CSVTotals{Exports: 1, OutOfOrder: 1}, export.PDFTotals{}, evidence.StatusFailed, "out of ascending id order"},
		{"PDF header wrong", export.CSVTotals{Exports: 1}, export.PDFTotals{Exports: 1, IntegrityMismatches: 1}, evidence.StatusFailed, "a1.trailer_mismatches = 1 exports breaks == 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := judgeA1(th, exported{Tally: export.Tally{CSV: tt.csv, PDF: tt.pdf}, API: v1Caps()})
			if c.Status != tt.status || !strings.Contains(strings.Join(c.Failures, "\n"), tt.line) {
				t.Errorf("check %+v", c)
			}
		})
	}
}

// TestA1TrailersStripped tallies CSV reports as the pipeline does and judges them: only when every
// body is whole and exact and not one export carried an integrity field does A1 blame an
// intermediary, and A1 fails whatever the cause.
func TestA1TrailersStripped(t *testing.T) {
	const note = "trailers stripped by an intermediary"
	whole := export.Fetch{Format: export.CSV, Status: http.StatusOK, Complete: true}
	stripped := export.CSVReport{Fetch: whole, HeaderOK: true, Rows: 3,
		Integrity: export.Integrity{Problems: []string{"Content-Digest missing", "Export-Rows missing"}}}
	withTrailers := export.CSVReport{Fetch: whole, HeaderOK: true, Rows: 3, Integrity: export.Integrity{DigestOK: true, RowsOK: true, Present: true}}
	rowMissing := stripped
	rowMissing.Missing = 1
	cut := stripped
	cut.Complete = false
	for _, tt := range []struct {
		name    string
		reports []export.CSVReport
		status  evidence.Status
		noted   bool
	}{
		{"every export stripped, bodies exact", []export.CSVReport{stripped, stripped, stripped}, evidence.StatusFailed, true},
		{"healthy", []export.CSVReport{withTrailers, withTrailers}, evidence.StatusPassed, false},
		{"some exports without trailers", []export.CSVReport{stripped, withTrailers, stripped}, evidence.StatusFailed, false},
		{"a body missing a row", []export.CSVReport{stripped, rowMissing, stripped}, evidence.StatusFailed, false},
		{"a body cut short", []export.CSVReport{stripped, cut}, evidence.StatusFailed, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var tl export.Tally
			for _, r := range tt.reports {
				tl.Add(r)
			}
			c := judgeA1(testkit.Thresholds(t), exported{Tally: export.Tally{CSV: tl.CSV, PDF: tl.PDF}, API: v1Caps()})
			noted := slices.ContainsFunc(c.Notes, func(n string) bool { return strings.HasPrefix(n, note) })
			if c.Status != tt.status || noted != tt.noted {
				t.Errorf("A1 %s, notes %q; want %s, noted %v", c.Status, c.Notes, tt.status, tt.noted)
			}
			if noted && !slices.Contains(c.Notes, fmt.Sprintf("%s: %d of %d CSV bodies complete and exact, trailers missing on every export "+
				"(a proxy that drops HTTP trailers, e.g. nginx < 1.27.2); the exporter's bodies are right, but no client can verify them on this path",
				note, len(tt.reports), len(tt.reports))) {
				t.Errorf("note %q", c.Notes)
			}
		})
	}
}

// TestMissingThreshold drops one rule: the judged measure must fail its check, not turn
// informational, while informational measures need no rule.
func TestMissingThreshold(t *testing.T) {
	th := testkit.Thresholds(t)
	delete(th, "a3.csv_p95_seconds")
	r := load.Result{CSVRowsPerSecond: 1e6, CSV: load.FormatResult{OK: 1, StreamRate: load.Distribution{Count: 1, P50: 100 << 20},
		Latency: load.Distribution{Count: 1}}, PDF: load.FormatResult{OK: 1, Latency: load.Distribution{Count: 1}}}
	c := judgeA3(th, speed{Load: r, PDF: true})
	if c.Status != evidence.StatusFailed || !slices.Contains(c.Failures, "no threshold for a3.csv_p95_seconds") {
		t.Errorf("check %+v", c)
	}
	if _, ok := testkit.Thresholds(t)["a3.csv_latency_p50_seconds"]; ok {
		t.Fatal("a3.csv_latency_p50_seconds has a default rule; pick another informational measure")
	}
	if c := judgeA3(testkit.Thresholds(t), speed{Load: r, PDF: true}); c.Status != evidence.StatusPassed || !hasMeasure(c, "a3.csv_latency_p50_seconds") {
		t.Errorf("with every rule: %+v", c)
	}
}

func TestA4(t *testing.T) {
	th := testkit.Thresholds(t)
	// A streaming exporter: 50 MB anonymous, 30 MB of file pages, its own RSS their sum.
	ok := memory.Memory{PeakExternal: 50e6, PeakExternalFile: 30e6, PeakDuringSmall: 40e6, PeakDuringLarge: 42e6, ProcessResident: 78e6,
		SmallSamples: 3, LargeSamples: 20, SmallBytes: 1e5, LargeBytes: 1e7}
	with := func(f func(*memory.Memory)) memory.Memory {
		m := ok
		f(&m)
		return m
	}
	for _, tt := range []struct {
		name   string
		m      memory.Memory
		status evidence.Status
		line   string             // in the failures
		values map[string]float64 // measures that must be there, with their values
		absent []string           // measures that must not be there
	}{
		{name: "healthy", m: ok, status: evidence.StatusPassed,
			values: map[string]float64{"a4.peak_memory_bytes": 50e6, "a4.rss_crosscheck_ratio": 1, "a4.peak_file_bytes": 30e6, "a4.process_resident_bytes": 78e6}},
		{name: "healthy, file pages not measured", m: with(func(m *memory.Memory) { m.PeakExternalFile, m.ProcessResident = 0, 58e6 }),
			status: evidence.StatusPassed, values: map[string]float64{"a4.rss_crosscheck_ratio": 1}, absent: []string{"a4.peak_file_bytes"}},
		// A store mapped into memory makes RSS large; the anonymous memory A4 judges is not.
		{name: "file pages beyond the budget", m: with(func(m *memory.Memory) { m.PeakExternalFile, m.ProcessResident = 600e6, 640e6 }),
			status: evidence.StatusPassed, values: map[string]float64{"a4.peak_memory_bytes": 50e6, "a4.rss_crosscheck_ratio": 1}},
		{name: "peaks sampled at other moments", m: with(func(m *memory.Memory) { m.ProcessResident = 40e6 }),
			status: evidence.StatusPassed, values: map[string]float64{"a4.rss_crosscheck_ratio": 1.25}},
		{name: "url target: resident memory only", m: memory.Memory{ProcessResident: 480e6}, status: evidence.StatusNotRun,
			line: "no memory measured from outside", values: map[string]float64{"a4.process_resident_bytes": 480e6},
			absent: []string{"a4.peak_memory_bytes", "a4.rss_crosscheck_ratio"}},
		{name: "over budget", m: with(func(m *memory.Memory) { m.PeakExternal, m.ProcessResident = 400e6, 430e6 }),
			status: evidence.StatusFailed, line: "a4.peak_memory_bytes = 4e+08 bytes breaks <="},
		{name: "buffered", m: with(func(m *memory.Memory) { m.PeakDuringLarge = 40e6 + 1e7 }), // the whole export held in memory
			status: evidence.StatusFailed, line: "a4.memory_growth_ratio"},
		// More anonymous memory than the process has resident: another process's, or a unit slip.
		{name: "outside figure above the resident one", m: with(func(m *memory.Memory) { m.PeakExternal, m.ProcessResident = 200e6, 50e6 }),
			status: evidence.StatusFailed, line: "a4.rss_crosscheck_ratio = 4 ratio breaks <= 3", values: map[string]float64{"a4.rss_crosscheck_ratio": 4}},
		// Far less than the process has resident, file pages included: something was missed.
		{name: "outside figure below the resident one", m: with(func(m *memory.Memory) { m.PeakExternal, m.PeakExternalFile, m.ProcessResident = 10e6, 10e6, 100e6 }),
			status: evidence.StatusFailed, line: "a4.rss_crosscheck_ratio = 5 ratio breaks <= 3"},
		{name: "no export sizes", m: with(func(m *memory.Memory) { m.LargeBytes = 0 }), status: evidence.StatusNotRun,
			line: "no export sizes", absent: []string{"a4.memory_growth_ratio"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := judgeA4(th, tt.m)
			if c.Status != tt.status || !strings.Contains(strings.Join(c.Failures, "\n"), tt.line) {
				t.Errorf("check %+v", c)
			}
			for name, want := range tt.values {
				i := slices.IndexFunc(c.Measures, func(m evidence.Measure) bool { return m.Name == name })
				if i < 0 || c.Measures[i].Value != want {
					t.Errorf("%s: want %v in %+v", name, want, c.Measures)
				}
			}
			for _, name := range tt.absent {
				if hasMeasure(c, name) {
					t.Errorf("%s measured: %+v", name, c.Measures)
				}
			}
		})
	}
	for _, few := range [][2]int{{1, 20}, {3, 1}, {0, 0}} {
		m := ok
		m.SmallSamples, m.LargeSamples = few[0], few[1]
		m.PeakDuringLarge = 400e6 // a growth that a single, stale sample must not be judged on
		c := judgeA4(th, m)
		if c.Status != evidence.StatusNotRun || !strings.Contains(strings.Join(c.Failures, "\n"), "too few samples in the memory window") ||
			hasMeasure(c, "a4.memory_growth_ratio") {
			t.Errorf("samples %v: %+v", few, c)
		}
		m.PeakExternal, m.ProcessResident = 400e6, 430e6
		if c := judgeA4(th, m); c.Status != evidence.StatusFailed {
			t.Errorf("samples %v, over budget: %+v", few, c)
		}
	}
}

func TestA5(t *testing.T) {
	th := testkit.Thresholds(t)
	var healthy export.Tally
	ok := http.Header{"Retry-After": {"1"}}
	healthy.Add(export.Fetch{Format: export.CSV, Status: http.StatusTooManyRequests, Header: ok})
	healthy.Add(export.Fetch{Format: export.CSV, Status: http.StatusServiceUnavailable, Header: ok})
	burst := load.BurstResult{RateLimited: 1, WithRetryAfter: 1, WithRateLimit: 1, WithRateLimitPolicy: 1}
	observed := Protection{Tally: healthy, Burst: burst, RestartsObservable: true, LogsObservable: true, RateLimitFields: true}
	if c := judgeA5(th, observed); c.Status != evidence.StatusPassed || !hasMeasure(c, "a5.restarts") || !hasMeasure(c, "a5.panics_in_logs") {
		t.Errorf("healthy: %+v", c)
	}

	blind := observed
	blind.RestartsObservable, blind.LogsObservable = false, false
	c := judgeA5(th, blind)
	if c.Status != evidence.StatusNotRun || hasMeasure(c, "a5.restarts") || hasMeasure(c, "a5.panics_in_logs") ||
		!strings.Contains(strings.Join(c.Failures, "\n"), "restarts or logs") {
		t.Errorf("nothing observable: %+v", c)
	}
	blind.LogsObservable = true
	if c := judgeA5(th, blind); c.Status != evidence.StatusNotRun || hasMeasure(c, "a5.restarts") || !hasMeasure(c, "a5.panics_in_logs") {
		t.Errorf("restarts not observable: %+v", c)
	}
	blind.Tally.Add(export.Fetch{Format: export.CSV, Status: http.StatusInternalServerError})
	if c := judgeA5(th, blind); c.Status != evidence.StatusFailed {
		t.Errorf("not observable, but a 500: %+v", c)
	}

	shapeless := observed
	shapeless.Burst.WithRateLimit, shapeless.Burst.WithRateLimitPolicy = 0, 0
	shapeless.Burst.Example = http.Header{"Ratelimit": {"limit=10, remaining=0"}}
	c = judgeA5(th, shapeless)
	lines := strings.Join(c.Failures, "\n")
	if c.Status != evidence.StatusFailed || !strings.Contains(lines, "valid RateLimit header") ||
		!strings.Contains(lines, "valid RateLimit-Policy header") || !strings.Contains(lines, `RateLimit: "limit=10, remaining=0"`) {
		t.Errorf("invalid RateLimit fields: %+v", c)
	}
	shapeless.RateLimitFields = false // an API that does not declare them is not judged on them
	if c := judgeA5(th, shapeless); c.Status != evidence.StatusPassed {
		t.Errorf("RateLimit fields not declared, yet judged: %+v", c)
	}

	// An API whose over-capacity answer is 429: the saturation probe's 429s with Retry-After count
	// as over-capacity answers only when it declares so, and without Retry-After they fail.
	var limited, probe export.Tally
	limited.Add(export.Fetch{Format: export.CSV, Status: http.StatusTooManyRequests, Header: ok})
	probe.Add(export.Fetch{Format: export.CSV, Status: http.StatusTooManyRequests, Header: ok})
	only429 := Protection{Tally: limited, Burst: burst, RestartsObservable: true, LogsObservable: true}
	if c := judgeA5(th, only429); c.Status != evidence.StatusFailed || !strings.Contains(strings.Join(c.Failures, "\n"), "a5.saturated_responses") {
		t.Errorf("429 everywhere, over-capacity 429 not declared: %+v", c)
	}
	only429.Tally.Merge(probe) // the whole run's tally holds the probe's answers too
	only429.OverCapacity429 = &probe
	if c := judgeA5(th, only429); c.Status != evidence.StatusPassed {
		t.Errorf("over-capacity 429 declared, answered with Retry-After: %+v", c)
	}
	noLimiter := Protection{Tally: probe, Burst: burst, RestartsObservable: true, LogsObservable: true, OverCapacity429: &probe}
	if c := judgeA5(th, noLimiter); c.Status != evidence.StatusFailed || !strings.Contains(strings.Join(c.Failures, "\n"), "a5.rate_limited_responses") {
		t.Errorf("only the saturation probe's 429s, no rate limit: %+v", c)
	}
	var bare export.Tally
	bare.Add(export.Fetch{Format: export.CSV, Status: http.StatusTooManyRequests})
	only429.OverCapacity429 = &bare
	if c := judgeA5(th, only429); c.Status != evidence.StatusFailed {
		t.Errorf("over-capacity 429 declared, answered without Retry-After: %+v", c)
	}
}

func TestA6Reconciliation(t *testing.T) {
	th := testkit.Thresholds(t)
	before := parse(t, `exporter_export_rows_total{format="csv"} 10
exporter_export_bytes_total{format="csv"} 100
exporter_exports_total{format="csv",outcome="ok"} 1
`)
	after := parse(t, `exporter_export_rows_total{format="csv"} 20
exporter_export_bytes_total{format="csv"} 250
exporter_exports_total{format="csv",outcome="ok"} 2
exporter_exports_total{format="csv",outcome="aborted"} 1
exporter_ingest_records_total{mode="batch",outcome="ok"} 5
`)
	var counts export.Tally
	counts.Add(export.CSVReport{Fetch: export.Fetch{Format: export.CSV, Status: 200, Complete: true, Bytes: 150}, Rows: 10})
	counts.Add(export.Fetch{Format: export.CSV, Status: 200}) // cut: none of its rows or bytes may be counted
	o := Observability{Before: before, After: after, Tally: counts,
		Manifests: []seed.Manifest{{Mode: seed.ModeBatch, Rows: 5}}}
	lines := strings.Join(Reconcile(o), "\n")
	for _, want := range []string{
		`exporter_export_duration_seconds_count{format="csv"}: series missing, harness counted 2`,
		`exporter_requests_rejected_total{reason="saturated"}: series missing`,
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("no %q in\n%s", want, lines)
		}
	}
	for _, unwanted := range []string{`rows_total{format="csv"}`, `bytes_total{format="csv"}`,
		`{format="csv",outcome="ok"}`, `{format="csv",outcome="aborted"}`, `mode="batch"`} {
		if strings.Contains(lines, unwanted) {
			t.Errorf("%q reported in\n%s", unwanted, lines)
		}
	}
	if c := judgeA6(th, o); c.Status != evidence.StatusFailed || !strings.Contains(strings.Join(c.Failures, "\n"), "series missing") {
		t.Errorf("check %+v", c)
	}

	// An exporter that counts the rows and bytes of the export it cut short is caught exactly.
	o.After = parse(t, `exporter_export_rows_total{format="csv"} 25
exporter_export_bytes_total{format="csv"} 300
`)
	lines = strings.Join(Reconcile(o), "\n")
	for _, want := range []string{`exporter_export_rows_total{format="csv"}: delta 15, harness counted 10`,
		`exporter_export_bytes_total{format="csv"}: delta 200, harness counted 150`} {
		if !strings.Contains(lines, want) {
			t.Errorf("no %q in\n%s", want, lines)
		}
	}
	// Left out, that reconciliation no longer sees it.
	o.Omit = []string{"exporter_export_rows_total"}
	if lines := strings.Join(Reconcile(o), "\n"); strings.Contains(lines, "exporter_export_rows_total") {
		t.Errorf("omitted series reported:\n%s", lines)
	}
}

// TestReconcileErrorsAndRejections covers error outcomes, rejections and stored records.
func TestReconcileErrorsAndRejections(t *testing.T) {
	before := parse(t, `exporter_exports_total{format="csv",outcome="client_error"} 0
exporter_exports_total{format="pdf",outcome="client_error"} 0
exporter_exports_total{format="pdf",outcome="server_error"} 0
exporter_export_duration_seconds_count{format="pdf"} 0
exporter_requests_rejected_total{reason="too_large"} 0
exporter_requests_rejected_total{reason="unauthorized"} 0
`)
	after := parse(t, `exporter_exports_total{format="csv",outcome="client_error"} 1
exporter_exports_total{format="pdf",outcome="client_error"} 1
exporter_exports_total{format="pdf",outcome="server_error"} 0
exporter_export_duration_seconds_count{format="pdf"} 2
exporter_requests_rejected_total{reason="too_large"} 1
exporter_requests_rejected_total{reason="unauthorized"} 1
exporter_store_records{dataset="trades"} 11
exporter_store_records{dataset="bulk"} 4
`)
	var counts export.Tally
	for _, f := range []export.Fetch{
		{Format: export.CSV, Status: http.StatusNotFound},
		{Format: export.PDF, Status: http.StatusRequestEntityTooLarge},
		{Format: export.PDF, Status: http.StatusInternalServerError},
		{Format: export.CSV, Status: http.StatusUnauthorized},
		{Format: export.CSV, Status: http.StatusForbidden},
	} {
		counts.Add(f)
	}
	o := Observability{Before: before, After: after, Tally: counts,
		Manifests: []seed.Manifest{{Dataset: "trades"}, {Dataset: "bulk"}, {Dataset: "extra"}, {Dataset: "extra"}},
		Stored:    map[string]int{"trades": 10, "bulk": 4, "gone": 1}}
	got := Reconcile(o)
	lines := strings.Join(got, "\n")
	for _, want := range []string{
		`exporter_exports_total{format="pdf",outcome="server_error"}: delta 0, harness counted 1`,
		`exporter_requests_rejected_total{reason="unauthorized"}: delta 1, harness counted 2`,
		`exporter_store_records{dataset="trades"}: 11 after the run, harness seeded 10 records`,
		`exporter_store_records{dataset="gone"}: series missing after the run`,
		`exporter_store_records{dataset="extra"}: seeded, but the harness passed no record count to check`,
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("no %q in\n%s", want, lines)
		}
	}
	for _, unwanted := range []string{`{format="csv",outcome="client_error"}`, `{format="pdf",outcome="client_error"}`,
		`duration_seconds_count{format="pdf"}`, `reason="too_large"`, `dataset="bulk"`} {
		if strings.Contains(lines, unwanted) {
			t.Errorf("%q reported in\n%s", unwanted, lines)
		}
	}
	if n := strings.Count(lines, `dataset="extra"`); n != 1 {
		t.Errorf("%d lines for the uncounted dataset, want 1", n)
	}
}

func hasMeasure(c evidence.Check, name string) bool {
	return slices.ContainsFunc(c.Measures, func(m evidence.Measure) bool { return m.Name == name })
}

func parse(t *testing.T, text string) metrics.Snapshot {
	t.Helper()
	s, err := metrics.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// v1Caps are what the v1 API declares.
func v1Caps() profile.Capabilities { return api.V1Profile().Capabilities() }

// TestJudgeSeedUnstorable: a value the API cannot hold as seeded fails the seed check, named by
// record and field.
func TestJudgeSeedUnstorable(t *testing.T) {
	c := judgeSeed(testkit.Thresholds(t), seeding{Records: 10, Took: time.Second})
	if c.Status != evidence.StatusPassed {
		t.Fatalf("all storable: %+v", c)
	}
	c = judgeSeed(testkit.Thresholds(t), seeding{Records: 9, Took: time.Second,
		Unstorable: []string{"record 7, trade_ts: 2200-01-01T00:00:00Z is after the latest instant DateTime holds (2105-12-31T23:59:59Z)"}})
	if c.Status != evidence.StatusFailed || !strings.Contains(strings.Join(c.Failures, "\n"), "record 7, trade_ts") {
		t.Errorf("unstorable: %+v", c)
	}
}

// TestA3WithoutPDF: an API without PDF has its PDF latency not applicable (never a passed 0 s), and
// exports whose only fault is their content headers are timed, not failed, in A3.
func TestA3WithoutPDF(t *testing.T) {
	r := load.Result{CSVRowsPerSecond: 1e6, Failed: 3, Errors: map[string]int{"content_headers": 3},
		CSV: load.FormatResult{StreamRate: load.Distribution{Count: 3, P50: 100 << 20}, Latency: load.Distribution{Count: 3, P95: 0.1}}}
	c := judgeA3(testkit.Thresholds(t), speed{Load: r})
	if c.Status != evidence.StatusPassed {
		t.Fatalf("A3 %+v", c)
	}
	for _, m := range c.Measures {
		if m.Name == "a3.pdf_p95_seconds" && m.NotApplicable == "" {
			t.Errorf("PDF p95 judged for an API without PDF: %+v", m)
		}
		if m.Name == "a3.failed_exports" && m.Value != 0 {
			t.Errorf("content-header failures counted by A3: %+v", m)
		}
	}
	r.Errors["truncated"], r.Failed = 1, 4
	if c := judgeA3(testkit.Thresholds(t), speed{Load: r}); c.Status != evidence.StatusFailed {
		t.Errorf("a truncated export passed A3: %+v", c)
	}
}
