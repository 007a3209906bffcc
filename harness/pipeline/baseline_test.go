package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/compare"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// The baselines are the compare package's testdata: real runs' evidence.json and load-result.json.
func testBundle(name string) string {
	return filepath.Join("..", "..", "evidence", "compare", "testdata", name)
}

// bundleFile is file of the test bundle name (testBundle), read whole; a test that cannot read it
// fails, since the baselines are checked in.
func bundleFile(t *testing.T, name, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testBundle(name), file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// urlTarget is a target that is never reached: Baseline reads only its kind.
type urlTarget struct{}

func (urlTarget) Kind() target.Kind              { return target.KindURL }
func (urlTarget) BaseURL() string                { return "http://127.0.0.1:1" }
func (urlTarget) Token() string                  { return "" }
func (urlTarget) Info() target.Info              { return target.Info{} }
func (urlTarget) Stop(ctx context.Context) error { return nil }

// finishedRun is a Run that measured what the bundle of that run records: its load result, as the
// Load step keeps it, and its checks, as the suite records them.
func finishedRun(t *testing.T, name, baseline string) *Run {
	t.Helper()
	raw := bundleFile(t, name, compare.FileLoadResult)
	var report evidence.Report
	if err := json.Unmarshal(bundleFile(t, name, evidence.FileJSON), &report); err != nil {
		t.Fatal(err)
	}
	recorded := map[string]evidence.Check{}
	for _, c := range report.Checks {
		recorded[c.ID] = c
	}
	cfg := Config{Target: urlTarget{}, Thresholds: testkit.Thresholds(t), Suffix: name, Baseline: baseline}
	return &Run{cfg: cfg, caps: CapabilitiesOf(cfg.Target, baseline, nil), recorded: recorded,
		artifacts: map[string][]byte{compare.FileLoadResult: raw}}
}

// TestBaseline is the baseline step of an acceptance run of the uniformly slow exporter (slow4,
// every CSV export slowed to 4 MiB/s) against a healthy run, and of healthy runs.
func TestBaseline(t *testing.T) {
	for _, tt := range []struct {
		name, run, baseline string
		noLoad              bool
		wantStatus          evidence.Status
		wantFailures        []string
	}{
		{"slow exporter, healthy baseline", "slow4", testBundle("series-1"), false, evidence.StatusFailed,
			[]string{"samples.csv_latency_seconds regressed", "samples.csv_stream_mib_per_second regressed"}},
		{"healthy run, healthy baseline", "series-7", testBundle("series-1"), false, evidence.StatusPassed, nil},
		{"healthy baseline, the other way", "series-1", testBundle("series-2"), false, evidence.StatusPassed, nil},
		{"missing baseline", "series-1", filepath.Join(t.TempDir(), "absent"), false, evidence.StatusNotRun,
			[]string{"cannot be read, so nothing was compared"}},
		{"no load test in this run", "series-1", testBundle("series-2"), true, evidence.StatusNotRun,
			[]string{"this run has no load samples"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := finishedRun(t, tt.run, tt.baseline)
			if tt.noLoad {
				delete(r.artifacts, compare.FileLoadResult)
			}
			c := r.Check(context.Background(), baselineCheck)
			if c.ID != "baseline" || c.Status != tt.wantStatus {
				t.Errorf("check %s: %s, want %s; failures %q", c.ID, c.Status, tt.wantStatus, c.Failures)
			}
			for _, want := range tt.wantFailures {
				if !slices.ContainsFunc(c.Failures, func(f string) bool { return strings.Contains(f, want) }) {
					t.Errorf("no failure with %q in %q", want, c.Failures)
				}
			}
			if tt.wantFailures == nil && len(c.Failures) > 0 {
				t.Errorf("failures %q", c.Failures)
			}
		})
	}
}

// TestSampleStreamRate holds the compare package's reading of load-result.json to the load
// package's: the same samples, the same streaming rate for each.
func TestSampleStreamRate(t *testing.T) {
	for _, name := range []string{"series-1", "slow4"} {
		raw := bundleFile(t, name, compare.FileLoadResult)
		var res load.Result
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatal(err)
		}
		samples, err := compare.ParseSamples(raw)
		if err != nil || len(samples) != len(res.Samples) {
			t.Fatalf("%s: %d samples, %v; load reads %d", name, len(samples), err, len(res.Samples))
		}
		for i, s := range res.Samples {
			// Also a body just under and over the smallest timed size, and a failed export.
			for _, v := range []load.Sample{s, {Format: s.Format, Latency: s.Latency, FirstByte: s.FirstByte, Bytes: load.MinRateBytes - 1},
				{Format: s.Format, Latency: s.Latency, FirstByte: s.FirstByte, Bytes: load.MinRateBytes}, {Latency: s.Latency, Bytes: s.Bytes, Failure: "truncated"}} {
				c := compare.Sample{Format: v.Format, FirstByte: v.FirstByte, Latency: v.Latency, Bytes: v.Bytes, Failure: v.Failure}
				want, wantOK := v.StreamRate()
				if got, ok := c.StreamRate(); got != want || ok != wantOK {
					t.Fatalf("%s sample %d %+v: rate %v %t, load says %v %t", name, i, v, got, ok, want, wantOK)
				}
			}
			if samples[i] != (compare.Sample{Format: s.Format, FirstByte: s.FirstByte, Latency: s.Latency, Bytes: s.Bytes, Failure: s.Failure}) {
				t.Fatalf("%s sample %d: compare reads %+v, load %+v", name, i, samples[i], s)
			}
		}
	}
}
