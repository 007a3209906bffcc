// Package compare judges one acceptance run against another, a baseline, and follows a series of
// runs over time. It reads evidence bundles and compares the measures they share.
//
// It keeps measuring, judging and rendering apart, as package evidence does. Load reads a bundle
// (evidence.json and the load test's samples in load-result.json, each checked against the
// bundle's SHA256SUMS); Compare judges two bundles by Rules and NewHistory follows the main
// measures over many, both as plain data; RenderTable, RenderHistory and RenderHistoryHTML (one
// self-contained page, a chart per measure drawn by gonum/plot as inline SVG) only write what
// they are given.
//
// # What is judged, and by which rule
//
// The rules are data: evidence/baseline.json, embedded in package evidence next to the thresholds
// (DefaultRules). Three kinds of measure are judged differently:
//
//   - Distributions are the load test's per-export samples: latency, time to first byte and
//     streaming rate, per format. A distribution regresses when a Mann–Whitney U test
//     (benchmath.AssumeNothing, as benchstat uses) rejects "same distribution" at the rules' α
//     and the median moved the bad way by at least the rule's minimum change. A significant move
//     smaller than that is the machine's noise, not a regression: the minimums are set above the
//     largest moves between ten healthy runs.
//   - Counts (failed exports, missing rows, …) are compared exactly: any change is reported, and
//     one the bad way is a regression. A count without a worse direction (exports planned, 429s
//     of a burst) is only reported as changed.
//   - Every other measure of evidence.json is information, shown with its delta, unless a scalar
//     rule gives it a worse direction and a minimum change.
//
// # The baseline check
//
// BaselineCheck is the check "baseline" of an acceptance run given a baseline: RED on a regression,
// each named in a failure line with both values and its rule, and NOT RUN — never passed — when
// the baseline cannot be read or nothing could be tested against it.
package compare
