package pipeline

import (
	"context"
	"fmt"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/memory"
)

// measureMemory is what the target's sampler measured during Load.
func measureMemory(_ context.Context, r *Run) (memory.Memory, error) {
	if !r.memoryOK {
		return memory.Memory{}, missing("the memory measurements")
	}
	return r.memory, nil
}

// judgeA4 judges boundedness on anonymous memory: its peak within budget, no growth in proportion to
// the export size (large-export peak over small-export peak, judged only on windows of two
// samples or more), and the outside measurement consistent with the process's own resident
// memory (a4.rss_crosscheck_ratio: anonymous memory no more than its resident pages, anonymous
// plus file-backed memory no less, within the ratio). File pages and the resident figure are
// information.
func judgeA4(th Thresholds, m memory.Memory) evidence.Check {
	b := &builder{th: th}
	if m.PeakExternal > 0 {
		b.measure("a4.peak_memory_bytes", m.PeakExternal, "bytes")
	}
	enoughSamples := m.SmallSamples >= 2 && m.LargeSamples >= 2
	sized := m.LargeBytes > m.SmallBytes && m.SmallBytes >= 0
	if m.PeakDuringSmall > 0 && m.PeakDuringLarge > 0 && enoughSamples && sized {
		// Extra peak memory per extra byte exported: about 0 when streaming, 1 or more when the
		// export is held in memory.
		b.measure("a4.memory_growth_ratio", max(0, m.PeakDuringLarge-m.PeakDuringSmall)/(m.LargeBytes-m.SmallBytes), "ratio")
	}
	b.info("a4.small_window_samples", float64(m.SmallSamples), "samples")
	b.info("a4.large_window_samples", float64(m.LargeSamples), "samples")
	if m.PeakExternalFile > 0 {
		b.info("a4.peak_file_bytes", m.PeakExternalFile, "bytes")
	}
	if m.ProcessResident > 0 {
		b.info("a4.process_resident_bytes", m.ProcessResident, "bytes")
	}
	if m.PeakExternal > 0 && m.ProcessResident > 0 {
		b.measure("a4.rss_crosscheck_ratio", m.ResidentOutside(), "ratio")
	}
	switch {
	case m.PeakExternal == 0:
		b.notRun = "no memory measured from outside the exporter (the target does not allow it); " +
			"process_resident_memory_bytes counts file pages too and is not judged"
	case m.ProcessResident == 0:
		b.notRun = "no process_resident_memory_bytes to cross-check the outside measurement"
	case m.PeakDuringSmall == 0 || m.PeakDuringLarge == 0:
		b.notRun = "no memory peaks for the small and the large export"
	case !sized:
		b.notRun = "no export sizes for the small and the large export (the large must be the bigger)"
	case !enoughSamples:
		b.notRun = fmt.Sprintf("too few samples in the memory window (small export: %d, large export: %d; want 2 or more each)",
			m.SmallSamples, m.LargeSamples)
	}
	return b.check()
}

var a4Check = define(Def{ID: "A4", Title: "bounded",
	Spec:    "bounded: peak anonymous memory within budget and flat in the export size",
	Labels:  []string{"assert", "A4"},
	Applies: needs(func(c Capabilities) bool { return c.API().Memory }, "the profile's service is a url, whose memory cannot be watched from outside")}, measureMemory, judgeA4)
