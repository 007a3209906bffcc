package render

import (
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/human"
)

// capacityChart is the capacity check's ramp: offered and achieved rate per step above, each
// format's p95 latency from the intended send time per step below, on one timeline, the knee
// marked in both.
func capacityChart(r evidence.Report, timeline string) chart {
	const id, title = "capacity", "Capacity ramp: offered and achieved rate, p95 latency, the knee"
	c := r.Series.Capacity
	if c == nil || len(c.Steps) == 0 {
		return chart{ID: id, Title: title, Missing: "the capacity check ran no step of its ramp"}
	}
	rates, rl := capacityRates(c)
	lat, ll := capacityLatency(r, c)
	caption := fmt.Sprintf("Each step of the capacity ramp over its schedule: above, the rate offered (arrivals per second, whatever "+
		"the answers) and achieved (exports complete and exactly right per second); below, each format's p95 latency from the "+
		"intended send time, dashed the SLO. Crosses: steps that broke the SLO. %s %s", kneeText(c), timeline)
	return drawStacked(id, title, caption, [2]*plot.Plot{rates, lat}, [2]plot.Legend{rl, ll})
}

// kneeText says what the chart's knee is.
func kneeText(c *evidence.Capacity) string {
	var s string
	if c.Knee < 0 || c.Knee >= len(c.Steps) {
		s = "No step held the SLO: there is no knee."
	} else {
		s = fmt.Sprintf("Knee (ring and dotted line): %s sustained within the SLO", human.Rate(c.KneeExportsPerSecond, "exports/s"))
		if c.LowerBound {
			why := "its " + c.Stopped + " limit"
			if c.Stopped == "ceiling" {
				why = "the instrument's ceiling"
			}
			s += ", a lower bound (the ramp ended at " + why + " before the SLO broke)"
		}
		s += "."
	}
	if c.CeilingExportsPerSecond > 0 {
		s += fmt.Sprintf(" The open driver's own ceiling against an in-process replay: %s.", human.Rate(c.CeilingExportsPerSecond, "exports/s"))
	}
	if c.Deployment != "" {
		s += " Deployment: " + c.Deployment + "."
	}
	return s
}

// stepSegments draws one horizontal segment per step at value, with a glyph at its middle,
// ok-coloured where the step held and a cross where it broke; the legend gets one entry.
func stepSegments(p *plot.Plot, lg plot.Legend, c *evidence.Capacity, label string, col color.Color, value func(evidence.CapacityStep) (float64, bool), dashed bool) plot.Legend {
	var first *plotter.Line
	for _, s := range c.Steps {
		v, ok := value(s)
		if !ok {
			continue
		}
		x0, x1 := s.Start.Seconds(), s.End.Seconds()
		l := line(plotter.XYs{{X: x0, Y: v}, {X: x1, Y: v}}, col, vg.Points(1.6), dashed)
		p.Add(l)
		if first == nil {
			first = l
		}
		glyph, gc := draw.GlyphDrawer(draw.CircleGlyph{}), col
		if !s.Held {
			glyph, gc = draw.CrossGlyph{}, colorFailed
		}
		p.Add(scatter(plotter.XYs{{X: (x0 + x1) / 2, Y: v}}, gc, glyph, vg.Points(2.6)))
	}
	if first != nil {
		lg.Add(label, first)
	}
	return lg
}

// kneeMark marks the knee step on p: a ring at y and a dotted vertical line over [0, top].
func kneeMark(p *plot.Plot, lg plot.Legend, c *evidence.Capacity, y, top float64) plot.Legend {
	if c.Knee < 0 || c.Knee >= len(c.Steps) {
		return lg
	}
	k := c.Steps[c.Knee]
	x := (k.Start.Seconds() + k.End.Seconds()) / 2
	v := line(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top}}, colorOK, vg.Points(1), false)
	v.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
	ring := scatter(plotter.XYs{{X: x, Y: y}}, colorOK, draw.RingGlyph{}, vg.Points(6))
	p.Add(v, ring)
	lg.Add("knee", ring)
	return lg
}

// capacityRates is the upper panel: offered and achieved rate per step.
func capacityRates(c *evidence.Capacity) (*plot.Plot, plot.Legend) {
	p, lg := newPlot("", "exports/s")
	p.Y.Min = 0
	top := 0.0
	for _, s := range c.Steps {
		top = max(top, s.Offered, s.Achieved)
	}
	lg = stepSegments(p, lg, c, "offered", colorRef, func(s evidence.CapacityStep) (float64, bool) { return s.Offered, true }, true)
	lg = stepSegments(p, lg, c, "achieved", colorCSV, func(s evidence.CapacityStep) (float64, bool) { return s.Achieved, true }, false)
	if k := c.Knee; k >= 0 && k < len(c.Steps) {
		lg = kneeMark(p, lg, c, c.Steps[k].Achieved, top*1.05)
	}
	p.Y.Max = max(top*1.1, 1)
	return p, lg
}

// capacityLatency is the lower panel: each format's p95 per step, with the SLO's limits.
func capacityLatency(r evidence.Report, c *evidence.Capacity) (*plot.Plot, plot.Legend) {
	p, lg := newPlot("time (s)", "p95 latency (s)")
	p.Y.Min = 0
	top := 0.0
	for _, f := range []struct {
		label string
		col   color.Color
		p95   func(evidence.CapacityStep) float64
		rule  string
	}{
		{"CSV p95", colorCSV, func(s evidence.CapacityStep) float64 { return s.CSVP95 }, "capacity.slo_csv_p95_seconds"},
		{"PDF p95", colorPDF, func(s evidence.CapacityStep) float64 { return s.PDFP95 }, "capacity.slo_pdf_p95_seconds"},
	} {
		some := false
		for _, s := range c.Steps {
			if v := f.p95(s); v > 0 {
				top, some = max(top, v), true
			}
		}
		if !some {
			continue
		}
		lg = stepSegments(p, lg, c, f.label, f.col, func(s evidence.CapacityStep) (float64, bool) { return f.p95(s), f.p95(s) > 0 }, false)
		if ru, ok := rule(r, f.rule); ok {
			x0, x1 := c.Steps[0].Start.Seconds(), c.Steps[len(c.Steps)-1].End.Seconds()
			l := line(plotter.XYs{{X: x0, Y: ru.Value}, {X: x1, Y: ru.Value}}, f.col, vg.Points(1), true)
			p.Add(l)
			lg.Add(strings.TrimSuffix(f.label, " p95")+" SLO", l)
			top = max(top, ru.Value)
		}
	}
	if k := c.Knee; k >= 0 && k < len(c.Steps) {
		lg = kneeMark(p, lg, c, max(c.Steps[k].CSVP95, c.Steps[k].PDFP95), top*1.05)
	}
	p.Y.Max = max(top*1.1, 0.001)
	return p, lg
}
