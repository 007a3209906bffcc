package compare

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The exact signed-rank distribution against values counted by hand: n = 5 has 32 equally likely
// sign patterns, one with W⁺ = 0, one with 1, two with 3 or less … and 10 the critical value of
// the published tables (n = 10, two-sided α = 0.05: reject when W⁺ ≤ 8).
func TestSignedRankCDF(t *testing.T) {
	cdf := signedRankCDF(5)
	for w, want := range map[int]float64{0: 1.0 / 32, 1: 2.0 / 32, 3: 5.0 / 32, 15: 1} {
		if math.Abs(cdf[w]-want) > 1e-12 {
			t.Errorf("n=5: P(W+ <= %d) = %v, want %v", w, cdf[w], want)
		}
	}
	cdf = signedRankCDF(10)
	if !(cdf[8] <= 0.025 && cdf[9] > 0.025) {
		t.Errorf("n=10: P(W+ <= 8) = %v, P(W+ <= 9) = %v: the tables' critical value is 8", cdf[8], cdf[9])
	}
	if k := ciRank(10, 0.05); k != 8 {
		t.Errorf("ciRank(10, 0.05) = %d, want 8 (the 9th Walsh average)", k)
	}
	if k := ciRank(6, 0.05); k != 0 {
		t.Errorf("ciRank(6, 0.05) = %d, want 0 (min and max: 96.9 %% coverage)", k)
	}
}

func TestSignedRankP(t *testing.T) {
	// Five positive differences: the most extreme of 32 patterns on either side.
	if p := signedRankP([]float64{1, 2, 3, 4, 5}); math.Abs(p-2.0/32) > 1e-12 {
		t.Errorf("all positive, n=5: p = %v, want 1/16", p)
	}
	// Symmetric differences: no evidence at all.
	if p := signedRankP([]float64{-1, 1, -2, 2, -3, 3}); p < 0.9 {
		t.Errorf("symmetric: p = %v, want about 1", p)
	}
	// The normal approximation (ties) agrees with the exact count on a large sample.
	d := make([]float64, 40)
	for i := range d {
		d[i] = float64(i%7) - 2.5 + 0.25
	}
	exact := signedRankP(append([]float64{}, 0.01, 0.02)) // two positive: p = 2 × 1/4
	if math.Abs(exact-0.5) > 1e-12 {
		t.Errorf("two positive: p = %v, want 0.5", exact)
	}
	if p := signedRankP(d); !(p > 0 && p <= 1) {
		t.Errorf("tied sample: p = %v, want within (0, 1]", p)
	}
}

// A candidate exactly 30 % slower under a common noise that varies pair to pair far more than 30 %
// (a busy machine): the pairs cancel the noise, so the estimate is 1.3 and the test certain; the
// same samples unpaired leave the U test much less sure. Healthy against healthy, the interval
// holds 1.
func TestComparePaired(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 40
	var base, slow, same []float64
	for range n {
		machine := math.Exp(rng.NormFloat64() * 0.6) // the pair's shared noise: ×0.3 to ×3
		own := func() float64 { return math.Exp(rng.NormFloat64() * 0.05) }
		base = append(base, 0.05*machine*own())
		slow = append(slow, 0.05*1.3*machine*own())
		same = append(same, 0.05*machine*own())
	}
	got, err := ComparePaired(slow, base, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.Ratio-1.3) > 0.05 || got.Low > 1.3 || got.High < 1.3 || got.P > 1e-6 {
		t.Errorf("30 %% slower: %+v, want a ratio near 1.3 inside its interval, p tiny", got)
	}
	if got.PU < got.P {
		t.Errorf("the unpaired U test (p %v) should be less sure than the paired one (p %v)", got.PU, got.P)
	}
	healthy, err := ComparePaired(same, base, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if healthy.Low > 1 || healthy.High < 1 || healthy.P < 0.01 {
		t.Errorf("healthy against healthy: %+v, want an interval holding 1", healthy)
	}
}

func TestComparePairedErrors(t *testing.T) {
	for name, c := range map[string]struct{ a, b []float64 }{
		"lengths":  {[]float64{1, 2}, []float64{1}},
		"zero":     {[]float64{1, 0}, []float64{1, 1}},
		"negative": {[]float64{1, 1}, []float64{-1, 1}},
		"one pair": {[]float64{1}, []float64{1}},
		"NaN":      {[]float64{1, math.NaN()}, []float64{1, 1}},
	} {
		if _, err := ComparePaired(c.a, c.b, 0.95); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
