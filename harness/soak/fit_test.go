package soak_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/soak"
)

// TestTheilSenLine recovers a line's slope and intercept exactly.
func TestTheilSenLine(t *testing.T) {
	xs, ys := []float64{0, 1, 2, 3, 4}, []float64{5, 7, 9, 11, 13}
	f, err := soak.TheilSen(xs, ys)
	if err != nil {
		t.Fatal(err)
	}
	if f.Slope != 2 || f.Intercept != 5 || f.Residual != 0 || f.Points != 5 {
		t.Errorf("fit %+v, want slope 2, intercept 5, residual 0, 5 points", f)
	}
	if f.Low > 2 || f.High < 2 {
		t.Errorf("bounds [%v, %v] leave out the slope 2", f.Low, f.High)
	}
}

// TestTheilSenSpikes: a sawtooth of collections and a few wild samples near the ends, which tilt
// a least-squares line, leave the robust slope near the true one (flat here).
func TestTheilSenSpikes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var xs, ys []float64
	for i := range 120 {
		xs = append(xs, float64(i))
		y := 100e6 + float64(i%7)*1e6 + rng.NormFloat64()*2e5 // GC sawtooth and noise, no trend
		if i >= 112 {
			y += 40e6 // a burst at the end
		}
		ys = append(ys, y)
	}
	f, err := soak.TheilSen(xs, ys)
	if err != nil {
		t.Fatal(err)
	}
	ls := leastSquares(xs, ys)
	if math.Abs(f.Slope) > 30e3 {
		t.Errorf("Theil–Sen slope %.0f per step, want about 0 (least squares: %.0f)", f.Slope, ls)
	}
	if ls < 100e3 {
		t.Errorf("least squares slope %.0f: the case no longer shows what it is for", ls)
	}
}

// TestTheilSenTrend recovers a leak's slope under the same noise.
func TestTheilSenTrend(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var xs, ys []float64
	for i := range 200 {
		xs = append(xs, float64(i))
		ys = append(ys, 50e6+16384*float64(i)+float64(i%9)*5e5+rng.NormFloat64()*3e5)
	}
	f, err := soak.TheilSen(xs, ys)
	if err != nil {
		t.Fatal(err)
	}
	if f.Slope < 12e3 || f.Slope > 21e3 {
		t.Errorf("slope %.0f, want about 16384", f.Slope)
	}
}

func TestTheilSenRefuses(t *testing.T) {
	for _, c := range []struct{ xs, ys []float64 }{
		{[]float64{1, 2}, []float64{1, 2}},
		{[]float64{1, 1, 1}, []float64{1, 2, 3}},
		{[]float64{1, 2, 3}, []float64{1, 2}},
	} {
		if _, err := soak.TheilSen(c.xs, c.ys); err == nil {
			t.Errorf("TheilSen(%v, %v) fitted", c.xs, c.ys)
		}
	}
}

// TestQuantity leaves the warm-up out of the fits, keeps its points, and fits per export.
func TestQuantity(t *testing.T) {
	origin := time.Now()
	start := origin.Add(10 * time.Second)
	var samples []soak.Sample
	for i := range 60 {
		at := start.Add(time.Duration(i) * time.Second)
		v := 1e6 + 2048*float64(4*i) // 2 KiB per export, 4 exports a second
		if i < 10 {
			v = 1e5 * float64(i) // the warm-up: a steep rise
		}
		samples = append(samples, soak.Sample{At: at, Exports: int64(4 * i), Values: map[string]float64{"memory": v}})
	}
	samples = append(samples, soak.Sample{At: start.Add(time.Minute), Exports: 240, Values: map[string]float64{}})
	q := soak.Quantity(evidence.SoakQuantity{Name: "memory", Missing: "not read"}, samples, origin, start.Add(10*time.Second))
	if len(q.Points) != 60 || q.Missing != "" {
		t.Fatalf("%d points, missing %q; want 60, none", len(q.Points), q.Missing)
	}
	if q.PerExport == nil || math.Abs(q.PerExport.Slope-2048) > 1e-6 {
		t.Errorf("per export %+v, want slope 2048", q.PerExport)
	}
	if q.PerHour == nil || math.Abs(q.PerHour.Slope-2048*4*3600) > 1e-3 {
		t.Errorf("per hour %+v, want slope %d", q.PerHour, 2048*4*3600)
	}
	none := soak.Quantity(evidence.SoakQuantity{Name: "open_fds", Missing: "not exposed"}, samples, origin, start)
	if none.Missing != "not exposed" || none.Points != nil || none.PerHour != nil {
		t.Errorf("a quantity never read: %+v", none)
	}
}

func leastSquares(xs, ys []float64) float64 {
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	return num / den
}
