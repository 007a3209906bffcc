package browser_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/render"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// chromium returns the browser to run: EVIDENCE_CHROMIUM if set, else one on PATH; without one
// the test fails saying how to install it (testkit.Require).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EVIDENCE_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("EVIDENCE_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	testkit.Require(t, testkit.Chromium)
	p, _ := testkit.LookChromium()
	return p
}

// browser starts one headless Chromium for the test, closed at cleanup. Its traffic stays on
// this machine: the pages are file:// URLs, and every host name resolves to nothing.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1024),
		chromedp.DisableGPU,
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
		chromedp.Flag("hide-scrollbars", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return ctx
}

// visit is what the browser saw of one page.
type visit struct {
	mu       sync.Mutex
	requests []string // every URL the page requested
	errors   []string // console errors, uncaught exceptions, error entries of the browser log
	warnings []string

	ids      []string // the id of every element, in document order
	text     string   // the page's text as rendered: what is folded away is not in it
	all      string   // the page's text, folded away or not
	svgs     int      // inline SVG charts drawn with a size
	shot     image.Image
	shotSize int
}

// open loads the file at path in a new tab of the browser and reads the page back.
func open(t *testing.T, browserCtx context.Context, path string) *visit {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	u := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	v := &visit{}
	listen := func(ev any) {
		v.mu.Lock()
		defer v.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			v.requests = append(v.requests, ev.Request.URL)
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				args = append(args, fmt.Sprintf("%s", a.Value))
			}
			line := fmt.Sprintf("console.%s(%s)", ev.Type, strings.Join(args, ", "))
			switch ev.Type {
			case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeAssert:
				v.errors = append(v.errors, line)
			case runtime.ConsoleAPICalledTypeWarning:
				v.warnings = append(v.warnings, line)
			}
		case *runtime.EventExceptionThrown:
			v.errors = append(v.errors, "uncaught exception: "+ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			line := fmt.Sprintf("browser log (%s) %s: %s", ev.Entry.Source, ev.Entry.URL, ev.Entry.Text)
			switch ev.Entry.Level {
			case log.EntryLevelError:
				v.errors = append(v.errors, line)
			case log.EntryLevelWarning:
				v.warnings = append(v.warnings, line)
			}
		}
	}
	tab, cancel := chromedp.NewContext(browserCtx, chromedp.WithListener(listen))
	defer cancel()
	if err := chromedp.Do(tab, chromedp.Navigate(u)); err != nil {
		t.Fatalf("opening %s: %v", u, err)
	}
	type page struct {
		IDs  []string `json:"ids"`
		Text string   `json:"text"`
		All  string   `json:"all"`
		SVGs int      `json:"svgs"`
	}
	// The test reads the page through the protocol; the page itself has no script.
	p, err := chromedp.Run(tab, chromedp.Evaluate[page](`({
		ids: Array.from(document.querySelectorAll("[id]"), e => e.id),
		text: document.body.innerText,
		all: document.body.textContent,
		svgs: Array.from(document.querySelectorAll("figure svg")).filter(s => s.getBoundingClientRect().width > 100 && s.getBoundingClientRect().height > 50).length,
	})`))
	if err != nil {
		t.Fatalf("reading %s back: %v", u, err)
	}
	v.ids, v.text, v.all, v.svgs = p.IDs, p.Text, p.All, p.SVGs
	shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatalf("screenshot of %s: %v", u, err)
	}
	v.shotSize = len(shot)
	if v.shot, err = png.Decode(bytes.NewReader(shot)); err != nil {
		t.Fatalf("screenshot of %s is not a PNG: %v", u, err)
	}
	if dir := os.Getenv("EVIDENCE_BROWSER_SCREENSHOTS"); dir != "" { // to look at by hand
		name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + ".png"
		if err := os.WriteFile(filepath.Join(dir, name), shot, 0o644); err != nil {
			t.Error(err)
		}
	}
	return v
}

// checkClean fails for a console error, or for any request but the document's own.
func (v *visit) checkClean(t *testing.T, path string) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	abs, _ := filepath.Abs(path)
	self := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	for _, r := range v.requests {
		if r != self {
			t.Errorf("the page requested %s: EVIDENCE.html must load nothing but itself", r)
		}
	}
	for _, e := range v.errors {
		t.Errorf("console error: %s", e)
	}
	for _, w := range v.warnings {
		t.Logf("console warning: %s", w)
	}
}

// checkDrawn fails for a screenshot that is (almost) blank: the page must put its verdict,
// tables and charts on screen, in colour.
func (v *visit) checkDrawn(t *testing.T, minColours int) {
	t.Helper()
	b := v.shot.Bounds()
	colours := map[color.RGBA]bool{}
	inked := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := v.shot.At(x, y).RGBA()
			c := color.RGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(bl >> 8), A: 0xff}
			colours[c] = true
			if c != (color.RGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}) {
				inked++
			}
		}
	}
	share := float64(inked) / float64(b.Dx()*b.Dy())
	t.Logf("screenshot %dx%d (%d bytes PNG): %d distinct colours, %.1f%% of pixels not white", b.Dx(), b.Dy(), v.shotSize, len(colours), 100*share)
	if len(colours) < minColours || share < 0.02 {
		t.Errorf("the screenshot looks blank: %d distinct colours (want at least %d), %.2f%% of pixels not white (want at least 2%%)",
			len(colours), minColours, 100*share)
	}
}

// runReport is a RED run with every required check, a failed measure, and a series for every
// chart, as a suite would hand it to WriteBundle.
func runReport(t *testing.T) evidence.Report {
	t.Helper()
	rules := testkit.Thresholds(t)
	j := func(name string, v float64) evidence.Measure { return evidence.Judge(rules, name, v, "") }
	checks := []evidence.Check{
		evidence.NewCheck("seed", "seed", []evidence.Measure{evidence.Judge(rules, "seed.records", 317000, "records")}, nil),
		evidence.NewCheck("smoke", "smoke", nil, nil),
		evidence.NewCheck("load", "load", []evidence.Measure{evidence.Judge(rules, "load.exports", 40, "exports")}, nil),
		evidence.NewCheck("A1", "complete", []evidence.Measure{j("a1.missing_rows", 0), j("a1.duplicate_rows", 0)}, nil),
		evidence.NewCheck("A2", "well-formed", []evidence.Measure{j("a2.csv_parse_errors", 0)}, nil),
		evidence.NewCheck("A3", "fast", []evidence.Measure{j("a3.csv_p95_seconds", 0.43), j("a3.pdf_p95_seconds", 2.9), j("a3.failed_exports", 1)},
			[]string{`csv /v1/exports/load?format=csv: body cut at 812 bytes <not the whole export>`}),
		evidence.NewCheck("A4", "bounded", []evidence.Measure{j("a4.peak_memory_bytes", 31<<20), j("a4.memory_growth_ratio", 0.04)}, nil),
		evidence.NewCheck("A5", "protected", []evidence.Measure{j("a5.rate_limited_responses", 12), j("a5.saturated_responses", 3), j("a5.server_errors", 0)}, nil),
		evidence.NewCheck("A6", "observable", []evidence.Measure{j("a6.missing_metrics", 0)}, nil),
	}
	start := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	s := &evidence.Series{Start: start}
	for i := range 40 {
		e := evidence.ExportPoint{Format: "csv", Offset: time.Duration(i) * 200 * time.Millisecond, FirstByte: 8 * time.Millisecond,
			Latency: time.Duration(150+i*7) * time.Millisecond, Bytes: 1 << 20, OK: i != 17}
		if i%4 == 3 {
			e.Format, e.Latency = "pdf", time.Duration(2000+i*20)*time.Millisecond
		}
		if e.OK {
			e.Rate = float64(e.Bytes) / (e.Latency - e.FirstByte).Seconds()
		}
		s.Exports = append(s.Exports, e)
	}
	for i := range 80 {
		s.Memory = append(s.Memory, evidence.MemoryPoint{At: time.Duration(i) * 250 * time.Millisecond,
			AnonBytes: uint64(8+i%13) << 20, FileBytes: uint64(5+i/20) << 20})
	}
	s.Windows = []evidence.Span{{Label: "small CSV exports", End: 5 * time.Second}, {Label: "load test", Start: 5 * time.Second, End: 15 * time.Second}}
	for i := range 30 {
		st := 200
		if i > 17 {
			st = 429
		}
		s.Answers = append(s.Answers, evidence.Answer{Probe: evidence.ProbeBurst, At: 16*time.Second + time.Duration(i)*15*time.Millisecond, Status: st})
	}
	for i := range 12 {
		st := 200
		if i > 8 {
			st = 503
		}
		s.Answers = append(s.Answers, evidence.Answer{Probe: evidence.ProbeSaturation, At: 18*time.Second + time.Duration(i)*40*time.Millisecond, Status: st})
	}
	s.Capacity = &evidence.Capacity{Knee: 1, KneeExportsPerSecond: 6, CeilingExportsPerSecond: 400, Stopped: "slo"}
	for i, rate := range []float64{4, 6, 9} {
		at := 20*time.Second + time.Duration(i)*3*time.Second
		s.Capacity.Steps = append(s.Capacity.Steps, evidence.CapacityStep{Start: at, End: at + 2*time.Second, Drained: at + 2*time.Second,
			Offered: rate, Achieved: min(rate, 7), CSVP95: 0.1 * rate, PDFP95: 0.5 * rate, Held: rate < 9})
	}
	r := evidence.Report{
		RunID: "browser-test", Started: start, Finished: start.Add(time.Minute),
		Environment: evidence.Environment{Target: "process", GitCommit: "0123abc", GoVersion: "go1.26.8", Machine: "linux/amd64"},
		Thresholds:  rules, Required: pipeline.Planned(pipeline.Table(), pipeline.Capabilities{}), Checks: checks, Series: s,
		Baseline: []evidence.Delta{{Measure: "a3.csv_p95_seconds", Unit: "s", Base: 0.4, New: 0.43, Delta: 0.03, Verdict: "same"}},
	}
	return r
}

func TestEvidenceHTMLInChromium(t *testing.T) {
	ctx := browser(t)

	t.Run("bundle", func(t *testing.T) {
		r := runReport(t)
		dir := filepath.Join(t.TempDir(), r.RunID)
		written, err := render.WriteBundle(dir, r, map[string][]byte{"exporter.log": []byte("{}\n")})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, evidence.FileHTML)
		v := open(t, ctx, path)
		v.checkClean(t, path)
		v.checkDrawn(t, 64)
		if !strings.HasPrefix(strings.TrimSpace(v.text), "Verdict: "+string(written.Verdict)) {
			t.Errorf("the page does not open with its verdict %s:\n%.200s", written.Verdict, v.text)
		}
		for _, c := range written.Checks {
			if !slices.Contains(v.ids, "check-"+c.ID) {
				t.Errorf("check %s has no row on the page (ids %v)", c.ID, v.ids)
			}
			for _, m := range c.Measures {
				switch {
				case m.Rule != nil && !strings.Contains(v.text, m.Name):
					t.Errorf("check %s: judged measure %s is not on screen", c.ID, m.Name)
				case m.Rule == nil && strings.Contains(v.text, m.Name):
					t.Errorf("check %s: informational measure %s is on screen, not folded away", c.ID, m.Name)
				case !strings.Contains(v.all, m.Name):
					t.Errorf("check %s: measure %s is not on the page", c.ID, m.Name)
				}
			}
		}
		// The page opens with the verdict, the key figures and the failures; the charts come
		// before the checks table.
		order := []string{"verdict", "key-figures", "failures", "charts", "chart-latency-cdf", "checks", "informational", "environment"}
		last := -1
		for _, id := range order {
			i := slices.Index(v.ids, id)
			if i < last {
				t.Errorf("element #%s is out of place: the page's ids in order are %v", id, v.ids)
			}
			last = i
		}
		opening, _, _ := strings.Cut(v.text, "Charts")
		for _, want := range []string{"CSV p95 latency", "0.43 s", "want <= 1 s", "Peak memory", "31 MiB", "Load throughput", "—",
			"A3 fast: a3.failed_exports = 1 exports (want == 0 exports)", "body cut at 812 bytes"} {
			if !strings.Contains(opening, want) {
				t.Errorf("the page's opening has no %q:\n%s", want, opening)
			}
		}
		if v.svgs != 7 {
			t.Errorf("%d charts drawn on screen, want 7", v.svgs)
		}
		for _, want := range []string{"body cut at 812 bytes <not the whole export>", "Compared with the baseline", evidence.FileMarkdown} {
			if !strings.Contains(v.text, want) {
				t.Errorf("no %q on the page", want)
			}
		}
	})

	// The golden pages of package evidence/render, as committed.
	for _, name := range []string{"green", "red"} {
		t.Run("golden "+name, func(t *testing.T) {
			// A golden file has the wrong extension for a browser to render it as HTML.
			b, err := os.ReadFile(filepath.Join("..", "render", "testdata", name+".html.golden"))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), evidence.FileHTML)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			v := open(t, ctx, path)
			v.checkClean(t, path)
			v.checkDrawn(t, 16)
			for _, id := range pipeline.Planned(pipeline.Table(), pipeline.Capabilities{}) {
				if !slices.Contains(v.ids, "check-"+id) {
					t.Errorf("check %s has no row on the page", id)
				}
			}
		})
	}
}
