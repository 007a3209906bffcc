package render

import (
	"fmt"
	"html/template"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/human"
	"github.com/exportatscale/exportatscale/evidence/internal/svgchart"
)

// chart is one figure of EVIDENCE.html: an inline SVG drawn by gonum/plot, or the reason there is
// none.
type chart struct {
	ID, Title string
	SVG       template.HTML
	Missing   string // why the chart is not drawn; empty when it is
	Caption   string
}

// Every chart has the width and the height of package svgchart (the capacity chart is taller):
// the plot on the left, its legend in a column on the right, so a legend never hides a point.
const legendWidth = 4.6 * vg.Centimeter

var (
	colorCSV    = svgchart.Blue
	colorPDF    = svgchart.Orange
	colorFailed = svgchart.Red
	colorOK     = svgchart.Green
	colorAnon   = color.RGBA{R: 0x82, G: 0x50, B: 0xdf, A: 0xff}
	colorFile   = svgchart.Grey
	colorRef    = svgchart.DarkGrey
	// colorWindows shade the memory windows, in turn: translucent, so not premultiplied (NRGBA).
	colorWindows = []color.NRGBA{
		{R: 0x1f, G: 0x77, B: 0xb4, A: 0x2c}, {R: 0xe3, G: 0x6c, B: 0x09, A: 0x2c},
		{R: 0x1a, G: 0x7f, B: 0x37, A: 0x2c}, {R: 0xbf, G: 0x39, B: 0x89, A: 0x2c},
		{R: 0x9a, G: 0x67, B: 0x00, A: 0x2c}, {R: 0x0a, G: 0x30, B: 0x69, A: 0x2c},
	}
)

// chartFormats are the load test's formats as the charts name and colour them.
var chartFormats = []struct {
	key, label string
	color      color.Color
}{{"csv", "CSV", colorCSV}, {"pdf", "PDF", colorPDF}}

// charts draws every chart of r.Series. A chart whose data the run did not record, or that
// cannot be drawn, says so in place of the picture: the page is written whatever happens.
func charts(r evidence.Report) []chart {
	s := r.Series
	timeline := fmt.Sprintf("Time is in seconds since %s.", formatTime(s.Start))
	return append([]chart{
		drawChart("latency-cdf", "Latency distribution per format", latencyCDF(r)),
		drawChart("latency-timeline", "Latency over the run", latencyTimeline(r, timeline)),
		drawChart("rate-timeline", "Streaming rate over the run", rateTimeline(r, timeline)),
		drawChart("memory", "Memory over time", memoryTimeline(s, timeline)),
		drawChart("burst", "Burst over the rate limit: answers by time", answers(s, evidence.ProbeBurst, timeline)),
		drawChart("saturation", "Saturation probe: answers by time", answers(s, evidence.ProbeSaturation, timeline)),
		capacityChart(r, timeline),
	}, soakCharts(s, timeline)...)
}

// figure is a chart before it is drawn: the plot and its legend, or why there is none.
type figure struct {
	plot    *plot.Plot
	legend  plot.Legend
	caption string
	missing string
}

// drawChart renders f as inline SVG. gonum/plot panics on data it cannot scale; that becomes the
// chart's missing reason rather than a failed bundle.
func drawChart(id, title string, f figure) chart {
	c := chart{ID: id, Title: title, Caption: f.caption, Missing: f.missing}
	if f.missing != "" {
		return c
	}
	return c.draw(svgchart.Height, func(dc draw.Canvas) {
		f.plot.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
		f.legend.Draw(draw.Crop(dc, svgchart.Width-legendWidth+vg.Points(6), 0, 0, -vg.Points(6)))
	})
}

// drawStacked renders two plots one above the other, their data areas aligned on a shared time
// axis, each with its legend in the column to the right. A panic of gonum/plot becomes the chart's
// missing reason, as in drawChart.
func drawStacked(id, title, caption string, plots [2]*plot.Plot, legends [2]plot.Legend) chart {
	c := chart{ID: id, Title: title, Caption: caption}
	return c.draw(1.7*svgchart.Height, func(dc draw.Canvas) {
		lo, hi := plots[1].X.Min, plots[1].X.Max
		lo, hi = min(lo, plots[0].X.Min), max(hi, plots[0].X.Max)
		for _, p := range plots {
			p.X.Min, p.X.Max = lo, hi
		}
		area := draw.Crop(dc, 0, -legendWidth, 0, 0)
		tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Points(4)}
		for i, cv := range plot.Align([][]*plot.Plot{{plots[0]}, {plots[1]}}, tiles, area) {
			plots[i].Draw(cv[0])
			legendArea := draw.Crop(dc, svgchart.Width-legendWidth+vg.Points(6), 0, 0, 0)
			legendArea.Min.Y, legendArea.Max.Y = cv[0].Min.Y, cv[0].Max.Y-vg.Points(6)
			legends[i].Draw(legendArea)
		}
	})
}

// draw sets c's picture to what paint draws on a chart of the page's width and height h, or
// its missing reason to why there is none.
func (c chart) draw(h vg.Length, paint func(draw.Canvas)) chart {
	svg, err := svgchart.Draw(svgchart.Width, h, paint)
	if err != nil {
		c.Missing = "the chart " + err.Error()
	}
	c.SVG = svg
	return c
}

// newPlot is a plot in the page's style: sans-serif text, a light grid, the legend for the
// column beside it.
func newPlot(xlabel, ylabel string) (*plot.Plot, plot.Legend) {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	for _, st := range []*plot.Axis{&p.X, &p.Y} {
		st.Label.TextStyle.Font.Variant = "Sans"
		st.Label.TextStyle.Font.Size = vg.Points(10)
		st.Tick.Label.Font.Variant = "Sans"
		st.Tick.Label.Font.Size = vg.Points(9)
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 0xe4}
	grid.Horizontal.Color = color.Gray{Y: 0xe4}
	p.Add(grid)
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.TextStyle.Font.Variant = "Sans"
	l.TextStyle.Font.Size = vg.Points(9)
	l.Padding = vg.Points(3)
	l.ThumbnailWidth = vg.Points(16)
	return p, l
}

func line(xys plotter.XYs, c color.Color, width vg.Length, dashed bool) *plotter.Line {
	l, err := plotter.NewLine(xys)
	if err != nil {
		panic(err) // a NaN or an infinity: drawChart reports it
	}
	l.Color, l.Width = c, width
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	return l
}

func scatter(xys plotter.XYs, c color.Color, shape draw.GlyphDrawer, radius vg.Length) *plotter.Scatter {
	s, err := plotter.NewScatter(xys)
	if err != nil {
		panic(err)
	}
	s.Color, s.Shape, s.Radius = c, shape, radius
	return s
}

// rule is the threshold named, when the report has one with a finite value.
func rule(r evidence.Report, name string) (evidence.Rule, bool) {
	ru, ok := r.Thresholds[name]
	return ru, ok && !math.IsNaN(ru.Value) && !math.IsInf(ru.Value, 0)
}

// nearestRank is the p-th percentile of sorted values, by nearest rank (as the load package).
func nearestRank(sorted []float64, p float64) float64 {
	return sorted[max(int(math.Ceil(p/100*float64(len(sorted))))-1, 0)]
}

// okLatencies are the latencies in seconds of the exports of format that completed correctly,
// sorted: the distribution A3 judges.
func okLatencies(s *evidence.Series, format string) []float64 {
	var out []float64
	for _, e := range s.Exports {
		if e.Format == format && e.OK && e.Latency > 0 {
			out = append(out, e.Latency.Seconds())
		}
	}
	slices.Sort(out)
	return out
}

// latencyCDF is the empirical distribution of each format's latency on a log axis, with the p95
// limits of A3 and the 95% line where the curves must have crossed them.
func latencyCDF(r evidence.Report) figure {
	p, lg := newPlot("latency (s, log scale)", "fraction of exports")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.TickerFunc(logTicks)
	p.Y.Min, p.Y.Max = 0, 1
	p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 0.25, Label: "0.25"}, {Value: 0.5, Label: "0.5"},
		{Value: 0.75, Label: "0.75"}, {Value: 0.95, Label: "0.95"}, {Value: 1, Label: "1"}}
	var caption []string
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, f := range chartFormats {
		lat := okLatencies(r.Series, f.key)
		if len(lat) == 0 {
			caption = append(caption, f.label+": no export completed correctly.")
			continue
		}
		lo, hi = min(lo, lat[0]), max(hi, lat[len(lat)-1])
		xys := plotter.XYs{{X: lat[0], Y: 0}}
		for i, v := range lat {
			xys = append(xys, plotter.XY{X: v, Y: float64(i+1) / float64(len(lat))})
		}
		l := line(xys, f.color, vg.Points(1.6), false)
		l.StepStyle = plotter.PostStep
		p.Add(l)
		lg.Add(fmt.Sprintf("%s (%d exports)", f.label, len(lat)), l)
		text := fmt.Sprintf("%s: %d exports, p50 %s, p95 %s, max %s", f.label, len(lat),
			human.Seconds(nearestRank(lat, 50)), human.Seconds(nearestRank(lat, 95)), human.Seconds(lat[len(lat)-1]))
		if ru, ok := rule(r, "a3."+f.key+"_p95_seconds"); ok && ru.Value > 0 {
			lo, hi = min(lo, ru.Value), max(hi, ru.Value)
			v := line(plotter.XYs{{X: ru.Value, Y: 0}, {X: ru.Value, Y: 1}}, f.color, vg.Points(1), true)
			p.Add(v)
			lg.Add(f.label+" p95 limit", v)
			text += fmt.Sprintf(" (p95 limit %s)", ruleText(ru))
		}
		caption = append(caption, text+".")
	}
	if math.IsInf(lo, 1) {
		return figure{missing: "no export of the load test completed correctly"}
	}
	if lo == hi { // one value: a log axis needs a range around it, and gonum's default goes below 0
		lo, hi = lo/2, hi*2
	}
	p.X.Min, p.X.Max = lo, hi
	ref := line(plotter.XYs{{X: lo, Y: 0.95}, {X: hi, Y: 0.95}}, colorRef, vg.Points(0.8), true)
	p.Add(ref)
	lg.Add("95% of exports", ref)
	return figure{plot: p, legend: lg, caption: "Empirical distribution of the latency (request sent to last body byte) of the load test's exports that completed correctly. " +
		strings.Join(caption, " ")}
}

// logTicks labels a log axis at 1, 2 and 5 times each power of ten, with unlabelled minor ticks
// between; on a range too narrow for any of those it labels every tick.
func logTicks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi >= lo) {
		return nil
	}
	var ticks []plot.Tick
	labelled := 0
	for e := int(math.Floor(math.Log10(lo))); e <= int(math.Ceil(math.Log10(hi))); e++ {
		for m := 1; m < 10; m++ {
			v := float64(m) * math.Pow10(e)
			if e < 0 {
				v = float64(m) / math.Pow10(-e) // exact decimals: 0.3, not 0.30000000000000004
			}
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'f', -1, 64)
				labelled++
			}
			ticks = append(ticks, t)
		}
	}
	if labelled < 2 {
		for i := range ticks {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64)
		}
	}
	if len(ticks) < 2 {
		ticks = []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 3, 64)}, {Value: hi, Label: strconv.FormatFloat(hi, 'g', 3, 64)}}
	}
	return ticks
}

// exportPoints are the exports of format by start offset, with y from value; failed ones apart.
func exportPoints(s *evidence.Series, format string, value func(evidence.ExportPoint) (float64, bool)) (ok, failed plotter.XYs) {
	for _, e := range s.Exports {
		if e.Format != format {
			continue
		}
		y, has := value(e)
		if !has {
			continue
		}
		pt := plotter.XY{X: e.Offset.Seconds(), Y: y}
		if e.OK {
			ok = append(ok, pt)
		} else {
			failed = append(failed, pt)
		}
	}
	return ok, failed
}

// limitLine is a dashed horizontal line at a rule's value across the span of xs.
func limitLine(ru evidence.Rule, xs []plotter.XYs, c color.Color) (*plotter.Line, bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, pts := range xs {
		for _, pt := range pts {
			lo, hi = min(lo, pt.X), max(hi, pt.X)
		}
	}
	if math.IsInf(lo, 1) {
		return nil, false
	}
	return line(plotter.XYs{{X: lo, Y: ru.Value}, {X: hi, Y: ru.Value}}, c, vg.Points(1), true), true
}

// latencyTimeline is every export's latency by the time it was sent, with A3's p95 limits.
func latencyTimeline(r evidence.Report, timeline string) figure {
	p, lg := newPlot("request sent (s)", "latency (s)")
	p.Y.Min = 0
	var all []plotter.XYs
	failedTotal := 0
	for _, f := range chartFormats {
		ok, failed := exportPoints(r.Series, f.key, func(e evidence.ExportPoint) (float64, bool) { return e.Latency.Seconds(), true })
		if len(ok) > 0 {
			sc := scatter(ok, f.color, draw.CircleGlyph{}, vg.Points(2.2))
			p.Add(sc)
			lg.Add(fmt.Sprintf("%s (%d)", f.label, len(ok)), sc)
		}
		if len(failed) > 0 {
			sc := scatter(failed, colorFailed, draw.CrossGlyph{}, vg.Points(3))
			p.Add(sc)
			lg.Add(fmt.Sprintf("%s failed (%d)", f.label, len(failed)), sc)
			failedTotal += len(failed)
		}
		all = append(all, ok, failed)
	}
	if len(slices.Concat(all...)) == 0 {
		return figure{missing: "the load test recorded no export"}
	}
	for _, f := range chartFormats {
		if ru, ok := rule(r, "a3."+f.key+"_p95_seconds"); ok {
			if l, ok := limitLine(ru, all, f.color); ok {
				p.Add(l)
				lg.Add(f.label+" p95 limit", l)
			}
		}
	}
	caption := fmt.Sprintf("Each export of the load test at the time its request was sent, by its latency (request sent to last body byte); dashed: the p95 limits. %s", timeline)
	if failedTotal > 0 {
		caption += fmt.Sprintf(" Failed exports (crosses): %d.", failedTotal)
	}
	return figure{plot: p, legend: lg, caption: caption}
}

// rateTimeline is every timed export's streaming rate by the time it was sent, with A3's floor
// for the CSV median.
func rateTimeline(r evidence.Report, timeline string) figure {
	p, lg := newPlot("request sent (s)", "streaming rate (MiB/s)")
	p.Y.Min = 0
	var all []plotter.XYs
	for _, f := range chartFormats {
		ok, _ := exportPoints(r.Series, f.key, func(e evidence.ExportPoint) (float64, bool) { return e.Rate / (1 << 20), e.Rate > 0 })
		if len(ok) > 0 {
			sc := scatter(ok, f.color, draw.CircleGlyph{}, vg.Points(2.2))
			p.Add(sc)
			lg.Add(fmt.Sprintf("%s (%d)", f.label, len(ok)), sc)
		}
		all = append(all, ok)
	}
	if len(slices.Concat(all...)) == 0 {
		return figure{missing: "no export of the load test was large enough to time its stream"}
	}
	if ru, ok := rule(r, "a3.csv_stream_p50_mib_per_second"); ok {
		if l, ok := limitLine(ru, all, colorCSV); ok {
			p.Add(l)
			lg.Add("CSV p50 floor", l)
		}
	}
	return figure{plot: p, legend: lg, caption: "Body bytes per second from first to last byte of each export that completed correctly and was large enough to time, " +
		"at the time its request was sent; dashed: the floor for the CSV median. " + timeline}
}

// memoryTimeline is the exporter's memory, anonymous (judged) and file-backed (information),
// over the windows it was sampled in, each window shaded.
func memoryTimeline(s *evidence.Series, timeline string) figure {
	if len(s.Memory) == 0 {
		return figure{missing: "no memory samples: the target cannot measure the exporter's memory from outside, or sampling never started"}
	}
	p, lg := newPlot("time (s)", "memory (MiB)")
	p.Y.Min = 0
	var anon, file plotter.XYs
	var top float64
	for _, m := range s.Memory {
		x := m.At.Seconds()
		anon = append(anon, plotter.XY{X: x, Y: float64(m.AnonBytes) / (1 << 20)})
		file = append(file, plotter.XY{X: x, Y: float64(m.FileBytes) / (1 << 20)})
		top = max(top, float64(m.AnonBytes)/(1<<20), float64(m.FileBytes)/(1<<20))
	}
	top = max(top*1.05, 1)
	for i, w := range s.Windows {
		x0, x1 := w.Start.Seconds(), w.End.Seconds()
		if x1 <= x0 {
			continue
		}
		poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: top}, {X: x0, Y: top}})
		if err != nil {
			panic(err)
		}
		poly.Color = colorWindows[i%len(colorWindows)]
		poly.LineStyle.Width = 0
		p.Add(poly)
		lg.Add(w.Label, poly)
	}
	la := line(anon, colorAnon, vg.Points(1.4), false)
	lf := line(file, colorFile, vg.Points(1), true)
	p.Add(lf, la)
	lg.Add("anonymous (judged)", la)
	lg.Add("file-backed (info)", lf)
	var peak evidence.MemoryPoint
	for _, m := range s.Memory {
		if m.AnonBytes > peak.AnonBytes {
			peak = m
		}
	}
	return figure{plot: p, legend: lg, caption: fmt.Sprintf("The exporter's memory measured from outside it, %d samples: anonymous memory "+
		"(what A4 judges; highest sample %s at %s) and file-backed pages (information only). Shaded: the memory windows, each closed "+
		"and compared on its own peak. %s", len(s.Memory), human.Bytes(float64(peak.AnonBytes)), human.Seconds(peak.At.Seconds()), timeline)}
}

// statusLabel names an HTTP status for a lane of the answers chart.
func statusLabel(status int) string {
	switch status {
	case 0:
		return "no answer"
	case 200:
		return "200 OK"
	case 429:
		return "429 limited"
	case 503:
		return "503 saturated"
	}
	return strconv.Itoa(status)
}

func statusColor(status int) color.Color {
	switch {
	case status == 200:
		return colorOK
	case status == 429:
		return colorPDF
	case status == 503:
		return colorAnon
	}
	return colorFailed
}

// answers is a probe's answers by the time their header arrived, one lane per status.
func answers(s *evidence.Series, probe string, timeline string) figure {
	byStatus := map[int]plotter.XYs{}
	n := 0
	for _, a := range s.Answers {
		if a.Probe == probe {
			byStatus[a.Status] = append(byStatus[a.Status], plotter.XY{X: a.At.Seconds()})
			n++
		}
	}
	if n == 0 {
		return figure{missing: "the " + probe + " probe recorded no answers"}
	}
	statuses := make([]int, 0, len(byStatus))
	for st := range byStatus {
		statuses = append(statuses, st)
	}
	slices.Sort(statuses)
	p, lg := newPlot("answer arrived (s)", "")
	var ticks plot.ConstantTicks
	var counts []string
	for lane, st := range statuses {
		pts := byStatus[st]
		for i := range pts {
			pts[i].Y = float64(lane)
		}
		sc := scatter(pts, statusColor(st), draw.BoxGlyph{}, vg.Points(1.8))
		p.Add(sc)
		lg.Add(fmt.Sprintf("%s (%d)", statusLabel(st), len(pts)), sc)
		ticks = append(ticks, plot.Tick{Value: float64(lane), Label: statusLabel(st)})
		counts = append(counts, fmt.Sprintf("%d × %s", len(pts), statusLabel(st)))
	}
	p.Y.Tick.Marker = ticks
	p.Y.Min, p.Y.Max = -0.6, float64(len(statuses))-0.4
	what := map[string]string{
		evidence.ProbeBurst:      "More cheap exports, faster, than the rate limit allows: each answer at the time its status arrived. The limiter must answer 429 (with Retry-After) once the burst is spent.",
		evidence.ProbeSaturation: "Exports held unread past the export capacity, then more requests: each answer at the time its status arrived. Over capacity the exporter must answer 503 (with Retry-After).",
	}[probe]
	return figure{plot: p, legend: lg, caption: fmt.Sprintf("%s %d answers: %s. %s", what, n, strings.Join(counts, ", "), timeline)}
}
