package compare

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/perf/benchmath"
)

// trendMeasure is one measure a history follows: a distribution (its median, with p5 and p95)
// or a measure of evidence.json, shown in unit after dividing by scale.
type trendMeasure struct {
	name, label, unit string
	scale             float64
}

// trendMeasures are the main measures of a run, as a history shows them: the medians of the
// load test's samples, the CSV throughput, the peak anonymous memory and the failed exports.
var trendMeasures = []trendMeasure{
	{"samples.csv_latency_seconds", "CSV latency", "s", 1},
	{"samples.csv_first_byte_seconds", "CSV first byte", "s", 1},
	{"samples.csv_stream_mib_per_second", "CSV stream rate", "MiB/s", 1},
	{"samples.pdf_latency_seconds", "PDF latency", "s", 1},
	{"a3.csv_rows_per_second", "CSV throughput", "rows/s", 1},
	{"a4.peak_memory_bytes", "peak memory", "MiB", 1 << 20},
	{"a3.failed_exports", "failed exports", "", 1},
}

// History is a series of runs, oldest first, and the trend of each main measure over them.
type History struct {
	Runs   []Run
	Trends []Trend
}

// Trend is one measure over the runs of a History.
type Trend struct {
	Measure, Label, Unit string
	Distribution         bool    // Value is a median, Lo and Hi the p5 and p95 of its samples
	Points               []Point // one per run, in the History's order
}

// Point is one run's value of a measure: NaN when the run does not have it.
type Point struct {
	Value, Lo, Hi float64
	N             int // samples, for a distribution
}

// NewHistory orders bundles by their start time (then run ID) and takes the main measures of
// each.
func NewHistory(bundles []Bundle) History {
	bundles = slices.Clone(bundles)
	slices.SortStableFunc(bundles, func(a, b Bundle) int {
		return cmp.Or(a.Report.Started.Compare(b.Report.Started), strings.Compare(a.Report.RunID, b.Report.RunID))
	})
	var h History
	for _, b := range bundles {
		h.Runs = append(h.Runs, describe(b))
	}
	for _, tm := range trendMeasures {
		t := Trend{Measure: tm.name, Label: tm.label, Unit: tm.unit}
		d, isDist := findDistribution(tm.name)
		t.Distribution = isDist
		for _, b := range bundles {
			p := Point{Value: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
			if isDist {
				p = summarize(d.values(b.Samples))
			} else if m, ok := measureNamed(b, tm.name); ok {
				p.Value = m / tm.scale
			}
			t.Points = append(t.Points, p)
		}
		h.Trends = append(h.Trends, t)
	}
	return h
}

// summarize is the median of values (as Compare takes it) and their nearest-rank p5 and p95 (as
// the load package's distributions take them).
func summarize(values []float64) Point {
	if len(values) == 0 {
		return Point{Value: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	}
	th := benchmath.DefaultThresholds
	s := benchmath.NewSample(slices.Clone(values), &th) // sorts its values
	rank := func(p float64) float64 { return s.Values[max(int(math.Ceil(p/100*float64(len(s.Values))))-1, 0)] }
	return Point{Value: benchmath.AssumeNothing.Summary(s, 0.95).Center, Lo: rank(5), Hi: rank(95), N: len(values)}
}

func measureNamed(b Bundle, name string) (float64, bool) {
	for _, m := range measures(b.Report) {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// RenderHistory writes h as a plain-text table, one run a line, oldest first, and last the change
// from the first run to the last.
func RenderHistory(w io.Writer, h History) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	head, rows := historyCells(h)
	for _, cells := range append([][]string{head}, rows...) {
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// historyCells are the cells of h's table, for both renderers: a header, one row per run, and
// with two runs or more the change from the first to the last.
func historyCells(h History) (head []string, rows [][]string) {
	head = []string{"run", "started", "target", "verdict"}
	for _, t := range h.Trends {
		head = append(head, t.title())
	}
	for i, r := range h.Runs {
		cells := []string{r.ID, r.Started.UTC().Format(time.RFC3339), r.Target, string(r.Verdict)}
		for _, t := range h.Trends {
			cells = append(cells, value(t.Points[i].Value, ""))
		}
		rows = append(rows, cells)
	}
	if n := len(h.Runs); n > 1 {
		cells := []string{"first → last", "", "", ""}
		for _, t := range h.Trends {
			_, change := delta(t.Points[0].Value, t.Points[n-1].Value)
			cells = append(cells, percent(change))
		}
		rows = append(rows, cells)
	}
	return head, rows
}

// title is the trend's label with its unit.
func (t Trend) title() string {
	if t.Unit == "" {
		return t.Label
	}
	return fmt.Sprintf("%s (%s)", t.Label, t.Unit)
}
