package compare

import (
	"errors"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"
)

// Paired is the comparison of a candidate with a baseline measured in pairs: candidate[i] and
// baseline[i] were sent at the same moment (an A/B run), so both saw the same machine. The effect
// is the ratio candidate/baseline, estimated on the log scale so that a pair 30 % slower counts
// the same for a short export as for a long one.
type Paired struct {
	N int `json:"n"` // pairs
	// Ratio is the Hodges–Lehmann estimate of candidate/baseline (the median of the Walsh averages
	// of the pairs' log ratios, exponentiated); Low and High its rank-based confidence interval at
	// Confidence, read off the sorted Walsh averages with the signed-rank statistic's quantiles.
	Ratio      float64 `json:"ratio"`
	Low        float64 `json:"low"`
	High       float64 `json:"high"`
	Confidence float64 `json:"confidence"`
	// P is the two-sided p-value of the Wilcoxon signed-rank test on the pairs' log ratios: exact
	// for up to exactMax pairs without ties, else the normal approximation with the tie correction
	// and a continuity correction.
	P float64 `json:"p"`
	// PU is the p-value of benchmath's Mann–Whitney U test on the two samples as unpaired, the
	// test the cross-run baseline uses: recorded beside P to show what the pairing buys.
	PU float64 `json:"p_mann_whitney_u"`
}

// exactMax is the largest number of pairs whose signed-rank distribution is counted exactly.
const exactMax = 60

// ComparePaired compares candidate with baseline pair by pair (same length, every value > 0).
// confidence is the interval's level, e.g. 0.95.
func ComparePaired(candidate, baseline []float64, confidence float64) (Paired, error) {
	if len(candidate) != len(baseline) {
		return Paired{}, errors.New("compare: candidate and baseline must have as many values")
	}
	if confidence <= 0 || confidence >= 1 {
		return Paired{}, errors.New("compare: confidence must be within (0, 1)")
	}
	d := make([]float64, len(candidate))
	for i := range candidate {
		if !(candidate[i] > 0) || !(baseline[i] > 0) || math.IsInf(candidate[i], 0) || math.IsInf(baseline[i], 0) {
			return Paired{}, errors.New("compare: every paired value must be finite and > 0")
		}
		d[i] = math.Log(candidate[i] / baseline[i])
	}
	if len(d) < 2 {
		return Paired{}, errors.New("compare: at least 2 pairs are needed")
	}
	res := Paired{N: len(d), Confidence: confidence, P: signedRankP(d)}
	walsh := walshAverages(d)
	res.Ratio = math.Exp(median(walsh))
	k := ciRank(len(d), 1-confidence)
	res.Low, res.High = math.Exp(walsh[k]), math.Exp(walsh[len(walsh)-1-k])
	th := &benchmath.Thresholds{CompareAlpha: 1 - confidence}
	cmp := benchmath.AssumeNothing.Compare(benchmath.NewSample(slices.Clone(baseline), th), benchmath.NewSample(slices.Clone(candidate), th))
	res.PU = cmp.P
	return res, nil
}

// walshAverages are (d[i]+d[j])/2 for every i ≤ j, sorted.
func walshAverages(d []float64) []float64 {
	w := make([]float64, 0, len(d)*(len(d)+1)/2)
	for i := range d {
		for j := i; j < len(d); j++ {
			w = append(w, (d[i]+d[j])/2)
		}
	}
	slices.Sort(w)
	return w
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// signedRankP is the two-sided p-value of the signed-rank test of d against a median of 0. Zero
// differences are dropped (Wilcoxon's convention); tied magnitudes share their average rank.
func signedRankP(d []float64) float64 {
	var nz []float64
	for _, v := range d {
		if v != 0 {
			nz = append(nz, v)
		}
	}
	n := len(nz)
	if n == 0 {
		return 1
	}
	ranks, ties := absRanks(nz)
	var wPlus float64
	for i, v := range nz {
		if v > 0 {
			wPlus += ranks[i]
		}
	}
	if n <= exactMax && ties == 0 {
		cdf := signedRankCDF(n)
		w := int(math.Round(wPlus))
		lower := cdf[w]
		upper := 1.0
		if w > 0 {
			upper = 1 - cdf[w-1]
		}
		return min(1, 2*min(lower, upper))
	}
	mean := float64(n*(n+1)) / 4
	sd := math.Sqrt(float64(n*(n+1)*(2*n+1))/24 - ties/48)
	z := (math.Abs(wPlus-mean) - 0.5) / sd
	return min(1, math.Erfc(max(z, 0)/math.Sqrt2))
}

// absRanks ranks |v| from 1, ties taking their average rank, and returns the tie term
// Σ(t³ − t) over the groups of t tied values.
func absRanks(v []float64) (ranks []float64, ties float64) {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		x, y := math.Abs(v[a]), math.Abs(v[b])
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	ranks = make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && math.Abs(v[idx[j+1]]) == math.Abs(v[idx[i]]) {
			j++
		}
		for k := i; k <= j; k++ {
			ranks[idx[k]] = float64(i+j)/2 + 1
		}
		if t := float64(j - i + 1); t > 1 {
			ties += t*t*t - t
		}
		i = j + 1
	}
	return ranks, ties
}

// signedRankCDF is P(W⁺ ≤ w) for w = 0 … n(n+1)/2 under the null hypothesis: each rank's sign a
// fair coin, counted exactly.
func signedRankCDF(n int) []float64 {
	m := n * (n + 1) / 2
	counts := make([]float64, m+1)
	counts[0] = 1
	for r := 1; r <= n; r++ {
		for w := m; w >= r; w-- {
			counts[w] += counts[w-r]
		}
	}
	total := math.Ldexp(1, n)
	cdf := make([]float64, m+1)
	acc := 0.0
	for w, c := range counts {
		acc += c
		cdf[w] = acc / total
	}
	return cdf
}

// ciRank is the 0-based rank k of the sorted Walsh averages that bounds the two-sided interval
// of level at least 1 − alpha: [w[k], w[M−1−k]], k the largest with P(W⁺ ≤ k) ≤ alpha/2 (exactly
// up to exactMax pairs, by the normal approximation beyond). With too few pairs for that level
// the interval is every Walsh average's range (k = 0).
func ciRank(n int, alpha float64) int {
	if n <= exactMax {
		cdf := signedRankCDF(n)
		k := 0
		for k+1 < len(cdf)/2 && cdf[k+1] <= alpha/2 {
			k++
		}
		return k
	}
	mean := float64(n*(n+1)) / 4
	sd := math.Sqrt(float64(n*(n+1)*(2*n+1)) / 24)
	z := math.Sqrt2 * math.Erfinv(1-alpha)
	return max(0, int(math.Floor(mean-z*sd-0.5)))
}
