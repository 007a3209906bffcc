package render

import (
	"bytes"
	"fmt"
	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/human"
	"html/template"
	"io"
	"slices"
)

// HTML writes EVIDENCE.html: the report of EVIDENCE.md as one self-contained page, with
// charts of what the run measured over time (Report.Series, see charts.go) and the baseline
// comparison (Report.Baseline) when there is one.
//
// The page loads nothing: its style is inline, it has no script, the charts are SVG drawn by
// gonum/plot and inlined, their text names a font family and embeds none, and a
// Content-Security-Policy forbids any fetch should something slip in. Like the other renderers it
// reads no clock: every time on the page is one the report carries.
func HTML(w io.Writer, r evidence.Report) error {
	r = normalize(r)
	d := evidence.Explain(r.Checks, r.Required)
	page := htmlPage{Report: r, Summary: d.Summary(), Decided: d.Verdict}
	page.build()
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, page); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// htmlPage is what the template shows, formatted in Go so the template only lays it out.
type htmlPage struct {
	Report  evidence.Report
	Summary string           // the decision in one line, as EVIDENCE.md has it
	Decided evidence.Verdict // the verdict the checks give, shown if it differs from the recorded one

	Checks      []htmlCheck
	Failures    []htmlNote
	NotRun      []htmlNote
	Notes       []htmlNote
	Charts      []chart
	NoSeries    string // why there are no charts at all
	Baseline    []htmlDelta
	Environment [][2]string
	Thresholds  [][2]string
}

type htmlCheck struct {
	ID, Name, Status, Class, Time string
	Measures                      []cells
}

type htmlNote struct{ Check, Text string }

type htmlDelta struct {
	Measure, Base, New, Delta, Verdict, Note string
}

func (p *htmlPage) build() {
	r := p.Report
	checks := displayChecks(r)
	for _, c := range checks {
		hc := htmlCheck{ID: c.ID, Name: checkName(c), Status: statusText(c), Time: formatDuration(c.Duration)}
		if !slices.Contains(r.Required, c.ID) {
			hc.Name += " (not required)"
		}
		switch c.Outcome() {
		case evidence.OutcomePassed:
			hc.Class = "pass"
		case evidence.OutcomeFailed:
			hc.Class = "fail"
		default:
			hc.Class = "notrun"
		}
		for _, m := range c.Measures {
			hc.Measures = append(hc.Measures, measureCells(m))
		}
		p.Checks = append(p.Checks, hc)

		switch c.Outcome() {
		case evidence.OutcomeFailed:
			for _, m := range c.Measures {
				if pass, _ := m.Judgement(); !pass {
					p.Failures = append(p.Failures, htmlNote{checkName(c), describe(m)})
				}
			}
			for _, f := range c.Failures {
				p.Failures = append(p.Failures, htmlNote{checkName(c), f})
			}
		case evidence.OutcomeNotRun:
			if slices.Contains(r.Required, c.ID) || len(c.Failures) > 0 {
				reasons := c.Failures
				if len(reasons) == 0 {
					reasons = []string{statusText(c)}
				}
				for _, f := range reasons {
					p.NotRun = append(p.NotRun, htmlNote{checkName(c), f})
				}
			}
		}
		for _, n := range c.Notes {
			p.Notes = append(p.Notes, htmlNote{checkName(c), n})
		}
	}

	if r.Series == nil {
		p.NoSeries = "The run recorded nothing over time (its load step did not run), so there is nothing to chart."
	} else {
		p.Charts = charts(r)
	}

	for _, d := range r.Baseline {
		value := func(v float64) string { return human.Value(v, d.Unit) }
		p.Baseline = append(p.Baseline, htmlDelta{Measure: d.Measure, Base: value(d.Base), New: value(d.New),
			Delta: value(d.Delta), Verdict: d.Verdict, Note: d.Note})
	}

	for _, row := range environmentRows(r) {
		if row[1] == "" {
			row[1] = "—"
		}
		p.Environment = append(p.Environment, row)
	}

	p.Thresholds = thresholdRows(r)
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

// rowspan is how many table rows a check takes: one per measure, at least one.
func rowspan(c htmlCheck) int { return max(len(c.Measures), 1) }

var pageTemplate = template.Must(template.New("EVIDENCE.html").Funcs(template.FuncMap{
	"verdictClass": verdictClass,
	"rowspan":      rowspan,
	"time":         formatTime,
	"oneLine":      oneLine,
	"bytes":        func(n int64) string { return human.Bytes(float64(n)) },
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
td.info { color: #57606a; }
td.check-fail { border-left: 4px solid #cf222e; }
td.check-pass { border-left: 4px solid #1a7f37; }
td.check-notrun { border-left: 4px solid #6e7781; }
code { font: .85rem "Liberation Mono", Consolas, monospace; word-break: break-all; }
figure { margin: 1rem 0 1.6rem; }
figure svg { display: block; width: 100%; max-width: 56rem; height: auto; }
svg text { font-family: "Liberation Sans", Arial, Helvetica, sans-serif !important; }
figcaption { color: #57606a; font-size: .9rem; max-width: 56rem; }
.missing { color: #57606a; font-style: italic; }
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
<h1>Verdict: {{.Report.Verdict}}</h1>
<p>{{.Summary}}</p>
<p>Run {{.Report.RunID}}, target {{if .Report.Environment.Target}}{{.Report.Environment.Target}}{{else}}unknown{{end}}, finished {{time .Report.Finished}}.</p>
</header>
{{- if ne .Report.Verdict .Decided}}
<p class="warning"><strong>Warning:</strong> the recorded verdict {{.Report.Verdict}} does not follow from the checks below, which give {{.Decided}}.</p>
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
<tr id="check-{{.ID}}"><td class="check-{{.Class}}">{{.Name}}</td><td class="{{.Class}}">{{.Status}}</td><td>{{.Time}}</td><td>—</td><td>—</td><td>—</td><td>—</td></tr>
{{- end}}
{{- end}}
</tbody>
</table>
{{- if .Failures}}

<h2 id="failures">Failures</h2>
<ul>
{{- range .Failures}}
<li><strong>{{.Check}}</strong>: {{oneLine .Text}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .NotRun}}

<h2 id="not-run">Not run</h2>
<ul>
{{- range .NotRun}}
<li><strong>{{.Check}}</strong>: {{oneLine .Text}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .Notes}}

<h2 id="notes">Notes</h2>
<ul>
{{- range .Notes}}
<li><strong>{{.Check}}</strong>: {{oneLine .Text}}</li>
{{- end}}
</ul>
{{- end}}

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
{{- if .Baseline}}

<h2 id="baseline">Compared with the baseline</h2>
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
{{define "artifacts"}}
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
