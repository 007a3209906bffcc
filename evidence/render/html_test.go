package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/internal/testkit/golden"

	"golang.org/x/net/html"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"

	"github.com/exportatscale/exportatscale/evidence"
)

// chartSeries is a fixed run over time, computed rather than random so that it never changes: 48
// load exports (every fourth a PDF, one CSV failed), memory sampled every 250 ms through four
// windows, and the answers of a burst and a saturation probe.
func chartSeries() *evidence.Series {
	s := &evidence.Series{Start: fixedStart.Add(40 * time.Second)}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	for i := range 48 {
		e := evidence.ExportPoint{Format: "csv", Offset: 2*time.Second + ms(float64(i)*310), OK: true}
		wobble := float64((i*7)%11) / 10 // 0 .. 1, in a fixed order
		if i%4 == 3 {
			e.Format = "pdf"
			e.Latency = ms(2100 + 900*wobble)
			e.FirstByte = ms(350 + 40*wobble)
			e.Bytes = 1_450_000
		} else {
			e.Latency = ms(180 + 260*wobble)
			e.FirstByte = ms(9 + 6*wobble)
			e.Bytes = 1_180_000 + int64(i)*1000
		}
		if i%6 != 5 { // a few too small to time
			e.Rate = float64(e.Bytes) / (e.Latency - e.FirstByte).Seconds()
		}
		if i == 29 {
			e.OK, e.Rate = false, 0
		}
		s.Exports = append(s.Exports, e)
	}
	s.Windows = []evidence.Span{
		{Label: "small CSV exports", Start: 0, End: ms(6000)},
		{Label: "large CSV exports", Start: ms(6000), End: ms(14000)},
		{Label: "load test", Start: ms(14000), End: ms(30000)},
		{Label: "probes", Start: ms(30000), End: ms(38000)},
	}
	for i := range 152 {
		at := ms(float64(i) * 250)
		anon := uint64(9 << 20)
		switch {
		case at >= ms(6000) && at < ms(14000):
			anon += uint64(i%5) << 20
		case at >= ms(14000) && at < ms(30000):
			anon += uint64(14+(i*3)%9) << 20
		case at >= ms(30000):
			anon += uint64(20+(i*5)%7) << 20
		}
		s.Memory = append(s.Memory, evidence.MemoryPoint{At: at, AnonBytes: anon, FileBytes: 6<<20 + uint64(i)<<15})
	}
	for i := range 60 {
		st := 200
		if i >= 50 {
			st = 429
		}
		s.Answers = append(s.Answers, evidence.Answer{Probe: evidence.ProbeBurst, At: ms(30200 + float64(i)*11), Status: st})
	}
	for i := range 14 {
		a := evidence.Answer{Probe: evidence.ProbeSaturation, At: ms(32000 + float64(i)*4), Status: 200}
		if i >= 11 {
			a.At, a.Status = ms(32600+float64(i)*20), 503
		}
		s.Answers = append(s.Answers, a)
	}
	// The capacity ramp: up by half each step until the fourth breaks, then two steps between.
	c := &evidence.Capacity{Knee: 4, KneeExportsPerSecond: 8.25, CeilingExportsPerSecond: 850, Stopped: "slo"}
	for i, st := range []struct {
		offered, achieved, csv, pdf float64
		held                        bool
	}{{3, 3, 0.21, 1.9, true}, {4.5, 4.5, 0.24, 2.2, true}, {6.75, 6.75, 0.3, 2.8, true}, {10.1, 8.9, 1.6, 7.2, false},
		{8.25, 8.25, 0.52, 3.9, true}, {9.1, 8.7, 1.2, 5.6, false}} {
		start := ms(40000 + float64(i)*6500)
		c.Steps = append(c.Steps, evidence.CapacityStep{Start: start, End: start + 6*time.Second, Drained: start + ms(6000+1000*st.csv),
			Offered: st.offered, Achieved: st.achieved, CSVP95: st.csv, PDFP95: st.pdf, Held: st.held})
	}
	s.Capacity = c
	return s
}

// chartReport is the green run with its series and a comparison with a baseline.
func chartReport(t *testing.T) evidence.Report {
	t.Helper()
	r := greenReport(t)
	r.Series = chartSeries()
	r.Baseline = []evidence.Delta{
		{Measure: "a3.csv_p95_seconds", Unit: "s", Base: 0.398, New: 0.412, Delta: 0.014, Verdict: "same", Note: "p=0.41 (Mann-Whitney U), under the minimum effect"},
		{Measure: "a3.csv_rows_per_second", Unit: "rows/s", Base: 201000, New: 187500.5, Delta: -13499.5, Verdict: "worse"},
		{Measure: "a4.peak_memory_bytes", Unit: "bytes", Base: 0, New: 41943040, Delta: math.Inf(1), Verdict: "not comparable", Note: "the baseline has no memory figure"},
	}
	return r
}

func TestRenderHTMLGolden(t *testing.T) {
	for _, fx := range []struct {
		name   string
		report func(*testing.T) evidence.Report
	}{{"green", chartReport}, {"red", redReport}} {
		t.Run(fx.name, func(t *testing.T) {
			var first, second bytes.Buffer
			if err := HTML(&first, fx.report(t)); err != nil {
				t.Fatal(err)
			}
			if err := HTML(&second, fx.report(t)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.Bytes(), second.Bytes()) {
				t.Fatal("two renders of the same report differ")
			}
			golden.Check(t, filepath.Join("testdata", fx.name+".html.golden"), first.Bytes())
		})
	}
}

// fetches lists what in page would make a browser fetch something: an element that loads, an
// attribute that points elsewhere, style that imports or loads a URL. Text is not markup, so an
// escaped "<img src=x>" in a failure line is no fetch.
func fetches(t *testing.T, page string) []string {
	t.Helper()
	var found []string
	z := html.NewTokenizer(strings.NewReader(page))
	inStyle := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("the page does not tokenize: %v", z.Err())
			}
			return found
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "script", "link", "img", "iframe", "object", "embed", "audio", "video", "source", "base", "image", "use", "picture", "track", "frame":
				found = append(found, "<"+tok.Data+">")
			case "style":
				inStyle = true
			}
			for _, a := range tok.Attr {
				switch k := strings.ToLower(strings.TrimPrefix(a.Key, "xlink:")); {
				case k == "src" || k == "href" || k == "srcset" || k == "action" || k == "poster" || k == "data" || k == "background":
					found = append(found, tok.Data+" "+a.Key+"="+a.Val)
				case k == "style" && strings.Contains(strings.ToLower(a.Val), "url("):
					found = append(found, tok.Data+" style="+a.Val)
				}
			}
		case html.EndTagToken:
			inStyle = false
		case html.TextToken:
			if css := strings.ToLower(string(z.Text())); inStyle && (strings.Contains(css, "url(") || strings.Contains(css, "@import") || strings.Contains(css, "@font-face")) {
				found = append(found, "style that loads: "+css)
			}
		}
	}
}

func TestRenderHTMLSelfContained(t *testing.T) {
	for _, r := range []evidence.Report{chartReport(t), redReport(t), {}} {
		var b bytes.Buffer
		if err := HTML(&b, r); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		if f := fetches(t, page); f != nil {
			t.Errorf("the page can fetch: %q", f)
		}
		if !strings.Contains(page, `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`) {
			t.Error("no Content-Security-Policy forbidding fetches")
		}
		if strings.Contains(page, "<?xml") {
			t.Error("an XML declaration inside the HTML")
		}
	}
}

func TestRenderHTMLShowsTheReport(t *testing.T) {
	for _, r := range []evidence.Report{chartReport(t), redReport(t)} {
		var b bytes.Buffer
		if err := HTML(&b, r); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		want := "<h1>Verdict: " + string(r.Verdict) + "</h1>"
		if i := strings.Index(page, want); i < 0 || i > strings.Index(page, `id="checks"`) {
			t.Errorf("the verdict %q does not come first", want)
		}
		for _, c := range displayChecks(r) {
			if !strings.Contains(page, `id="check-`+c.ID+`"`) {
				t.Errorf("check %s is not on the page", c.ID)
			}
			for _, m := range c.Measures {
				cells := measureCells(m)
				row := fmt.Sprintf("<td><code>%s</code></td><td class=\"num\">%s</td><td>%s</td>",
					m.Name, htmlEscape(cells.Value), htmlEscape(cells.Threshold))
				where := page[strings.Index(page, `id="checks"`):strings.Index(page, "</table>")]
				if m.Rule == nil { // informational: folded away below the checks
					row = fmt.Sprintf("<td><code>%s</code></td><td class=\"num\">%s</td></tr>", m.Name, htmlEscape(cells.Value))
					where = page[strings.Index(page, `<details id="informational">`):strings.Index(page, "</details>")]
				}
				if !strings.Contains(where, row) {
					t.Errorf("check %s: no row %q", c.ID, row)
				}
			}
		}
	}
}

// TestRenderHTMLOpening: the page opens with the verdict, the key figures and the failures, then
// the charts, then the checks; informational measures are folded away in a <details> element,
// closed; a key figure the run did not measure reads as a dash.
func TestRenderHTMLOpening(t *testing.T) {
	for _, tc := range []struct {
		name    string
		report  evidence.Report
		figures []string
	}{
		{"green", chartReport(t), []string{
			`<span class="kf-label">CSV p95 latency</span><span class="kf-value">0.412 s</span><span class="kf-rule">want &lt;= 1 s</span><code>a3.csv_p95_seconds</code>`,
			`<span class="kf-label">Peak memory</span><span class="kf-value">40 MiB</span><span class="kf-rule">want &lt;= 256 MiB</span>`,
			`<div class="kf info"><span class="kf-label">Load throughput</span><span class="kf-value">32.4 k rows/s</span><code>load.rows_per_second</code>`,
			`<span class="kf-label">CSV exports verified</span><span class="kf-value">1,412 exports</span>`,
		}},
		{"red", redReport(t), []string{
			`<div class="kf fail"><span class="kf-label">CSV p95 latency</span><span class="kf-value">2.5 s</span><span class="kf-rule">FAIL: want &lt;= 1 s</span>`,
			`<div class="kf fail"><span class="kf-label">PDF p95 latency</span><span class="kf-value">NaN</span>`,
			`<div class="kf fail"><span class="kf-label">Peak memory</span><span class="kf-value">298 MiB</span><span class="kf-rule">FAIL: want &lt;= 256 MiB</span>`,
			`<div class="kf missing"><span class="kf-label">CSV exports verified</span><span class="kf-value">—</span><span class="kf-rule">not measured in this run</span><code>a1.csv_exports</code>`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := HTML(&b, tc.report); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			order := []string{`id="verdict"`, `id="key-figures"`, `id="failures"`, `id="charts"`, "<figure ", `id="checks"`, `<details id="informational">`, `id="environment"`}
			if tc.name == "green" {
				order = slices.DeleteFunc(order, func(s string) bool { return s == `id="failures"` })
				if strings.Contains(page, `id="failures"`) {
					t.Error("a green page lists failures")
				}
			} else {
				order = slices.DeleteFunc(order, func(s string) bool { return s == "<figure " }) // no series
			}
			last := -1
			for _, mark := range order {
				i := strings.Index(page, mark)
				if i < last {
					t.Errorf("%s is not where it belongs (at %d, before something it should follow at %d)", mark, i, last)
				}
				last = i
			}
			if strings.Contains(page, "<details open") || strings.Contains(page, "<script") {
				t.Error("the informational measures are not folded away by plain HTML")
			}
			opening := page[:strings.Index(page, `id="checks"`)]
			if strings.Contains(opening, "none (informational)") {
				t.Error("an informational measure before the checks table")
			}
			for _, f := range tc.figures {
				if !strings.Contains(page[:strings.Index(page, `id="charts"`)], f) {
					t.Errorf("no key figure %q before the charts", f)
				}
			}
		})
	}
	// Every failing measure of the red run is named in the failures, before the charts.
	var b bytes.Buffer
	if err := HTML(&b, redReport(t)); err != nil {
		t.Fatal(err)
	}
	failures := b.String()[strings.Index(b.String(), `id="failures"`):strings.Index(b.String(), `id="charts"`)]
	for _, want := range []string{"<strong>A3 fast</strong>: a3.csv_p95_seconds = 2.5 s (want &lt;= 1 s)", "<strong>A4 bounded</strong>: a4.peak_memory_bytes = 298 MiB (want &lt;= 256 MiB)",
		"<strong>A1 complete</strong>: row id=T-000042 missing"} {
		if !strings.Contains(failures, want) {
			t.Errorf("no %q among the failures:\n%s", want, failures)
		}
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func TestRenderHTMLCharts(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, chartReport(t)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, id := range []string{"latency-cdf", "latency-timeline", "rate-timeline", "memory", "burst", "saturation"} {
		i := strings.Index(page, `<figure id="chart-`+id+`">`)
		if i < 0 {
			t.Errorf("no chart %s", id)
			continue
		}
		fig := page[i : i+strings.Index(page[i:], "</figure>")]
		if !strings.Contains(fig, "<svg role=\"img\" ") || strings.Contains(fig, "Not charted") {
			t.Errorf("chart %s is not drawn:\n%.400s", id, fig)
		}
	}
	for _, want := range []string{
		"large CSV exports", "anonymous (judged)", "429 limited (10)", "503 saturated (3)", "CSV p95 limit",
		"Failed exports (crosses): 1.", "Compared with the baseline", "<td class=\"num\">&#43;Inf</td>", "<td class=\"num\">40 MiB</td>", "worse",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("no %q on the page", want)
		}
	}
}

func TestRenderHTMLMissingCharts(t *testing.T) {
	r := greenReport(t)
	var b bytes.Buffer
	if err := HTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "recorded nothing over time") || strings.Contains(b.String(), "<svg") {
		t.Error("a report without a series should say so and draw nothing")
	}

	// A url target: exports, no memory; the probes never ran.
	r.Series = &evidence.Series{Start: fixedStart, Exports: chartSeries().Exports}
	b.Reset()
	if err := HTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"Not charted: no memory samples", "Not charted: the burst probe recorded no answers", "Not charted: the saturation probe recorded no answers",
		"Not charted: the capacity check ran no step of its ramp",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("no %q", want)
		}
	}
	if n := strings.Count(page, "<svg"); n != 3 {
		t.Errorf("%d charts drawn, want the 3 of the exports", n)
	}

}

func TestDrawChartRecovers(t *testing.T) {
	// gonum/plot panics on what it cannot scale; the chart says so in place of the picture.
	p, lg := newPlot("x", "y")
	p.Add(scatter(plotter.XYs{{X: 1, Y: 1}}, colorCSV, draw.CircleGlyph{}, 2))
	p.X.Tick.Marker = plot.TickerFunc(func(float64, float64) []plot.Tick { panic("no ticks") })
	c := drawChart("broken", "Broken", figure{plot: p, legend: lg, caption: "caption"})
	if c.SVG != "" || c.Missing != "the chart could not be drawn: no ticks" || c.Caption != "caption" {
		t.Errorf("chart %+v", c)
	}
	c = drawChart("nan", "NaN", latencyCDF(evidence.Report{Series: &evidence.Series{Exports: []evidence.ExportPoint{{Format: "csv", OK: true, Latency: time.Second}}}, Thresholds: map[string]evidence.Rule{"a3.csv_p95_seconds": {Op: "<=", Value: math.NaN()}}}))
	if c.SVG == "" {
		t.Errorf("a NaN threshold should be left out, not break the chart: %+v", c)
	}
}

func TestRenderHTMLEscapes(t *testing.T) {
	r := redReport(t)
	r.Checks[3].Failures = append(r.Checks[3].Failures, `<script>alert("x")</script>`)
	r.Environment.Note = `<img src=x onerror=alert(1)>`
	r.Series = &evidence.Series{Windows: []evidence.Span{{Label: "<b>window</b>", End: time.Second}}, Memory: []evidence.MemoryPoint{{At: 0, AnonBytes: 1}, {At: time.Second, AnonBytes: 2}}}
	var b bytes.Buffer
	if err := HTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if f := fetches(t, b.String()); f != nil || strings.Contains(b.String(), "<b>window") {
		t.Errorf("free text reached the page unescaped: %q", f)
	}
}

func TestRenderJSONKeepsSeriesAndBaseline(t *testing.T) {
	b, got := roundTrip(t, chartReport(t))
	if got.Series == nil || len(got.Series.Exports) != 48 || len(got.Series.Memory) != 152 || !math.IsInf(got.Baseline[2].Delta, 1) {
		t.Errorf("round trip lost data: series %+v baseline %+v", got.Series != nil, got.Baseline)
	}
	if !strings.Contains(string(b), `"delta": "+Inf"`) {
		t.Error("an infinite delta is not written as the string +Inf")
	}
	for _, bad := range []string{`{"measure":"m","new":1,"delta":1}`, `{"measure":"m","base":"x","new":1,"delta":1}`} {
		var d evidence.Delta
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("unmarshal %s: no error", bad)
		}
	}
}

func TestLogTicks(t *testing.T) {
	labels := func(lo, hi float64) []string {
		var out []string
		for _, tk := range logTicks(lo, hi) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{0.18, 5, "0.2 0.5 1 2 5"},
		{0.3, 0.9, "0.3 0.4 0.5 0.6 0.7 0.8 0.9"},
		{0.41, 0.44, "0.41 0.44"},
		{2, 3000, "2 5 10 20 50 100 200 500 1000 2000"},
	} {
		if got := strings.Join(labels(tc.lo, tc.hi), " "); got != tc.want {
			t.Errorf("logTicks(%v, %v) labels %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
}
