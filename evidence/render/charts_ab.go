package render

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/exportatscale/exportatscale/evidence"
)

// abCharts draw the regression check's A/B comparison: for each measure, the candidate's and the
// baseline's distributions side by side (box plots on a log axis, every pair's two values as
// points), titled with the effect and its interval. None without a comparison.
func abCharts(r evidence.Report) []chart {
	if r.AB == nil {
		return nil
	}
	var out []chart
	for _, m := range r.AB.Measures {
		out = append(out, drawChart("ab-"+m.Name, "A/B: "+m.Label+", candidate beside baseline", abFigure(r.AB, m)))
	}
	return out
}

// abFigure is one measure of the A/B comparison: baseline at x = 0, candidate at x = 1.
func abFigure(ab *evidence.AB, m evidence.ABMeasure) figure {
	if len(m.Candidate) == 0 || len(m.Candidate) != len(m.Baseline) {
		return figure{missing: "no pair of " + m.Label + " completed correctly on both sides"}
	}
	p, lg := newPlot("", m.Label+" ("+m.Unit+", log scale)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.TickerFunc(logTicks)
	p.X.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "baseline"}, {Value: 1, Label: "candidate"}}
	p.X.Min, p.X.Max = -0.6, 1.6
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, side := range []struct {
		label  string
		values []float64
		c      color.Color
	}{{"baseline", m.Baseline, colorRef}, {"candidate", m.Candidate, colorCSV}} {
		box, err := plotter.NewBoxPlot(vg.Points(40), float64(i), plotter.Values(side.values))
		if err != nil {
			return figure{missing: "the distribution cannot be drawn: " + err.Error()}
		}
		box.BoxStyle.Color, box.MedianStyle.Color = side.c, side.c
		p.Add(box)
		pts := make(plotter.XYs, len(side.values))
		for j, v := range side.values {
			pts[j] = plotter.XY{X: float64(i) + 0.28 + 0.1*float64(j%5)/5, Y: v}
			lo, hi = min(lo, v), max(hi, v)
		}
		s := scatter(pts, side.c, draw.CircleGlyph{}, vg.Points(1.6))
		p.Add(s)
		lg.Add(fmt.Sprintf("%s (%d)", side.label, len(side.values)), s)
	}
	if !(lo > 0) {
		return figure{missing: "a value of 0 or less cannot be drawn on a log axis"}
	}
	if lo == hi {
		lo, hi = lo/2, hi*2
	}
	p.Y.Min, p.Y.Max = lo*0.9, hi*1.1
	caption := fmt.Sprintf("%s of %d pairs, the two exports of each pair sent at the same moment to the candidate (%s) and the baseline (%s). ",
		m.Label, len(m.Candidate), ab.Candidate, ab.Baseline)
	if m.Ratio > 0 {
		caption += fmt.Sprintf("Candidate/baseline %.3f× (Hodges–Lehmann), %.0f %% CI %.3f–%.3f×; %s p = %.2g (unpaired U test p = %.2g): %s.",
			m.Ratio, 100*m.Confidence, m.Low, m.High, ab.Method, m.P, m.PUnpaired, m.Verdict)
	} else {
		caption += "Not tested: " + m.Note + "."
	}
	return figure{plot: p, legend: lg, caption: caption}
}
