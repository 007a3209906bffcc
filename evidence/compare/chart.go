package compare

import (
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/internal/svgchart"
)

var (
	colorLine    = svgchart.Blue
	colorBars    = svgchart.DarkGrey
	verdictColor = map[evidence.Verdict]color.Color{
		evidence.Green: svgchart.Green, evidence.Red: svgchart.Red, evidence.NotRun: svgchart.Grey,
	}
)

// trendChart is one measure's figure: an inline SVG, or why there is none.
type trendChart struct {
	Title, Caption string
	SVG            template.HTML
	Missing        string
}

// RenderHistoryHTML writes h as one self-contained HTML page (no script, no request for anything):
// the table RenderHistory prints, then one chart per measure, drawn by gonum/plot as inline SVG.
func RenderHistoryHTML(w io.Writer, h History) error {
	head, rows := historyCells(h)
	page := struct {
		Runs   []Run
		Head   []string
		Rows   [][]string
		Charts []trendChart
	}{Runs: h.Runs, Head: head, Rows: rows}
	for _, t := range h.Trends {
		page.Charts = append(page.Charts, drawTrend(h.Runs, t))
	}
	return historyPage.Execute(w, page)
}

var historyPage = template.Must(template.New("history").Funcs(template.FuncMap{
	"time":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"last":         func(runs []Run) Run { return runs[len(runs)-1] },
	"verdictClass": func(v string) string { return strings.ReplaceAll(v, " ", "") },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Evidence history: {{len .Runs}} runs</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #1f2328; }
table { border-collapse: collapse; font-size: 90%; }
th, td { border: 1px solid #d0d7de; padding: 0.2em 0.5em; text-align: right; }
td { white-space: nowrap; }
th:nth-child(-n+4), td:nth-child(-n+4) { text-align: left; }
.GREEN { color: #1a7f37; } .RED { color: #cf222e; } .NOTRUN { color: #6e7781; }
figure { margin: 1.5em 0; }
figcaption { color: #57606a; font-size: 90%; }
.missing { color: #9a6700; }
</style>
</head>
<body>
<h1>Evidence history: {{len .Runs}} runs</h1>
<p>Oldest first, by each bundle's start time{{with .Runs}}: from {{time (index . 0).Started}} to {{time (last .).Started}}{{end}}.
Points are coloured by the run's verdict: green GREEN, red RED, grey NOT RUN.</p>
<table>
<tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range $i, $c := .}}<td{{if eq $i 3}} class="{{verdictClass $c}}"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</table>
<p>Distributions are the medians of each run's load-test samples (OK exports only); – marks a run without the measure.</p>
{{range .Charts}}<figure>
<h2>{{.Title}}</h2>
{{if .Missing}}<p class="missing">{{.Missing}}</p>{{else}}{{.SVG}}{{end}}
<figcaption>{{.Caption}}</figcaption>
</figure>
{{end}}</body>
</html>
`))

// drawTrend draws one measure's chart over the runs, or says why there is none.
func drawTrend(runs []Run, t Trend) trendChart {
	c := trendChart{Title: t.title(), Caption: fmt.Sprintf("%s, one point per run.", t.Measure)}
	if t.Distribution {
		c.Caption = fmt.Sprintf("%s: the median of each run's samples (OK exports), the bar from its p5 to its p95.", t.Measure)
	}
	if !slices.ContainsFunc(t.Points, func(p Point) bool { return !math.IsNaN(p.Value) }) {
		c.Missing = "No run of the series has this measure."
		return c
	}
	// gonum/plot panics on some degenerate input; the page is written regardless.
	svg, err := svgchart.Draw(svgchart.Width, svgchart.Height, func(dc draw.Canvas) { trendPlot(runs, t).Draw(dc) })
	if err != nil {
		c.Missing = "The chart " + err.Error() + "."
	}
	c.SVG = svg
	return c
}

// trendPlot plots one measure over the runs: the values joined by a line (broken where a run lacks
// the measure), each point in its run's verdict colour, and for a distribution a bar from p5 to
// p95.
func trendPlot(runs []Run, t Trend) *plot.Plot {
	p := plot.New()
	p.X.Label.Text = "run, oldest first"
	p.Y.Label.Text = t.title()
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	p.NominalX(ids...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter

	var segment plotter.XYs
	flush := func() {
		if len(segment) > 1 {
			l, err := plotter.NewLine(segment)
			if err == nil {
				l.Color, l.Width = colorLine, vg.Points(1.5)
				p.Add(l)
			}
		}
		segment = nil
	}
	var bars errorBars
	byVerdict := map[evidence.Verdict]plotter.XYs{}
	for i, pt := range t.Points {
		if math.IsNaN(pt.Value) {
			flush()
			continue
		}
		xy := plotter.XY{X: float64(i), Y: pt.Value}
		segment = append(segment, xy)
		byVerdict[runs[i].Verdict] = append(byVerdict[runs[i].Verdict], xy)
		if t.Distribution && !math.IsNaN(pt.Lo) {
			bars = append(bars, errorBar{xy, pt.Value - pt.Lo, pt.Hi - pt.Value})
		}
	}
	flush()
	if len(bars) > 0 {
		if eb, err := plotter.NewYErrorBars(bars); err == nil {
			eb.Color = colorBars
			p.Add(eb)
		}
	}
	for _, v := range []evidence.Verdict{evidence.Green, evidence.Red, evidence.NotRun} {
		if xys := byVerdict[v]; len(xys) > 0 {
			if s, err := plotter.NewScatter(xys); err == nil {
				s.GlyphStyle.Color, s.GlyphStyle.Shape, s.GlyphStyle.Radius = verdictColor[v], draw.CircleGlyph{}, vg.Points(3.5)
				p.Add(s)
			}
		}
	}
	// Every chart spans every run of the series, and starts at 0: a trend is read against zero.
	p.X.Min, p.X.Max = -0.5, float64(len(runs))-0.5
	p.Y.Min = min(p.Y.Min, 0)
	return p
}

// errorBar is one point with its distance down to p5 and up to p95.
type errorBar struct {
	plotter.XY
	low, high float64
}

// errorBars implement plotter.XYer and plotter.YErrorer.
type errorBars []errorBar

func (e errorBars) Len() int                         { return len(e) }
func (e errorBars) XY(i int) (x, y float64)          { return e[i].X, e[i].Y }
func (e errorBars) YError(i int) (low, high float64) { return e[i].low, e[i].high }
