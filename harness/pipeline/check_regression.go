package pipeline

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/compare"
	"github.com/exportatscale/exportatscale/harness/api"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/seed"
)

// The regression check judges the candidate against a baseline deployment started beside it in
// the same run (--compare-image, --compare-url), with the same limits. Both get the same dataset
// and the same mix of exports, sent in pairs: the two exports of a pair leave at the same moment
// (load.Interleave), so whatever else the machine is doing slows both alike, and the comparison
// is made pair by pair. The Wilcoxon signed-rank test on the pairs' log ratios decides
// (compare.ComparePaired); the effect is the Hodges–Lehmann estimate of the ratio
// candidate/baseline with its rank-based 95 % confidence interval. A measure regressed when the
// test is significant (p below the rule regression.p_value) and the estimated slowdown breaks the
// rule regression.slowdown_percent (the minimum effect, 20 %): both are data, in
// evidence/thresholds.json.
//
// Why the signed-rank test and not benchmath's Mann–Whitney U test: on this machine the pairs
// share most of the noise, which the U test, comparing the two samples as unpaired, cannot
// remove. The check records both p-values; scenarios/ab-series.sh prints them for every run. Measured
// on this 2-core machine under heavy contention (series ab-20261207T002744Z, 10 runs of a 30 %-slower
// candidate, 45 CSV and 15 PDF pairs each): at α = 0.05 the U test flagged the slowdown in 4 runs of
// 10, the signed-rank test in 10 of 10 (CSV p from 2.9e-09, PDF p ≤ 0.0067); healthy against
// healthy, neither called a regression. Every figure is in docs/acceptance.md ("The regression check").

// Threshold names the regression check decides by. They are rules of the check, not of one
// measure: the measures it records are informational, and its failure lines name each regression.
const (
	ruleSlowdown = "regression.slowdown_percent" // a slowdown must stay under this to pass
	ruleP        = "regression.p_value"          // p must stay at or above this: not significant
)

// abConfidence is the level of the effect's confidence interval; abMinPairs the fewest pairs a
// measure is tested on.
const (
	abConfidence = 0.95
	abMinPairs   = 8
)

// defaultComparePairs is the number of pairs of an A/B run when Config.ComparePairs is 0.
const defaultComparePairs = 60

// abMeasures are what the A/B comparison judges: each format's export latency (request sent to
// last body byte), what a user of the export waits.
var abMeasures = []struct{ key, label, format string }{
	{"csv_latency", "CSV export latency", export.CSV},
	{"pdf_latency", "PDF export latency", export.PDF},
}

// regressing is what the A/B run measured: each measure's pairs, and what went wrong.
type regressing struct {
	Candidate, Baseline string
	Pairs               int // pairs sent
	Samples             map[string][2][]float64
	NoPDF               bool     // the API judged has no PDF
	Failures            []string // the candidate's wrong exports
	Notes               []string
	keep                func(*evidence.AB)
}

// measureRegression seeds one dataset into both deployments and sends them the run's mix in
// pairs, verifying each pair off the clock before the next is sent.
func measureRegression(ctx context.Context, r *Run) (regressing, error) {
	if r.cfg.Compare == nil {
		return regressing{}, missing("the compare target (--compare-image or --compare-url)")
	}
	g := regressing{Candidate: r.cfg.Target.BaseURL(), Baseline: r.cfg.Compare.BaseURL(),
		Samples: map[string][2][]float64{}, NoPDF: !r.caps.API().PDF, keep: func(ab *evidence.AB) { r.ab = ab }}
	base, baseSeeder, err := r.compareClients()
	if err != nil {
		return g, err
	}
	rows := r.cfg.CompareRows
	if rows <= 0 {
		rows = 5 * r.cfg.LoadRows
	}
	records, _ := r.storable(r.schema, seed.Generate(r.cfg.Seed+3, rows, 1))
	ds := &dataset{name: r.datasetName("ab"), schema: r.schema, records: records}
	for _, side := range []struct {
		what string
		s    *seed.Client
	}{{"candidate", r.seeder}, {"baseline", baseSeeder}} {
		r.say(fmt.Sprintf("A/B: seeding %d records into %s on the %s", len(records), ds.name, side.what))
		if err := seedOnly(ctx, side.s, ds); err != nil {
			return g, fmt.Errorf("the %s: %w", side.what, err)
		}
	}
	all, _ := allVariants(len(records))
	_, pdfOpts := variants(len(records), r.caps.API())
	csvExp, err := r.expectAll(ds, supported(all[:5], r.caps.API()))
	if err != nil {
		return g, err
	}
	pdfExp, err := r.expectAll(ds, r.withinPDFLimit(pdfOpts, len(records)))
	if err != nil {
		return g, err
	}
	n := r.cfg.ComparePairs
	if n <= 0 {
		n = defaultComparePairs
	}
	jobs := load.Plan(n, r.cfg.PDFShare, csvExp, pdfExp)
	r.say(fmt.Sprintf("A/B: %d pairs of exports (%.0f%% PDF), the two of each pair sent at the same moment to %s and %s",
		len(jobs), r.cfg.PDFShare*100, g.Candidate, g.Baseline))
	ok := make([][2]bool, len(jobs))
	pairs, err := load.Interleave(ctx, load.ABConfig{A: r.exports, B: base, Jobs: jobs, Timeout: 2 * time.Minute,
		Bound: 4 * time.Minute, Verify: func(i int, a, b *export.Received) {
			ok[i] = [2]bool{r.abVerified(&g, "candidate", a), r.abVerified(&g, "baseline", b)}
		}})
	if err != nil {
		return g, err
	}
	g.Pairs = len(pairs)
	if len(pairs) < len(jobs) {
		g.Notes = append(g.Notes, fmt.Sprintf("%d of %d pairs were sent before the A/B run's bound", len(pairs), len(jobs)))
	}
	for _, p := range pairs {
		if !ok[p.Job][0] || !ok[p.Job][1] {
			continue // a wrong export is not timed; its pair is left out
		}
		s := g.Samples[jobs[p.Job].Format]
		s[0], s[1] = append(s[0], p.A.Latency.Seconds()), append(s[1], p.B.Latency.Seconds())
		g.Samples[jobs[p.Job].Format] = s
	}
	return g, nil
}

// withinPDFLimit are opts, each PDF export limited to the exporter's --pdf-max-rows when it would
// ask for more (the A/B dataset is larger than the load set, so that its CSV exports are long
// enough to time well). An API without limit= keeps only the options that fit.
func (r *Run) withinPDFLimit(opts []export.Options, rows int) []export.Options {
	max := r.cfg.Limits.PDFMaxRows
	var out []export.Options
	for _, o := range opts {
		n := rows - int(min(int64(rows), o.After))
		if o.Limit > 0 {
			n = min(n, o.Limit)
		}
		switch {
		case max <= 0 || n <= max:
			out = append(out, o)
		case r.caps.API().Limit:
			o.Limit = max
			out = append(out, o)
		}
	}
	return out
}

// abVerified verifies one side's export in full, off the clock: a wrong export of the candidate
// fails the check, one of the baseline is a note (the baseline is not what is judged).
func (r *Run) abVerified(g *regressing, side string, rec *export.Received) bool {
	var failure string
	if rec.Format == export.PDF {
		failure = rec.PDF().Failure()
	} else {
		failure = rec.CSV().Failure()
	}
	if failure == "" || failure == "content_headers" { // A2 judges headers; the body is whole and right
		return true
	}
	line := fmt.Sprintf("%s %s %s: %s%s", side, rec.Format, rec.Path, failure, describeFetch(rec.Fetch))
	if side == "candidate" {
		g.Failures = append(g.Failures, line)
	} else {
		g.Notes = append(g.Notes, line)
	}
	return false
}

// compareClients are the export and seed clients of the compare target, each over an HTTP client
// of its own (so neither side's connections wait on the other's).
func (r *Run) compareClients() (*export.Client, *seed.Client, error) {
	a, err := api.New(r.cfg.Profile, r.cfg.Compare.BaseURL(), secrets(r.cfg.Profile, r.cfg.Compare))
	if err != nil {
		return nil, nil, err
	}
	d, err := a.Dialect()
	if err != nil {
		return nil, nil, err
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	proof := a.Proof()
	return &export.Client{API: a, HTTP: hc, Dialect: &d, Proof: &proof}, &seed.Client{API: a.Seeder(), HTTP: hc}, nil
}

// seedOnly creates ds on one deployment and loads its records in batches.
func seedOnly(ctx context.Context, s *seed.Client, ds *dataset) error {
	created, err := s.CreateDataset(ctx, ds.name, ds.schema)
	switch {
	case err != nil:
		return fmt.Errorf("creating dataset %s: %w", ds.name, err)
	case !created:
		return fmt.Errorf("dataset %s already exists: are the candidate and the baseline one deployment?", ds.name)
	}
	_, err = s.Seed(ctx, seed.Job{Dataset: ds.name, Schema: ds.schema, Records: ds.records, Mode: seed.ModeBatch, ChunkSize: 2000})
	return err
}

// judgeRegression tests each measure's pairs and fails the check on a regression: significant,
// and slower than the minimum effect.
func judgeRegression(th Thresholds, g regressing) evidence.Check {
	b := &builder{th: th}
	slow, okS := th[ruleSlowdown]
	sig, okP := th[ruleP]
	for name, ok := range map[string]bool{ruleSlowdown: okS, ruleP: okP} {
		if !ok {
			b.fail("no threshold for %s", name)
		}
	}
	ab := &evidence.AB{Candidate: g.Candidate, Baseline: g.Baseline, Method: "wilcoxon-signed-rank"}
	b.info("regression.pairs", float64(g.Pairs), "pairs")
	tested, untested := 0, []string{}
	for _, m := range abMeasures {
		s := g.Samples[m.format]
		am := evidence.ABMeasure{Name: m.key + "_seconds", Label: m.label, Unit: "s", Candidate: s[0], Baseline: s[1], Verdict: "untested"}
		switch {
		case m.format == export.PDF && g.NoPDF:
			am.Note = "the API judged has no PDF"
			b.notApplicable("regression."+m.key+"_slowdown_percent", am.Note)
		case len(s[0]) < abMinPairs:
			am.Note = fmt.Sprintf("%d pairs completed correctly on both sides, fewer than the %d a test needs", len(s[0]), abMinPairs)
			b.note(m.label + ": not tested: " + am.Note)
			untested = append(untested, m.label)
		default:
			tested++
			judgeABMeasure(b, &am, m.key, slow, sig, okS && okP)
		}
		ab.Measures = append(ab.Measures, am)
	}
	switch {
	case tested == 0:
		b.notRun = "no measure had enough pairs to test: the A/B comparison decided nothing"
	case len(untested) > 0: // a regression there would go unseen: never a pass
		b.notRun = strings.Join(untested, ", ") + ": too few pairs to test, so a regression there could not be judged"
	}
	for _, f := range g.Failures {
		b.fail("%s", f)
	}
	for _, n := range g.Notes {
		b.note(n)
	}
	b.note(fmt.Sprintf("candidate %s against baseline %s in the same run, exports in pairs sent at the same moment; a regression is a slowdown with signed-rank p %s and a Hodges–Lehmann estimate that breaks %s %s",
		g.Candidate, g.Baseline, negate(sig), slow.Op, ruleValue(slow)))
	if g.keep != nil {
		g.keep(ab)
	}
	return b.check()
}

// judgeABMeasure tests one measure's pairs and records its effect; a regression fails the check.
func judgeABMeasure(b *builder, am *evidence.ABMeasure, key string, slow, sig evidence.Rule, rules bool) {
	res, err := compare.ComparePaired(am.Candidate, am.Baseline, abConfidence)
	if err != nil {
		b.fail("%s: %v", am.Label, err)
		return
	}
	am.Ratio, am.Low, am.High, am.Confidence, am.P, am.PUnpaired = res.Ratio, res.Low, res.High, res.Confidence, res.P, res.PU
	pre := "regression." + key
	b.info(pre+"_slowdown_percent", 100*(res.Ratio-1), "%")
	b.info(pre+"_slowdown_low_percent", 100*(res.Low-1), "%")
	b.info(pre+"_slowdown_high_percent", 100*(res.High-1), "%")
	b.info(pre+"_p_value", res.P, "p")
	b.info(pre+"_p_value_unpaired", res.PU, "p")
	b.info(pre+"_pairs", float64(res.N), "pairs")
	effect := fmt.Sprintf("%s: candidate/baseline %.3f× (%+.1f %%), %.0f %% CI %.3f–%.3f×, signed-rank p = %.2g over %d pairs (unpaired U test p = %.2g)",
		am.Label, res.Ratio, 100*(res.Ratio-1), 100*res.Confidence, res.Low, res.High, res.P, res.N, res.PU)
	significant := rules && !sig.Holds(res.P)
	switch {
	case significant && !slow.Holds(100*(res.Ratio-1)):
		am.Verdict = "regression"
		b.fail("%s: a regression (slowdown breaks %s %s)", effect, slow.Op, ruleValue(slow))
	case significant && res.Ratio < 1:
		am.Verdict = "improvement"
		b.note(effect + ": faster")
	case significant:
		am.Verdict = "same"
		b.note(effect + ": significant, but within the minimum effect")
	default:
		am.Verdict = "same"
		b.note(effect + ": not significant")
	}
}

// negate is the condition that breaks r, as text ("< 0.05" for ">= 0.05").
func negate(r evidence.Rule) string {
	op := map[string]string{"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!="}[r.Op]
	return op + " " + ruleValue(r)
}

func ruleValue(r evidence.Rule) string {
	v := strings.TrimSuffix(fmt.Sprintf("%g", r.Value), ".0")
	if r.Unit != "" && r.Unit != "p" {
		v += " " + r.Unit
	}
	if math.IsNaN(r.Value) {
		return "?"
	}
	return v
}

// AB is the regression check's A/B comparison, for the report's side-by-side charts; nil before
// it ran or without a compare target.
func (r *Run) AB() *evidence.AB { return r.ab }

// regressionCheck compares the candidate with a baseline deployment run beside it (same limits,
// same moments): required when a compare target was given, not run otherwise. It is the
// fine-grained check of a release; the cross-run baseline check is the coarse one.
var regressionCheck = define(Def{ID: "regression", Title: "no regression against a baseline deployment in the same run (A/B)",
	Spec:    "the candidate is not slower than a baseline deployment beside it, exports interleaved in pairs (A/B)",
	Labels:  []string{"regression", "ab"},
	Timeout: 6 * time.Minute,
	Applies: needs(func(c Capabilities) bool { return c.Compare }, "no --compare-image or --compare-url was given")}, measureRegression, judgeRegression)
