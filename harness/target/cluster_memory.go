package target

import (
	"sync"
	"time"
)

const methodCluster = "per replica: " + methodDocker + "; a window's peak is the highest replica's peak, its series the samples of that replica"

func (c *clusterTarget) StartSampling(interval time.Duration) error { return c.mem.start(interval) }
func (c *clusterTarget) Peak() (MemoryWindow, bool)                 { return c.mem.peak() }
func (c *clusterTarget) ResetPeak() (MemoryWindow, bool)            { return c.mem.reset() }

// clusterSampler samples every replica with a sampler of its own and reports, per window, the
// replica whose peak was highest: A4's budget is per exporter, and the replica that served the
// large export is the one whose memory would grow.
type clusterSampler struct {
	replicas []*sampler
}

func (s *clusterSampler) start(interval time.Duration) error {
	for i, r := range s.replicas {
		if err := r.start(interval); err != nil {
			for _, started := range s.replicas[:i] {
				started.stop()
			}
			return err
		}
	}
	return nil
}

func (s *clusterSampler) peak() (MemoryWindow, bool) {
	ws := make([]MemoryWindow, len(s.replicas))
	oks := make([]bool, len(s.replicas))
	for i, r := range s.replicas {
		ws[i], oks[i] = r.peak()
	}
	return combineWindows(ws, oks)
}

// reset closes every replica's window at once: each takes a closing sample of about a second.
func (s *clusterSampler) reset() (MemoryWindow, bool) {
	ws := make([]MemoryWindow, len(s.replicas))
	oks := make([]bool, len(s.replicas))
	var wg sync.WaitGroup
	for i, r := range s.replicas {
		wg.Go(func() { ws[i], oks[i] = r.reset() })
	}
	wg.Wait()
	return combineWindows(ws, oks)
}

func (s *clusterSampler) stop() {
	for _, r := range s.replicas {
		r.stop()
	}
}

// combineWindows is the window of the replica with the highest anonymous peak, with the other
// figures taken over all replicas: the highest file peak, samples and errors summed.
func combineWindows(ws []MemoryWindow, oks []bool) (MemoryWindow, bool) {
	best, any := -1, false
	for i, w := range ws {
		if oks[i] && (best < 0 || w.PeakBytes > ws[best].PeakBytes) {
			best = i
		}
		any = any || oks[i]
	}
	if best < 0 {
		best = 0
	}
	out := ws[best]
	out.Method = methodCluster
	out.Samples, out.Errors, out.PeakFileBytes = 0, 0, 0
	for _, w := range ws {
		out.Samples += w.Samples
		out.Errors += w.Errors
		out.PeakFileBytes = max(out.PeakFileBytes, w.PeakFileBytes)
		if w.LastError != "" {
			out.LastError = w.LastError
		}
		if out.Start.IsZero() || (!w.Start.IsZero() && w.Start.Before(out.Start)) {
			out.Start = w.Start
		}
		if w.End.After(out.End) {
			out.End = w.End
		}
	}
	return out, any
}
