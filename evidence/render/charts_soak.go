package render

import (
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/human"
)

var (
	colorHeap       = color.RGBA{R: 0x1a, G: 0x7f, B: 0x37, A: 0xff}
	colorFDs        = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colorGoroutines = color.RGBA{R: 0xe3, G: 0x6c, B: 0x09, A: 0xff}
)

// soakCharts are the soak's two charts, memory and the counts, each series with its fitted line;
// none when the run had no soak.
func soakCharts(s *evidence.Series, timeline string) []chart {
	if s == nil || s.Soak == nil {
		return nil
	}
	return []chart{
		drawChart("soak-memory", "Soak: memory under a constant load", soakFigure(s.Soak, "memory (MiB)", 1<<20,
			map[string]color.Color{"memory_bytes": colorAnon, "heap_goal_bytes": colorHeap}, timeline)),
		drawChart("soak-counts", "Soak: open file descriptors and goroutines", soakFigure(s.Soak, "count", 1,
			map[string]color.Color{"open_fds": colorFDs, "goroutines": colorGoroutines}, timeline)),
	}
}

// soakFigure plots the quantities of k named in colors, values divided by scale, each as points
// with its time fit drawn dashed over the span it was fitted on; the warm-up shaded.
func soakFigure(k *evidence.Soak, ylabel string, scale float64, colors map[string]color.Color, timeline string) figure {
	p, lg := newPlot("time (s)", ylabel)
	var said []string
	from := (k.Start + k.WarmUp).Seconds()
	var top float64
	var drawn int
	for _, q := range k.Quantities {
		c, ok := colors[q.Name]
		if !ok {
			continue
		}
		if q.Missing != "" || len(q.Points) == 0 {
			said = append(said, fmt.Sprintf("%s: not measured (%s).", q.Label, soakMissingText(q.Missing)))
			continue
		}
		var xys plotter.XYs
		for _, pt := range q.Points {
			xys = append(xys, plotter.XY{X: pt.At.Seconds(), Y: pt.Value / scale})
			top = max(top, pt.Value/scale)
		}
		sc := scatter(xys, c, draw.CircleGlyph{}, vg.Points(1.6))
		p.Add(sc)
		lg.Add(q.Label, sc)
		drawn++
		if f := q.PerHour; f != nil {
			x1 := k.End.Seconds()
			at := func(x float64) float64 { return (f.Intercept + f.Slope*(x-from)/3600) / scale }
			fl := line(plotter.XYs{{X: from, Y: at(from)}, {X: x1, Y: at(x1)}}, c, vg.Points(1.4), true)
			p.Add(fl)
			lg.Add("fit: "+soakSlope(q), fl)
			said = append(said, fmt.Sprintf("%s: %s, %s (median residual %s).", q.Label, soakSlope(q), soakPerExport(q), soakValue(q, f.Residual)))
		} else {
			said = append(said, q.Label+": too few points after the warm-up to fit.")
		}
	}
	if drawn == 0 {
		return figure{missing: "no series sampled: " + strings.Join(said, " ")}
	}
	p.Y.Min = 0
	if top > 0 && k.WarmUp > 0 {
		poly, err := plotter.NewPolygon(plotter.XYs{{X: k.Start.Seconds(), Y: 0}, {X: from, Y: 0}, {X: from, Y: top * 1.05}, {X: k.Start.Seconds(), Y: top * 1.05}})
		if err != nil {
			panic(err)
		}
		poly.Color = colorWindows[0]
		poly.LineStyle.Width = 0
		p.Add(poly)
		lg.Add("warm-up (not fitted)", poly)
	}
	return figure{plot: p, legend: lg, caption: fmt.Sprintf("Sampled while %.3g exports/s arrived (open model), from %s to %s; "+
		"dashed: the Theil–Sen line fitted after the warm-up. %s %s", k.Rate, human.Seconds(k.Start.Seconds()), human.Seconds(k.End.Seconds()),
		strings.Join(said, " "), timeline)}
}

func soakSlope(q evidence.SoakQuantity) string {
	return soakValue(q, q.PerHour.Slope) + "/h"
}

func soakPerExport(q evidence.SoakQuantity) string {
	if q.PerExport == nil {
		return "no fit per export"
	}
	return soakValue(q, q.PerExport.Slope) + "/export"
}

// soakValue formats v in q's unit, bytes readably.
func soakValue(q evidence.SoakQuantity, v float64) string {
	if q.Unit == "bytes" {
		if v < 0 {
			return "−" + human.Bytes(-v)
		}
		return human.Bytes(v)
	}
	return fmt.Sprintf("%.3g %s", v, q.Unit)
}

func soakMissingText(s string) string {
	if s == "" {
		return "no samples"
	}
	return s
}
