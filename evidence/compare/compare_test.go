package compare

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
)

func mustRules(t *testing.T) Rules {
	t.Helper()
	r, err := DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// verdicts are the verdicts of c's rows by measure.
func verdicts(c Comparison) map[string]Verdict {
	out := map[string]Verdict{}
	for _, r := range c.Rows {
		out[r.Measure] = r.Verdict
	}
	return out
}

func names(rows []Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Measure)
	}
	return out
}

// TestCompareRealRuns compares real runs: the uniformly slow exporter regresses on latency and
// rate; healthy runs against a healthy baseline do not, although some of their medians move
// significantly (series-7: CSV latency +103 %, CSV rate −70 %, p < 0.001) — the machine's noise,
// which the rules' minimum changes are set above.
func TestCompareRealRuns(t *testing.T) {
	rules := mustRules(t)
	for _, tt := range []struct {
		base, cur       string
		wantRegressions []string
		want            map[string]Verdict // some rows' verdicts
	}{
		{"series-1", "slow4",
			[]string{"samples.csv_latency_seconds", "samples.csv_stream_mib_per_second", "samples.pdf_stream_mib_per_second"},
			map[string]Verdict{"samples.pdf_latency_seconds": Same, "a3.failed_exports": Same, "a3.csv_p95_seconds": Info, "load.saturation_503": Changed}},
		{"series-1", "series-2", nil, map[string]Verdict{"samples.csv_stream_mib_per_second": Same, "a4.peak_memory_bytes": Info}},
		{"series-1", "series-4", nil, map[string]Verdict{"samples.csv_latency_seconds": Same, "samples.csv_first_byte_seconds": Same}},
		{"series-1", "series-7", nil, map[string]Verdict{"samples.csv_latency_seconds": Same, "samples.csv_stream_mib_per_second": Same}},
		{"series-2", "series-1", nil, map[string]Verdict{"samples.csv_stream_mib_per_second": Same}},
		// The other way round, the slow run is the baseline: latency and rate improve, and the first
		// byte regresses, since the slowing proxy sent its first bytes sooner (1.8 ms) than the
		// exporter does (15 ms).
		{"slow4", "series-1", []string{"samples.csv_first_byte_seconds"},
			map[string]Verdict{"samples.csv_latency_seconds": Improvement, "samples.csv_stream_mib_per_second": Improvement}},
	} {
		t.Run(tt.base+" vs "+tt.cur, func(t *testing.T) {
			c := Compare(mustLoad(t, tt.base), mustLoad(t, tt.cur), rules)
			if got := names(c.Regressions()); !slices.Equal(got, tt.wantRegressions) {
				t.Errorf("regressions %v, want %v", got, tt.wantRegressions)
			}
			got := verdicts(c)
			for m, want := range tt.want {
				if got[m] != want {
					t.Errorf("%s: %s, want %s", m, got[m], want)
				}
			}
			if len(c.Rows) < 70 {
				t.Errorf("%d rows: not every shared measure is shown", len(c.Rows))
			}
		})
	}
}

// run is a synthetic bundle: one check with measures, and samples.
func run(measures []evidence.Measure, samples ...Sample) Bundle {
	return Bundle{Report: evidence.Report{RunID: "r", Checks: []evidence.Check{{ID: "A1", Measures: measures}}}, Samples: samples}
}

// csvExports are n OK CSV exports of 1 MiB whose latencies are spread evenly over [lo, 2·lo),
// the first byte a tenth in.
func csvExports(n int, lo time.Duration) []Sample {
	var out []Sample
	for i := range n {
		l := lo + lo*time.Duration(i)/time.Duration(n)
		out = append(out, Sample{Format: "csv", Latency: l, FirstByte: l / 10, Bytes: 1 << 20})
	}
	return out
}

func TestCompareRows(t *testing.T) {
	rules := mustRules(t)
	rules.Scalars = map[string]Rule{"a4.peak_memory_bytes": {Worse: Up, MinChangePercent: 100}} // a rules file's
	m := func(name string, v float64, unit string) evidence.Measure {
		return evidence.Measure{Name: name, Value: v, Unit: unit, Pass: true}
	}
	failed := Sample{Format: "csv", Latency: time.Hour, Bytes: 1 << 20, Failure: "truncated"}
	for _, tt := range []struct {
		name        string
		base, cur   Bundle
		measure     string
		want        Verdict
		wantNote    string
		wantDelta   float64
		checkDelta  bool
		wantMissing bool // no row at all
	}{
		{name: "a failure count rises", base: run([]evidence.Measure{m("a1.missing_rows", 0, "rows")}), cur: run([]evidence.Measure{m("a1.missing_rows", 2, "rows")}),
			measure: "a1.missing_rows", want: Regression, wantDelta: 2, checkDelta: true},
		{name: "a failure count falls", base: run([]evidence.Measure{m("a3.failed_exports", 3, "exports")}), cur: run([]evidence.Measure{m("a3.failed_exports", 1, "exports")}),
			measure: "a3.failed_exports", want: Improvement, wantDelta: -2, checkDelta: true},
		{name: "a count without direction changes", base: run([]evidence.Measure{m("load.exports", 120, "exports")}), cur: run([]evidence.Measure{m("load.exports", 100, "exports")}),
			measure: "load.exports", want: Changed},
		{name: "an equal count", base: run([]evidence.Measure{m("a1.missing_rows", 0, "rows")}), cur: run([]evidence.Measure{m("a1.missing_rows", 0, "rows")}),
			measure: "a1.missing_rows", want: Same},
		{name: "a scalar rule holds", base: run([]evidence.Measure{m("a4.peak_memory_bytes", 100, "bytes")}), cur: run([]evidence.Measure{m("a4.peak_memory_bytes", 199, "bytes")}),
			measure: "a4.peak_memory_bytes", want: Same},
		{name: "a scalar rule breaks", base: run([]evidence.Measure{m("a4.peak_memory_bytes", 100, "bytes")}), cur: run([]evidence.Measure{m("a4.peak_memory_bytes", 200, "bytes")}),
			measure: "a4.peak_memory_bytes", want: Regression},
		{name: "a measure without rule", base: run([]evidence.Measure{m("seed.seconds", 10, "s")}), cur: run([]evidence.Measure{m("seed.seconds", 30, "s")}),
			measure: "seed.seconds", want: Info, wantDelta: 20, checkDelta: true},
		{name: "units differ", base: run([]evidence.Measure{m("a1.missing_rows", 0, "rows")}), cur: run([]evidence.Measure{m("a1.missing_rows", 1, "fields")}),
			measure: "a1.missing_rows", want: Untested, wantNote: "units differ"},
		{name: "not a number", base: run([]evidence.Measure{m("a4.peak_memory_bytes", math.NaN(), "bytes")}), cur: run([]evidence.Measure{m("a4.peak_memory_bytes", 1, "bytes")}),
			measure: "a4.peak_memory_bytes", want: Untested, wantNote: "not a finite number"},
		{name: "only in the baseline", base: run([]evidence.Measure{m("seed.seconds", 10, "s")}), cur: run(nil),
			measure: "seed.seconds", wantMissing: true},
		{name: "not applicable to the new run's API: no value to compare", base: run([]evidence.Measure{m("a6.unreconciled", 0, "series")}),
			cur: run([]evidence.Measure{evidence.NotApplicableMeasure("a6.unreconciled", "no metrics endpoint")}), measure: "a6.unreconciled", wantMissing: true},

		{name: "latency four times the baseline", base: run(nil, csvExports(40, 10*time.Millisecond)...), cur: run(nil, csvExports(40, 40*time.Millisecond)...),
			measure: "samples.csv_latency_seconds", want: Regression},
		{name: "latency twice the baseline: significant, under the minimum", base: run(nil, csvExports(40, 10*time.Millisecond)...), cur: run(nil, csvExports(40, 20*time.Millisecond)...),
			measure: "samples.csv_latency_seconds", want: Same, wantNote: "moved less than the rule's 200 %"},
		{name: "the same latencies", base: run(nil, csvExports(40, 10*time.Millisecond)...), cur: run(nil, csvExports(40, 10*time.Millisecond)...),
			measure: "samples.csv_latency_seconds", want: Same, wantNote: "not significant"},
		{name: "stream rate a fifth of the baseline", base: run(nil, csvExports(40, 10*time.Millisecond)...), cur: run(nil, csvExports(40, 60*time.Millisecond)...),
			measure: "samples.csv_stream_mib_per_second", want: Regression},
		{name: "too few samples to test", base: run(nil, csvExports(2, 10*time.Millisecond)...), cur: run(nil, csvExports(2, 80*time.Millisecond)...),
			measure: "samples.csv_latency_seconds", want: Untested, wantNote: "need >= 4 samples"},
		{name: "failed exports are not samples", base: run(nil, csvExports(40, 10*time.Millisecond)...), cur: run(nil, append(csvExports(40, 10*time.Millisecond), failed, failed, failed)...),
			measure: "samples.csv_latency_seconds", want: Same},
		{name: "no samples in the new run", base: run(nil, csvExports(40, 10*time.Millisecond)...), cur: run(nil, failed),
			measure: "samples.csv_latency_seconds", want: Untested, wantNote: "no samples in the new run"},
		{name: "no PDF on either side", base: run(nil, csvExports(40, 10*time.Millisecond)...), cur: run(nil, csvExports(40, 10*time.Millisecond)...),
			measure: "samples.pdf_latency_seconds", wantMissing: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Compare(tt.base, tt.cur, rules)
			i := slices.IndexFunc(c.Rows, func(r Row) bool { return r.Measure == tt.measure })
			if tt.wantMissing {
				if i >= 0 {
					t.Errorf("a row for %s: %+v", tt.measure, c.Rows[i])
				}
				return
			}
			if i < 0 {
				t.Fatalf("no row for %s in %v", tt.measure, names(c.Rows))
			}
			r := c.Rows[i]
			if r.Verdict != tt.want || !strings.Contains(r.Note, tt.wantNote) || (tt.checkDelta && r.Delta != tt.wantDelta) {
				t.Errorf("%s: %s (note %q, delta %v), want %s (note with %q, delta %v)", tt.measure, r.Verdict, r.Note, r.Delta, tt.want, tt.wantNote, tt.wantDelta)
			}
			if (r.Verdict == Info) != (r.Rule == nil) {
				t.Errorf("%s: verdict %s with rule %v: a judged row must record its rule", tt.measure, r.Verdict, r.Rule)
			}
		})
	}
}
