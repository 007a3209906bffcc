// Package soak holds what a soak needs beyond the open-model load driver: the robust fit of a
// quantity's slope (fit.go) and the sampler that reads the exporter's memory, file descriptors
// and goroutines while the load runs (sample.go).
package soak

import (
	"errors"
	"math"
	"slices"

	"github.com/exportatscale/exportatscale/evidence"
)

// MethodTheilSen names the fit in the evidence.
const MethodTheilSen = "Theil–Sen: median of the pairwise slopes; slope bounds by Sen's 95 % rank interval; " +
	"intercept the median of value − slope·x"

// maxFitPoints bounds the points a fit takes: the pairwise slopes grow as its square. A longer
// series is thinned evenly before fitting.
const maxFitPoints = 800

// Why Theil–Sen rather than least squares. A garbage-collected exporter's memory is a sawtooth
// (the heap grows to its goal, a collection frees it; the outside figure follows in steps) and an
// engine's stats come in steps of about a second. Least squares weighs every point by its squared
// distance, so one collection or one spike near either end of a short soak tilts the line, and a
// short soak has little in between to outweigh it. The median of the pairwise slopes ignores up
// to 29 % of wild points, needs no model of the noise, and on a straight line with symmetric
// noise it is as good as least squares. The warm-up (heap growing to its working size, pools
// filling, connections opening) is left out by the caller, since it is a real rise that a leak
// judge must not extrapolate. Samples are not independent (one GC cycle spans several), so the
// bounds are narrower than the truth: they are for a reader to weigh the figure, not judged.

// TheilSen fits y ≈ intercept + slope·x. It needs at least three points and two distinct x.
func TheilSen(xs, ys []float64) (evidence.Fit, error) {
	if len(xs) != len(ys) {
		return evidence.Fit{}, errors.New("soak fit: x and y differ in length")
	}
	xs, ys = thin(xs, maxFitPoints), thin(ys, maxFitPoints)
	n := len(xs)
	if n < 3 {
		return evidence.Fit{}, errors.New("soak fit: fewer than three points")
	}
	slopes := make([]float64, 0, n*(n-1)/2)
	for i := range n {
		for j := i + 1; j < n; j++ {
			if dx := xs[j] - xs[i]; dx != 0 {
				slopes = append(slopes, (ys[j]-ys[i])/dx)
			}
		}
	}
	if len(slopes) == 0 {
		return evidence.Fit{}, errors.New("soak fit: every point has the same x")
	}
	slices.Sort(slopes)
	slope := median(slopes)
	rest := make([]float64, n)
	for i := range n {
		rest[i] = ys[i] - slope*xs[i]
	}
	intercept := median(slices.Sorted(slices.Values(rest)))
	for i := range n {
		rest[i] = math.Abs(ys[i] - intercept - slope*xs[i])
	}
	lo, hi := senBounds(slopes, n)
	return evidence.Fit{Method: MethodTheilSen, Slope: slope, Intercept: intercept, Low: lo, High: hi,
		Residual: median(slices.Sorted(slices.Values(rest))), Points: n}, nil
}

// senBounds is Sen's (1968) 95 % interval of the slope: the pairwise slopes at the ranks
// (N ∓ z·σ)/2, σ² = n(n−1)(2n+5)/18 being the variance of Kendall's S without ties.
func senBounds(sorted []float64, n int) (lo, hi float64) {
	N := float64(len(sorted))
	c := 1.96 * math.Sqrt(float64(n*(n-1)*(2*n+5))/18)
	at := func(r float64) float64 { // rank r, 1-based, clamped
		i := int(math.Round(r)) - 1
		return sorted[min(max(i, 0), len(sorted)-1)]
	}
	return at((N - c) / 2), at((N+c)/2 + 1)
}

// median of sorted values (not empty).
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// thin keeps at most max of s, evenly spread, the first and the last kept.
func thin(s []float64, max int) []float64 {
	if len(s) <= max {
		return s
	}
	out := make([]float64, max)
	for i := range max {
		out[i] = s[i*(len(s)-1)/(max-1)]
	}
	return out
}
