// Package render turns an evidence.Report into the files of an evidence bundle and writes the
// bundle.
//
// Markdown (EVIDENCE.md), JSON (evidence.json), JUnit (junit.xml) and HTML (EVIDENCE.html) are
// plain func(io.Writer, evidence.Report) error. They read no clock and no environment: the same
// Report always renders to the same bytes, which the golden tests in testdata/ hold them to.
// EVIDENCE.html is EVIDENCE.md as one self-contained page (inline CSS, no script, nothing
// fetched) with SVG charts drawn by gonum/plot from Report.Series — latency distributions, latency
// and streaming rate over the run, memory over its windows, the probes' answers over time — and
// the baseline comparison (Report.Baseline) when there is one; package evidence/browser opens it
// in headless Chromium.
//
// WriteBundle writes all four plus any extra files of the run and a SHA256SUMS covering every
// file; evidence.VerifyBundle checks what it wrote.
package render
