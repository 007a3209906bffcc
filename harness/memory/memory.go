// Package memory measures how an exporter's memory answers its exports, from outside the
// exporter: each kind of export is repeated inside its own sampling window of the target (see
// target.Sampler's Peak and ResetPeak) until the window holds enough samples, so a window's peak
// is the memory used while that export ran, not one stale sample taken before it started.
//
// Measure runs the small window and then the large one and yields the Memory
// that A4 turns into a4.memory_growth_ratio, on anonymous memory (target.MemoryWindow.PeakBytes):
// about 0 for an exporter that streams, 1 or more for one that holds an export in memory.
package memory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/harness/metrics"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/exportatscale/exportatscale/internal/ctxwait"
)

// Windows is the part of a target.Sampler that keeps memory windows.
type Windows interface {
	Peak() (w target.MemoryWindow, ok bool)
	ResetPeak() (w target.MemoryWindow, ok bool)
}

// Export runs one export to its end and reports the body bytes received and whether the export
// succeeded (for the harness: fully verified).
type Export func(ctx context.Context) (bytes int64, ok bool)

// Probe is one kind of export and the pause between two of them in a window. A pause keeps
// quick exports under the exporter's rate limit.
type Probe struct {
	Export Export
	Pause  time.Duration
}

// Procedure says when a window has seen enough. The zero value is the suite's procedure.
type Procedure struct {
	MinSamples int           // samples a window needs (0: DefaultMinSamples)
	MaxWait    time.Duration // a window closes after this even when under-sampled (0: 15 s)
	MaxExports int           // a window closes after this many exports (0: 500)
}

// DefaultMinSamples is how many samples a window needs by default before its peak is judged.
const DefaultMinSamples = 3

func (p Procedure) withDefaults() (Procedure, error) {
	if p.MinSamples < 0 || p.MaxWait < 0 || p.MaxExports < 0 {
		return p, fmt.Errorf("memory procedure %+v: negative limit", p)
	}
	if p.MinSamples == 0 {
		p.MinSamples = DefaultMinSamples
	}
	if p.MaxWait == 0 {
		p.MaxWait = 15 * time.Second
	}
	if p.MaxExports == 0 {
		p.MaxExports = 500
	}
	return p, nil
}

// Result is one closed window and the exports that ran in it.
type Result struct {
	Window target.MemoryWindow
	// Measured is true when the window holds at least one sample.
	Measured bool
	// Exports counts the exports run in the window; Bytes is the body size of the last one.
	Exports int
	Bytes   int64
	// Failed is true when an export failed; the window closed right after it.
	Failed bool
}

// Window closes whatever window was open, repeats probe's export (pausing between two) until
// the new window holds p.MinSamples samples, an export fails, p.MaxWait passes, p.MaxExports
// exports ran or ctx ends, then closes the window and returns it. The window is closed however
// it ends; the error is ctx's when ctx ended first.
func Window(ctx context.Context, w Windows, probe Probe, p Procedure) (Result, error) {
	p, err := p.withDefaults()
	if err != nil {
		return Result{}, err
	}
	if probe.Export == nil {
		return Result{}, errors.New("memory window: no export")
	}
	w.ResetPeak() // close whatever ran before
	deadline := time.Now().Add(p.MaxWait)
	var r Result
	for r.Exports < p.MaxExports {
		bytes, ok := probe.Export(ctx)
		r.Exports++
		r.Bytes = bytes
		if !ok {
			r.Failed = true
			break
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			break
		}
		if win, ok := w.Peak(); ok && win.Samples >= p.MinSamples {
			break
		}
		if !ctxwait.Sleep(ctx, probe.Pause) {
			break
		}
	}
	r.Window, r.Measured = w.ResetPeak()
	if err := ctx.Err(); err != nil {
		return r, fmt.Errorf("memory window: %w", err)
	}
	return r, nil
}

// Growth is the small export's window and then the large export's.
type Growth struct {
	Small, Large Result
}

// Measure runs the small probe's window and then the large probe's, each by Window. It stops
// early only when ctx ends.
func Measure(ctx context.Context, w Windows, small, large Probe, p Procedure) (Growth, error) {
	var g Growth
	var err error
	if g.Small, err = Window(ctx, w, small, p); err != nil {
		return g, fmt.Errorf("small export: %w", err)
	}
	if g.Large, err = Window(ctx, w, large, p); err != nil {
		return g, fmt.Errorf("large export: %w", err)
	}
	return g, nil
}

// Memory returns the fields of Memory that g measured: the anonymous peaks, samples and
// export sizes of both windows, and the highest anonymous and file-backed figures of the two as
// the outside peaks so far. They are all zero, so A4 does not judge growth, unless both windows
// were measured and every export in them succeeded. A caller that measures more windows raises
// PeakExternal and PeakExternalFile with theirs; it adds ProcessResident.
func (g Growth) Memory() Memory {
	if !g.Small.Measured || !g.Large.Measured || g.Small.Failed || g.Large.Failed {
		return Memory{}
	}
	return Memory{
		PeakExternal:     float64(max(g.Small.Window.PeakBytes, g.Large.Window.PeakBytes)),
		PeakExternalFile: float64(max(g.Small.Window.PeakFileBytes, g.Large.Window.PeakFileBytes)),
		PeakDuringSmall:  float64(g.Small.Window.PeakBytes),
		PeakDuringLarge:  float64(g.Large.Window.PeakBytes),
		SmallSamples:     g.Small.Window.Samples,
		LargeSamples:     g.Large.Window.Samples,
		SmallBytes:       float64(g.Small.Bytes),
		LargeBytes:       float64(g.Large.Bytes),
	}
}

// Resident polls the exporter's own process_resident_memory_bytes every interval (0: 250 ms)
// until the returned function is called, which returns the highest value seen (0 if none).
// Scrape failures are skipped: the value, which counts file pages too, is the cross-check of an
// outside measurement, not a measurement of its own.
func Resident(ctx context.Context, hc *http.Client, baseURL, token string, interval time.Duration) (stop func() float64) {
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(ctx)
	var (
		mu   sync.Mutex
		peak float64
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		key := metrics.Series("process_resident_memory_bytes", nil)
		for {
			if snap, err := metrics.Scrape(ctx, hc, baseURL, token); err == nil {
				if v, ok := snap.Samples[key]; ok {
					mu.Lock()
					peak = max(peak, v)
					mu.Unlock()
				}
			}
			if !ctxwait.Sleep(ctx, interval) {
				return
			}
		}
	}()
	return func() float64 {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// Memory is what the target's sampler measured, in bytes.
//
// The judged figures are anonymous memory (target.MemoryWindow.PeakBytes): what the exporter
// allocated itself, which grows when it holds an export instead of streaming it. File-backed
// pages (its binary, a store it maps) are the kernel's to drop and refill; they are information.
type Memory struct {
	PeakExternal float64 // highest anonymous memory measured from outside the exporter (/proc, container stats) during the run
	// PeakExternalFile is the highest file-backed figure measured from outside
	// (target.MemoryWindow.PeakFileBytes: a process's resident file and shared pages, a
	// container's page cache); 0 when not measured. Information, and the upper end of the
	// cross-check with ProcessResident.
	PeakExternalFile float64
	PeakDuringSmall  float64 // anonymous peak while a small CSV export ran
	PeakDuringLarge  float64 // anonymous peak while a large CSV export ran
	// SmallBytes and LargeBytes are the body sizes of one small and one large export: the growth
	// between the two peaks is judged per byte of extra export, so a baseline of a few MiB (a
	// container's anonymous memory) or a few dozen (a process's RSS) does not change the verdict.
	SmallBytes, LargeBytes float64
	// ProcessResident is the highest process_resident_memory_bytes from /metrics during the
	// run: every resident page of the process, file-backed ones included.
	ProcessResident float64
	// SmallSamples and LargeSamples are the samples taken in the small and the large export's
	// window (target.MemoryWindow.Samples): a peak of fewer than two is stale or a single point.
	SmallSamples, LargeSamples int
}

// ResidentOutside is how far the process's own resident memory lies outside what was measured
// from outside it, as a ratio of at least 1. Its anonymous memory is part of its resident pages
// and anonymous plus file-backed memory covers them (a container's page cache may hold more
// than the process maps), so a healthy measurement gives 1, and peaks sampled at other moments
// a little more. The upper end counts only when the file figure was measured.
func (m Memory) ResidentOutside() float64 {
	lo, hi := m.PeakExternal, m.PeakExternal+m.PeakExternalFile
	switch {
	case m.ProcessResident < lo:
		return lo / m.ProcessResident
	case m.PeakExternalFile > 0 && m.ProcessResident > hi:
		return m.ProcessResident / hi
	}
	return 1
}
