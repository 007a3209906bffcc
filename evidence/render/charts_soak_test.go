package render

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
)

// soakSeries is a minute's soak: memory rising 16 KiB an export with its fit, goroutines flat,
// no open file descriptors exposed.
func soakSeries() *evidence.Soak {
	k := &evidence.Soak{Start: 40 * time.Second, End: 100 * time.Second, WarmUp: 12 * time.Second, Rate: 4}
	mem := evidence.SoakQuantity{Name: "memory_bytes", Label: "anonymous memory (outside)", Unit: "bytes", Judged: true,
		PerHour:   &evidence.Fit{Slope: 16384 * 4 * 3600, Intercept: 30 << 20, Points: 48},
		PerExport: &evidence.Fit{Slope: 16384, Intercept: 29 << 20, Points: 48}}
	gor := evidence.SoakQuantity{Name: "goroutines", Label: "goroutines", Unit: "goroutines", Judged: true,
		PerHour: &evidence.Fit{Slope: 0, Intercept: 12, Points: 48}, PerExport: &evidence.Fit{Intercept: 12, Points: 48}}
	for i := range 60 {
		at := 40*time.Second + time.Duration(i)*time.Second
		mem.Points = append(mem.Points, evidence.SoakPoint{At: at, Exports: int64(4 * i), Value: float64(29<<20 + 16384*4*i)})
		gor.Points = append(gor.Points, evidence.SoakPoint{At: at, Exports: int64(4 * i), Value: 12})
	}
	fds := evidence.SoakQuantity{Name: "open_fds", Label: "open file descriptors", Unit: "fds", Judged: true,
		Missing: "the exporter's metrics do not expose process_open_fds"}
	k.Quantities = []evidence.SoakQuantity{mem, fds, gor}
	return k
}

// TestRenderHTMLSoakCharts draws the soak's series with their fits and says what was not measured;
// a run without a soak has no soak chart.
func TestRenderHTMLSoakCharts(t *testing.T) {
	r := chartReport(t)
	r.Series.Soak = soakSeries()
	var b bytes.Buffer
	if err := HTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, id := range []string{"soak-memory", "soak-counts"} {
		i := strings.Index(page, `<figure id="chart-`+id+`">`)
		if i < 0 {
			t.Fatalf("no chart %s", id)
		}
		fig := page[i : i+strings.Index(page[i:], "</figure>")]
		if !strings.Contains(fig, "<svg role=\"img\" ") {
			t.Errorf("chart %s is not drawn:\n%.400s", id, fig)
		}
	}
	for _, want := range []string{"fit: 225 MiB/h", "16 KiB/export", "warm-up (not fitted)",
		"open file descriptors: not measured (the exporter&#39;s metrics do not expose process_open_fds)"} {
		if !strings.Contains(page, want) {
			t.Errorf("no %q on the page", want)
		}
	}
	b.Reset()
	if err := HTML(&b, chartReport(t)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "chart-soak") {
		t.Error("a run without a soak has a soak chart")
	}
}
