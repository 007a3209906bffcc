package render

import (
	"bytes"
	"fmt"
	"html/template"
	"io"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/human"
)

// HTML writes EVIDENCE.html: the report of EVIDENCE.md as one self-contained page, with
// charts of what the run measured over time (Report.Series, see charts.go) and the baseline
// comparison (Report.Baseline) when there is one.
//
// The page opens with what a person asks first: the verdict line (evidence.Report.Headline), the
// key figures (the load's rows per second, the p95 latency per format, the peak memory, the
// exports verified; a dash for any the run did not measure), every failed check with what failed,
// every waived measure, and what did not run or does not apply to the API or the run. The charts come next, then
// the checks with their judged measures; the informational measures are folded away in a
// <details> element, which needs no script.
//
// The page loads nothing: its style is inline, it has no script, the charts are SVG drawn by
// gonum/plot and inlined, their text names a font family and embeds none, and a
// Content-Security-Policy forbids any fetch should something slip in. Like the other renderers it
// reads no clock: every time on the page is one the report carries.
func HTML(w io.Writer, r evidence.Report) error {
	page := htmlPage{view: newView(normalize(r))}
	page.build()
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, page); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// htmlPage is what the template shows, formatted in Go so the template only lays it out: the
// report as EVIDENCE.md shows it, with the charts and the baseline comparison.
type htmlPage struct {
	view
	Charts   []chart
	NoSeries string // why there are no charts at all
	Baseline []htmlDelta
}

// noteSection is a list of notes under a heading, as the template "notes" writes it.
type noteSection struct {
	ID, Title string
	Notes     []note
}

type htmlDelta struct {
	Measure, Base, New, Delta, Verdict, Note string
}

func (p *htmlPage) build() {
	r := p.Report
	if r.Series == nil {
		p.NoSeries = "The run recorded nothing over time (its load step did not run), so there is nothing to chart."
	} else {
		p.Charts = charts(r)
	}
	p.Charts = append(p.Charts, abCharts(r)...)
	for _, d := range r.Baseline {
		value := func(v float64) string { return human.Value(v, d.Unit) }
		p.Baseline = append(p.Baseline, htmlDelta{Measure: d.Measure, Base: value(d.Base), New: value(d.New),
			Delta: value(d.Delta), Verdict: d.Verdict, Note: d.Note})
	}
}

// verdictClass is the CSS class of a verdict banner.
func verdictClass(v evidence.Verdict) string {
	switch v {
	case evidence.Green:
		return "green"
	case evidence.Red:
		return "red"
	}
	return "notrun"
}

// rowspan is how many table rows a check takes: one per judged measure, at least one.
func rowspan(c checkRow) int { return max(len(c.Measures), 1) }

var pageTemplate = template.Must(template.New("EVIDENCE.html").Funcs(template.FuncMap{
	"verdictClass":  verdictClass,
	"rowspan":       rowspan,
	"time":          formatTime,
	"oneLine":       oneLine,
	"bytes":         func(n int64) string { return human.Bytes(float64(n)) },
	"informational": informationalText,
	"section": func(id, title string, notes []note) noteSection {
		return noteSection{ID: id, Title: title, Notes: notes}
	},
}).Parse(pageHTML))

// pageCSS is the page's only style. System fonts only: nothing to fetch. The charts' text is
// laid out by gonum/plot with Liberation Sans metrics; Arial and Helvetica share them.
const pageCSS = `
:root { color-scheme: light; }
body { font: 15px/1.45 "Liberation Sans", Arial, Helvetica, sans-serif; color: #1b1f24; background: #fff; margin: 0 auto; padding: 1.5rem 2rem 3rem; max-width: 72rem; }
h1 { margin: 0; font-size: 2rem; }
h2 { margin: 2.2rem 0 .6rem; font-size: 1.3rem; border-bottom: 1px solid #d0d7de; padding-bottom: .25rem; }
h3 { margin: 1.4rem 0 .3rem; font-size: 1.05rem; }
.verdict { padding: 1rem 1.25rem; border-radius: 6px; color: #fff; }
.verdict.green { background: #1a7f37; }
.verdict.red { background: #cf222e; }
.verdict.notrun { background: #6e7781; }
.verdict p { margin: .35rem 0 0; }
.warning { background: #fff8c5; border: 1px solid #d4a72c; padding: .6rem 1rem; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0; font-size: .92rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.pass, span.pass { color: #1a7f37; font-weight: bold; }
td.fail, span.fail { color: #cf222e; font-weight: bold; }
td.notrun, span.notrun { color: #6e7781; font-weight: bold; }
td.waived, span.waived { color: #9a6700; font-weight: bold; }
td.na, span.na { color: #6e7781; font-style: italic; }
td.info { color: #57606a; }
td.check-fail { border-left: 4px solid #cf222e; }
td.check-pass { border-left: 4px solid #1a7f37; }
td.check-notrun { border-left: 4px solid #6e7781; }
td.check-na { border-left: 4px dashed #6e7781; }
code { font: .85rem "Liberation Mono", Consolas, monospace; word-break: break-all; }
figure { margin: 1rem 0 1.6rem; }
figure svg { display: block; width: 100%; max-width: 56rem; height: auto; }
svg text { font-family: "Liberation Sans", Arial, Helvetica, sans-serif !important; }
figcaption { color: #57606a; font-size: .9rem; max-width: 56rem; }
.missing { color: #57606a; font-style: italic; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: .6rem; margin: 1rem 0 0; }
.kf { border: 1px solid #d0d7de; border-left-width: 4px; border-radius: 6px; padding: .5rem .75rem; display: flex; flex-direction: column; }
.kf.pass { border-left-color: #1a7f37; }
.kf.fail { border-left-color: #cf222e; }
.kf.info { border-left-color: #57606a; }
.kf.waived { border-left-color: #9a6700; }
.kf.na { border-left-color: #d0d7de; border-left-style: dashed; color: #57606a; }
.kf.missing { border-left-color: #d0d7de; color: #57606a; }
.kf-label { font-size: .85rem; color: #57606a; }
.kf-value { font-size: 1.5rem; font-weight: bold; font-variant-numeric: tabular-nums; }
.kf.fail .kf-value, .kf.fail .kf-rule { color: #cf222e; }
.kf.waived .kf-rule { color: #9a6700; }
.kf-rule { font-size: .85rem; }
.kf code { font-size: .75rem; color: #57606a; }
details { margin: .8rem 0; }
summary { cursor: pointer; font-weight: bold; }
footer { margin-top: 2.5rem; color: #57606a; font-size: .85rem; }
`

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Evidence {{.Report.RunID}}: {{.Report.Verdict}}</title>
<style>` + pageCSS + `</style>
</head>
<body>
<header class="verdict {{verdictClass .Report.Verdict}}" id="verdict">
<h1>Verdict: {{.Headline}}</h1>
<p>{{.Summary}}</p>
<p>Run {{.Report.RunID}}, target {{if .Report.Environment.Target}}{{.Report.Environment.Target}}{{else}}unknown{{end}}, finished {{time .Report.Finished}}.</p>
</header>
{{- if ne .Report.Verdict .Decided}}
<p class="warning"><strong>Warning:</strong> the recorded verdict {{.Report.Verdict}} does not follow from the checks below, which give {{.Decided}}.</p>
{{- end}}

<section id="key-figures" class="figures" aria-label="Key figures">
{{- range .Figures}}
<div class="kf {{.Class}}"><span class="kf-label">{{.Label}}</span><span class="kf-value">{{.Value}}</span>
{{- if .Rule}}<span class="kf-rule">{{if eq .Class "fail"}}FAIL: {{else if eq .Class "waived"}}WAIVED: {{end}}want {{.Rule}}</span>{{else if eq .Class "missing"}}<span class="kf-rule">not measured in this run</span>{{else if eq .Class "na"}}<span class="kf-rule">not applicable to this API</span>{{end}}<code>{{.Measure}}</code></div>
{{- end}}
</section>
{{- template "notes" (section "failures" "Failures" .Failures)}}
{{- template "notes" (section "waived" "Waived by the profile" .Waived)}}
{{- template "notes" (section "not-run" "Not run" .NotRun)}}
{{- template "notes" (section "not-applicable" .NotApplicableTitle .NotApplicable)}}

<h2 id="charts">Charts</h2>
{{- if .NoSeries}}
<p class="missing">{{.NoSeries}}</p>
{{- end}}
{{- range .Charts}}
<figure id="chart-{{.ID}}">
<h3>{{.Title}}</h3>
{{- if .SVG}}
{{.SVG}}
{{- else}}
<p class="missing">Not charted: {{.Missing}}</p>
{{- end}}
<figcaption>{{.Caption}}</figcaption>
</figure>
{{- end}}

<h2 id="checks">Checks</h2>
<table>
<thead><tr><th>Check</th><th>Status</th><th>Time</th><th>Measure</th><th>Value</th><th>Threshold</th><th>Result</th></tr></thead>
<tbody>
{{- range .Checks}}
{{- $c := .}}
{{- if .Measures}}
{{- range $i, $m := .Measures}}
<tr{{if eq $i 0}} id="check-{{$c.ID}}"{{end}}>
{{- if eq $i 0}}<td rowspan="{{rowspan $c}}" class="check-{{$c.Class}}">{{$c.Name}}</td><td rowspan="{{rowspan $c}}" class="{{$c.Class}}">{{$c.Status}}</td><td rowspan="{{rowspan $c}}">{{$c.Time}}</td>{{end -}}
<td><code>{{$m.Name}}</code></td><td class="num">{{$m.Value}}</td><td>{{$m.Threshold}}</td><td class="{{$m.Class}}">{{$m.Result}}</td></tr>
{{- end}}
{{- else}}
<tr id="check-{{.ID}}"><td class="check-{{.Class}}">{{.Name}}</td><td class="{{.Class}}">{{.Status}}</td><td>{{.Time}}</td>
{{- if .Informational}}<td colspan="4" class="info">{{informational .Informational}}</td>{{else}}<td>—</td><td>—</td><td>—</td><td>—</td>{{end}}</tr>
{{- end}}
{{- end}}
</tbody>
</table>
{{- if .Informational}}

<details id="informational">
<summary>Informational measures ({{len .Informational}}): measured for information, with no threshold; they do not affect the verdict</summary>
<table>
<thead><tr><th>Check</th><th>Measure</th><th>Value</th></tr></thead>
<tbody>
{{- range .Informational}}
<tr><td>{{.Check}}</td><td><code>{{.Name}}</code></td><td class="num">{{.Value}}</td></tr>
{{- end}}
</tbody>
</table>
</details>
{{- end}}
{{- template "notes" (section "notes" "Notes" .Notes)}}
{{- if .Baseline}}

<h2 id="baseline">Compared with the baseline run (coarse, cross-run check)</h2>
<p>Two runs made at different times: the machine's mood moves these figures as much as the release does, so only large changes count. The regression check (A/B in the same run) is the fine one.</p>
<table>
<thead><tr><th>Measure</th><th>Baseline</th><th>This run</th><th>Delta</th><th>Verdict</th><th>Note</th></tr></thead>
<tbody>
{{- range .Baseline}}
<tr><td><code>{{.Measure}}</code></td><td class="num">{{.Base}}</td><td class="num">{{.New}}</td><td class="num">{{.Delta}}</td><td>{{.Verdict}}</td><td>{{if .Note}}{{oneLine .Note}}{{else}}—{{end}}</td></tr>
{{- end}}
</tbody>
</table>
{{- end}}

<h2 id="environment">Environment</h2>
<table>
<tbody>
{{- range .Environment}}
<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{- end}}
</tbody>
</table>

<h2 id="thresholds">Thresholds</h2>
{{- if .Thresholds}}
<table>
<thead><tr><th>Measure</th><th>Rule</th></tr></thead>
<tbody>
{{- range .Thresholds}}
<tr><td><code>{{index . 0}}</code></td><td>{{index . 1}}</td></tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p>None recorded.</p>
{{- end}}

<h2 id="monitoring">Monitoring files checked against</h2>
{{template "artifacts" .Report.Monitoring}}

<h2 id="artifacts">Artifacts</h2>
{{template "artifacts" .Report.Artifacts}}
<p>Every file of the bundle, this one included, is listed in <code>SHA256SUMS</code>; check it with <code>evidence verify &lt;dir&gt;</code>.</p>

<footer>Schema {{.Report.SchemaVersion}}. Rendered from the run's report; started {{time .Report.Started}}, finished {{time .Report.Finished}}.</footer>
</body>
</html>
{{define "notes"}}
{{- if .Notes}}

<h2 id="{{.ID}}">{{.Title}}</h2>
<ul>
{{- range .Notes}}
<li><strong>{{.Check}}</strong>: {{oneLine .Text}}</li>
{{- end}}
</ul>
{{- end}}
{{- end}}
{{- define "artifacts"}}
{{- if .}}
<table>
<thead><tr><th>File</th><th>SHA-256</th><th>Size</th></tr></thead>
<tbody>
{{- range .}}
<tr><td>{{.Path}}</td><td><code>{{.SHA256}}</code></td><td class="num">{{bytes .Bytes}}</td></tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p>None recorded.</p>
{{- end}}
{{- end}}`
