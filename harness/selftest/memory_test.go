package selftest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/assert"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/memory"
	"github.com/exportatscale/exportatscale/harness/seed"
	"github.com/exportatscale/exportatscale/harness/target"
)

// TestMemoryGrowth starts the fake exporter as a process through the suite's process target and
// measures it with the suite's sampler and window procedure: A4 must pass the streaming fake and
// fail, on a4.memory_growth_ratio, the fake that builds every CSV body in memory.
func TestMemoryGrowth(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("a process target's memory is read from /proc/<pid>/status, which only Linux has")
	}
	th, err := evidence.LoadThresholds("")
	if err != nil {
		t.Fatal(err)
	}
	bin := buildFakeExporter(t)
	// The large export (200,000 rows, about 25 MB of CSV) is a sizeable share of the fake's
	// footprint (its store, about 160 MiB), so holding it shows; the small one is 1,000 rows.
	small := newMemoryDataset(t, "small", 1, 1000)
	large := newMemoryDataset(t, "large", 2, 200000)

	for _, tt := range []struct {
		name   string
		args   []string
		growth bool // a4.memory_growth_ratio must fail, and A4 with it
	}{
		{name: "streaming"},
		{name: "buffers exports", args: []string{"--fault=buffer-exports"}, growth: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			tg, err := target.Start(ctx, target.Options{Kind: target.KindProcess, RequireKind: true,
				BinaryPath: bin, WorkDir: t.TempDir(), Args: tt.args})
			if err != nil {
				t.Fatal(err)
			}
			stop := func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				return tg.Stop(ctx)
			}
			t.Cleanup(func() { stop() }) // a second Stop returns the first result

			mem := measureMemory(ctx, t, tg, small, large)
			check := assert.A4(th, mem)
			growth, judged := measureOf(check, "a4.memory_growth_ratio")
			t.Logf("growth %.3f byte/byte: peak %.1f MiB during the small export, %.1f MiB during the large (%d and %d bytes; %d and %d samples); resident %.1f MiB; A4 %s %q",
				growth.Value, mem.PeakDuringSmall/(1<<20), mem.PeakDuringLarge/(1<<20), int64(mem.SmallBytes), int64(mem.LargeBytes),
				mem.SmallSamples, mem.LargeSamples, mem.ProcessResident/(1<<20), check.Status, check.Failures)
			switch {
			case !judged:
				t.Errorf("A4 did not judge a4.memory_growth_ratio: %s %q", check.Status, check.Failures)
			case tt.growth && (growth.Pass || check.Status != evidence.StatusFailed):
				t.Errorf("an exporter that holds every export in memory: growth passed %v, A4 %s; want both failed", growth.Pass, check.Status)
			case !tt.growth && check.Status != evidence.StatusPassed:
				t.Errorf("a streaming exporter: A4 %s, want passed: %q", check.Status, check.Failures)
			}

			if err := stop(); err != nil {
				logs, _ := tg.Logs(context.Background())
				t.Errorf("stop: %v\n%s", err, logs)
			}
		})
	}
}

// memoryDataset is a dataset of the memory probe: its records and its expected CSV export.
type memoryDataset struct {
	records []seed.Record
	csv     *export.Expected
}

func newMemoryDataset(t *testing.T, name string, seedValue uint64, rows int) memoryDataset {
	t.Helper()
	recs := seed.Generate(seedValue, rows, 1)
	exp, err := export.NewExpected(name, seed.Trades(), recs, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return memoryDataset{records: recs, csv: exp}
}

// measureMemory seeds both datasets into tg, then measures the small and the large CSV export,
// each fully verified, in their own windows, as the suite does.
func measureMemory(ctx context.Context, t *testing.T, tg target.Target, small, large memoryDataset) assert.Memory {
	t.Helper()
	sc := &seed.Client{BaseURL: tg.BaseURL(), Token: tg.Token()}
	for _, ds := range []memoryDataset{small, large} {
		if _, err := sc.CreateDataset(ctx, ds.csv.Dataset, seed.Trades()); err != nil {
			t.Fatal(err)
		}
		if _, err := sc.Seed(ctx, seed.Job{Dataset: ds.csv.Dataset, Schema: seed.Trades(), Records: ds.records,
			Mode: seed.ModeBatch, ChunkSize: 10000}); err != nil {
			t.Fatal(err)
		}
	}

	if err := tg.StartSampling(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	resident := memory.Resident(ctx, nil, tg.BaseURL(), tg.Token(), 250*time.Millisecond)
	client := &export.Client{BaseURL: tg.BaseURL(), Token: tg.Token()}
	verified := func(exp *export.Expected) memory.Export {
		return func(ctx context.Context) (int64, bool) {
			r := client.CSV(ctx, exp)
			if f := r.Failure(); f != "" {
				t.Errorf("CSV export of %s: %s %q", exp.Dataset, f, r.Examples)
				return r.Bytes, false
			}
			return r.Bytes, true
		}
	}
	g, err := memory.Measure(ctx, tg,
		memory.Probe{Export: verified(small.csv), Pause: 50 * time.Millisecond},
		memory.Probe{Export: verified(large.csv)},
		memory.Procedure{})
	if err != nil {
		t.Fatal(err)
	}
	mem := g.Memory()
	mem.PeakExternal = max(mem.PeakDuringSmall, mem.PeakDuringLarge)
	mem.ProcessResident = resident()
	return mem
}

// measureOf returns c's measure called name.
func measureOf(c evidence.Check, name string) (evidence.Measure, bool) {
	for _, m := range c.Measures {
		if m.Name == name {
			return m, true
		}
	}
	return evidence.Measure{}, false
}

// buildFakeExporter builds cmd/fakeexporter as a static binary, as the target builds the exporter.
func buildFakeExporter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fakeexporter")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "../internal/fake/cmd/fakeexporter")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the fake exporter: %v\n%s", err, out)
	}
	return bin
}
