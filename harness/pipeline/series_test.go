package pipeline_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/render"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// TestSeries runs the pipeline against the healthy fake exporter as a process and checks the
// series it hands to the evidence: every load export, memory samples in four labelled windows,
// every answer of the burst and of the saturation probe, on one timeline, drawn as six charts.
func TestSeries(t *testing.T) {
	bin := testkit.Binary(t, testkit.FakePkg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tg, err := target.Start(ctx, target.Options{Kind: target.KindProcess, RequireKind: true, BinaryPath: bin, WorkDir: t.TempDir(),
		Env: testkit.FakeEnv()})
	if err != nil {
		t.Fatal(err)
	}
	testkit.StopAtCleanup(t, 30*time.Second, tg.Stop)
	th := testkit.Thresholds(t)
	run, err := pipeline.New(pipeline.Config{Target: tg, Thresholds: th, Suffix: "series", Seed: 7,
		Sizes: testkit.SmallRun(), Limits: testkit.FakeLimits(), SampleInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if run.Series() != nil {
		t.Fatal("a series before the Load step")
	}
	checks := run.All(ctx)
	s := run.Series()
	if s == nil {
		t.Fatal("no series after the Load step")
	}
	if s.Start.IsZero() || s.Start.Location() != time.UTC {
		t.Errorf("series start %v", s.Start)
	}

	var csv, pdf, rated int
	for _, e := range s.Exports {
		switch e.Format {
		case "csv":
			csv++
		case "pdf":
			pdf++
		}
		if e.Offset <= 0 || e.Latency <= 0 || !e.OK {
			t.Errorf("export %+v", e)
		}
		if e.Rate > 0 {
			rated++
		}
	}
	if csv+pdf != 24 || pdf != 6 || rated == 0 {
		t.Errorf("%d CSV and %d PDF exports, %d with a rate; want 18, 6 and some", csv, pdf, rated)
	}

	var labels []string
	for i, w := range s.Windows {
		labels = append(labels, w.Label)
		if w.End <= w.Start || (i > 0 && w.Start < s.Windows[i-1].End) {
			t.Errorf("window %+v after %+v", w, s.Windows[max(i-1, 0)])
		}
	}
	if got := strings.Join(labels, "; "); got != "small CSV exports; large CSV exports; load test; ceiling, bad endings, burst, saturation" {
		t.Errorf("windows %q", got)
	}
	if len(s.Memory) < 8 {
		t.Errorf("%d memory samples", len(s.Memory))
	}
	for i, m := range s.Memory {
		if m.AnonBytes == 0 || (i > 0 && m.At < s.Memory[i-1].At) {
			t.Errorf("memory sample %d %+v", i, m)
		}
	}
	// The load test runs inside its window, and its exports on the same timeline.
	load := s.Windows[2]
	for _, e := range s.Exports {
		if e.Offset < load.Start || e.Offset+e.Latency > load.End {
			t.Errorf("export at %s–%s outside the load test's window %s–%s", e.Offset, e.Offset+e.Latency, load.Start, load.End)
		}
	}

	byProbe := map[string]map[int]int{}
	for _, a := range s.Answers {
		if byProbe[a.Probe] == nil {
			byProbe[a.Probe] = map[int]int{}
		}
		byProbe[a.Probe][a.Status]++
		if a.At < load.End {
			t.Errorf("answer %+v before the load test ended (%s)", a, load.End)
		}
	}
	// The burst may stop once enough 429s came, and on a busy machine meet the CSV capacity (503).
	if b := byProbe[evidence.ProbeBurst]; b[200] == 0 || b[429] == 0 || b[200]+b[429]+b[503] > 100 {
		t.Errorf("burst answers %v", b)
	}
	if sat := byProbe[evidence.ProbeSaturation]; sat[200] != 4 || sat[503] == 0 {
		t.Errorf("saturation answers %v", sat)
	}

	r := evidence.Report{Thresholds: th, Required: run.Planned(), Checks: checks, Series: s}
	var page bytes.Buffer
	if err := render.HTML(&page, r); err != nil {
		t.Fatal(err)
	}
	if s.Capacity == nil || len(s.Capacity.Steps) == 0 || s.Capacity.Steps[0].Start < load.End {
		t.Errorf("capacity ramp in the series: %+v", s.Capacity)
	}
	if n := strings.Count(page.String(), "<svg "); n != 7 || strings.Contains(page.String(), "Not charted") {
		t.Errorf("%d charts drawn from the run's series", n)
	}
}
