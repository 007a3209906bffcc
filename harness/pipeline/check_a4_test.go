package pipeline

import (
	"slices"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/memory"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

func TestA4(t *testing.T) {
	th := testkit.Thresholds(t)
	// A streaming exporter: 50 MB anonymous, 30 MB of file pages, its own RSS their sum.
	ok := memory.Memory{PeakExternal: 50e6, PeakExternalFile: 30e6, PeakDuringSmall: 40e6, PeakDuringLarge: 42e6, ProcessResident: 78e6,
		SmallSamples: 3, LargeSamples: 20, SmallBytes: 1e5, LargeBytes: 1e7}
	with := func(f func(*memory.Memory)) memory.Memory {
		m := ok
		f(&m)
		return m
	}
	for _, tt := range []struct {
		name   string
		m      memory.Memory
		status evidence.Status
		line   string             // in the failures
		values map[string]float64 // measures that must be there, with their values
		absent []string           // measures that must not be there
	}{
		{name: "healthy", m: ok, status: evidence.StatusPassed,
			values: map[string]float64{"a4.peak_memory_bytes": 50e6, "a4.rss_crosscheck_ratio": 1, "a4.peak_file_bytes": 30e6, "a4.process_resident_bytes": 78e6}},
		{name: "healthy, file pages not measured", m: with(func(m *memory.Memory) { m.PeakExternalFile, m.ProcessResident = 0, 58e6 }),
			status: evidence.StatusPassed, values: map[string]float64{"a4.rss_crosscheck_ratio": 1}, absent: []string{"a4.peak_file_bytes"}},
		// A store mapped into memory makes RSS large; the anonymous memory A4 judges is not.
		{name: "file pages beyond the budget", m: with(func(m *memory.Memory) { m.PeakExternalFile, m.ProcessResident = 600e6, 640e6 }),
			status: evidence.StatusPassed, values: map[string]float64{"a4.peak_memory_bytes": 50e6, "a4.rss_crosscheck_ratio": 1}},
		{name: "peaks sampled at other moments", m: with(func(m *memory.Memory) { m.ProcessResident = 40e6 }),
			status: evidence.StatusPassed, values: map[string]float64{"a4.rss_crosscheck_ratio": 1.25}},
		{name: "url target: resident memory only", m: memory.Memory{ProcessResident: 480e6}, status: evidence.StatusNotRun,
			line: "no memory measured from outside", values: map[string]float64{"a4.process_resident_bytes": 480e6},
			absent: []string{"a4.peak_memory_bytes", "a4.rss_crosscheck_ratio"}},
		{name: "over budget", m: with(func(m *memory.Memory) { m.PeakExternal, m.ProcessResident = 400e6, 430e6 }),
			status: evidence.StatusFailed, line: "a4.peak_memory_bytes = 4e+08 bytes breaks <="},
		{name: "buffered", m: with(func(m *memory.Memory) { m.PeakDuringLarge = 40e6 + 1e7 }), // the whole export held in memory
			status: evidence.StatusFailed, line: "a4.memory_growth_ratio"},
		// More anonymous memory than the process has resident: another process's, or a unit slip.
		{name: "outside figure above the resident one", m: with(func(m *memory.Memory) { m.PeakExternal, m.ProcessResident = 200e6, 50e6 }),
			status: evidence.StatusFailed, line: "a4.rss_crosscheck_ratio = 4 ratio breaks <= 3", values: map[string]float64{"a4.rss_crosscheck_ratio": 4}},
		// Far less than the process has resident, file pages included: something was missed.
		{name: "outside figure below the resident one", m: with(func(m *memory.Memory) { m.PeakExternal, m.PeakExternalFile, m.ProcessResident = 10e6, 10e6, 100e6 }),
			status: evidence.StatusFailed, line: "a4.rss_crosscheck_ratio = 5 ratio breaks <= 3"},
		{name: "no export sizes", m: with(func(m *memory.Memory) { m.LargeBytes = 0 }), status: evidence.StatusNotRun,
			line: "no export sizes", absent: []string{"a4.memory_growth_ratio"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := judgeA4(th, tt.m)
			if c.Status != tt.status || !mentions(c.Failures, tt.line) {
				t.Errorf("check %+v", c)
			}
			for name, want := range tt.values {
				i := slices.IndexFunc(c.Measures, func(m evidence.Measure) bool { return m.Name == name })
				if i < 0 || c.Measures[i].Value != want {
					t.Errorf("%s: want %v in %+v", name, want, c.Measures)
				}
			}
			for _, name := range tt.absent {
				if hasMeasure(c, name) {
					t.Errorf("%s measured: %+v", name, c.Measures)
				}
			}
		})
	}
	for _, few := range [][2]int{{1, 20}, {3, 1}, {0, 0}} {
		m := ok
		m.SmallSamples, m.LargeSamples = few[0], few[1]
		m.PeakDuringLarge = 400e6 // a growth that a single, stale sample must not be judged on
		c := judgeA4(th, m)
		if c.Status != evidence.StatusNotRun || !mentions(c.Failures, "too few samples in the memory window") ||
			hasMeasure(c, "a4.memory_growth_ratio") {
			t.Errorf("samples %v: %+v", few, c)
		}
		m.PeakExternal, m.ProcessResident = 400e6, 430e6
		if c := judgeA4(th, m); c.Status != evidence.StatusFailed {
			t.Errorf("samples %v, over budget: %+v", few, c)
		}
	}
}
