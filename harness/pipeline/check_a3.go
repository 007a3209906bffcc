package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/load"
)

// speed is what A3 judges: the load test's result and, for a deployment of replicas, each
// replica's share of the exports (nil otherwise).
type speed struct {
	Load   load.Result
	Shares []evidence.ReplicaShare
	PDF    bool // the API exports PDF
}

// measureSpeed is the load test's result, with each replica's share for a deployment of replicas.
func measureSpeed(_ context.Context, r *Run) (speed, error) {
	if r.load == nil {
		return speed{}, missing("the load result")
	}
	return speed{Load: *r.load, Shares: r.shares(), PDF: r.caps.API().PDF}, nil
}

// judgeA3 judges speed under the load run, as the timed path measured it (the client only read the
// bodies; verification came afterwards): CSV and PDF p95 latency, CSV p95 first-byte latency, the
// median CSV streaming rate, CSV rows per second, and zero failed exports. The other percentiles,
// throughputs and the instrument's ceiling are information; a run that came within
// load.BoundFraction of the ceiling carries a note that it was bound by the instrument.
func judgeA3(th Thresholds, s speed) evidence.Check {
	b := &builder{th: th}
	r := s.Load
	const mib = 1 << 20
	b.measure("a3.csv_p95_seconds", r.CSV.Latency.P95, "s")
	formats := []struct {
		name string
		fr   load.FormatResult
	}{{"csv", r.CSV}, {"pdf", r.PDF}}
	if s.PDF {
		b.measure("a3.pdf_p95_seconds", r.PDF.Latency.P95, "s")
	} else {
		b.notApplicable("a3.pdf_p95_seconds", "the API has no PDF export")
		formats = formats[:1]
	}
	b.measure("a3.csv_first_byte_p95_seconds", r.CSV.FirstByte.P95, "s")
	b.measure("a3.csv_stream_p50_mib_per_second", r.CSV.StreamRate.P50/mib, "MiB/s")
	b.measure("a3.csv_rows_per_second", r.CSVRowsPerSecond, "rows/s")
	// An export whose only fault is its content headers arrived whole and exactly right, in the
	// time measured: A2 judges its headers, not A3.
	headersOnly := r.Errors["content_headers"]
	b.measure("a3.failed_exports", float64(r.Failed-headersOnly), "exports")
	if headersOnly > 0 {
		b.note(fmt.Sprintf("%d exports arrived whole and exactly right with wrong content headers: timed here, judged by A2", headersOnly))
	}
	for _, f := range formats {
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
	case r.CSV.Latency.Count == 0:
		b.notRun = "no CSV export of the load run succeeded, so there is no CSV latency to judge"
	case r.PDF.Latency.Count == 0 && s.PDF:
		b.notRun = "no PDF export of the load run succeeded, so there is no PDF latency to judge"
	case r.CSV.StreamRate.Count == 0:
		b.notRun = fmt.Sprintf("no CSV export of the load run was large enough (%d bytes) to time its streaming rate", load.MinRateBytes)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		if k != "content_headers" {
			b.explain(fmt.Sprintf("%d failed exports: %s", r.Errors[k], k))
		}
	}
	b.explain(r.Examples...)
	b.shares(s.Shares)
	return b.check()
}

var a3Check = define(Def{ID: "A3", Title: "fast",
	Spec:   "fast: latency, first byte and streaming rate within thresholds, no failed export",
	Labels: []string{"assert", "A3"}, Applies: always}, measureSpeed, judgeA3)
