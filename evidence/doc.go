// Package evidence turns the measurements of an acceptance run into a verdict and a bundle of
// evidence that can be checked afterwards.
//
// The package keeps measuring, judging and rendering apart. The harness measures and hands over
// plain numbers; Judge compares each one with a threshold looked up by name and records that rule
// inside the resulting Measure; NewCheck groups measures into a Check; Decide computes the run's
// Verdict from the checks alone. Nothing is GREEN because someone wrote GREEN.
//
// # Thresholds
//
// Thresholds are data: thresholds.json, embedded as the defaults, maps measure names such as
// "a3.csv_p95_seconds" to a Rule {op, value, unit}. LoadThresholds overlays an optional file on
// them. The rules a run was judged by are recorded in Report.Thresholds and next to every measure;
// EVIDENCE.md shows the default beside every rule a file changed, and marks a rule it added.
// A measure is judged with exact comparison; a NaN fails every rule, and a measure whose unit
// differs from its rule's unit fails with a note, so a value in the wrong unit cannot pass.
//
// # Verdict
//
// GREEN needs every required check present and passed. RED needs evidence of a defect: a measure
// that breaks its rule, or a failure line on a check that ran; RED wins over NOT RUN, because a
// real defect must be reported even when the run was incomplete. Everything else — a required check
// skipped, pending, interrupted, absent, or marked failed with nothing to show for it, an empty
// list of required checks — is NOT RUN. Decide documents the exact precedence. ExitCode maps the
// verdicts to 0, 1 and 2.
//
// # Profiles: not applicable and waived
//
// A run driven by a profile of a third-party export API (Report.Profile) may find that a check or
// a measure cannot apply to that API: a check of StatusNotApplicable with its Reason, a measure
// with NotApplicable set. Neither counts towards the verdict, but neither can hide a defect: a
// not-applicable check with a failing measure or a failure line is failed, and one the run
// requires counts as not run. A profile may also waive a measure (Measure.Waived): it keeps its
// value, rule and judgement, and does not fail its check. Report.NotApplicable and Report.Waived
// list them for the renderers, and Report.Headline is the verdict line that says so, e.g.
// "GREEN — 4 checks not applicable to this API (profile clickhouse)".
//
// # Rendering and the bundle
//
// This package is the model only, and a leaf: it imports nothing but the standard library (a test
// holds it to that), so every other package can read it without pulling in a test framework or a
// plotting library. Package evidence/render turns a Report into EVIDENCE.md, evidence.json,
// junit.xml and EVIDENCE.html and writes the bundle (render.WriteBundle); package
// scenarios/ginkgoreport turns a Ginkgo report into checks.
//
// A bundle holds those four files plus any extra files of the run (metric scrapes, Ginkgo's
// report, logs) and a SHA256SUMS covering every file. VerifyBundle, and the evidence command built
// on it (cmd/evidence), re-hash the bundle and re-decide its verdict, so a bundle edited after the
// run does not verify.
package evidence
