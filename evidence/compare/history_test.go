package compare

import (
	"bytes"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/internal/testkit/golden"
)

// history is the history of the testdata runs, given in no particular order.
func history(t *testing.T) History {
	t.Helper()
	var bundles []Bundle
	for _, name := range []string{"series-7", "slow4", "series-2", "series-4", "series-1"} {
		bundles = append(bundles, mustLoad(t, name))
	}
	return NewHistory(bundles)
}

func TestNewHistory(t *testing.T) {
	h := history(t)
	var ids []string
	for _, r := range h.Runs {
		ids = append(ids, r.ID)
	}
	if want := []string{"slow4", "series-1", "series-2", "series-4", "series-7"}; !slices.Equal(ids, want) {
		t.Errorf("runs %v, want oldest first %v", ids, want)
	}
	for _, tr := range h.Trends {
		if len(tr.Points) != len(h.Runs) {
			t.Errorf("%s: %d points for %d runs", tr.Measure, len(tr.Points), len(h.Runs))
		}
	}
	lat, mem := h.Trends[0], h.Trends[5]
	if p := lat.Points[1]; lat.Measure != "samples.csv_latency_seconds" || p.N != 90 || !(p.Lo < p.Value && p.Value < p.Hi) {
		t.Errorf("%s of series-1: %+v, want the median of 90 samples between p5 and p95", lat.Measure, p)
	}
	if mem.Measure != "a4.peak_memory_bytes" || !math.IsNaN(mem.Points[0].Value) || math.Abs(mem.Points[1].Value-33.47) > 0.01 {
		t.Errorf("%s: %+v, want NaN for the url run and 33.47 MiB for series-1", mem.Measure, mem.Points[:2])
	}
}

func TestRenderHistory(t *testing.T) {
	var b bytes.Buffer
	if err := RenderHistory(&b, history(t)); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, goldenPath("history.txt.golden"), b.Bytes())
}

func TestRenderHistoryHTML(t *testing.T) {
	var b bytes.Buffer
	if err := RenderHistoryHTML(&b, history(t)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, "<svg"); n != len(trendMeasures) {
		t.Errorf("%d charts, want one per measure (%d)", n, len(trendMeasures))
	}
	// Self-contained: nothing is fetched. The only URLs are the SVG namespaces.
	for _, bad := range []string{"<script", "<link", "<img", "src=", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	for _, u := range regexp.MustCompile(`https?://[^"\s]+`).FindAllString(page, -1) {
		if u != "http://www.w3.org/2000/svg" && u != "http://www.w3.org/1999/xlink" {
			t.Errorf("the page refers to %s", u)
		}
	}
	golden.Check(t, goldenPath("history.html.golden"), b.Bytes())
	var again bytes.Buffer
	if err := RenderHistoryHTML(&again, history(t)); err != nil || !bytes.Equal(again.Bytes(), b.Bytes()) {
		t.Errorf("the same history rendered different bytes (%v)", err)
	}
	if err := RenderHistoryHTML(io.Discard, NewHistory(nil)); err != nil {
		t.Errorf("an empty history: %v", err)
	}
}
