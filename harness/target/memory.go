package target

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
)

// MemoryWindow is the exporter's memory use between two resets, measured from outside it.
type MemoryWindow struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"` // zero while the window is open
	// PeakBytes is the highest use seen: the largest sample, or for a process the kernel's
	// high-water mark (VmHWM) if it covers the window, whichever is higher.
	PeakBytes uint64 `json:"peak_bytes"`
	// LastBytes is the most recent sample.
	LastBytes uint64 `json:"last_bytes"`
	Samples   int    `json:"samples"`
	// Errors counts failed samples; LastError is the latest failure.
	Errors    int    `json:"errors"`
	LastError string `json:"last_error,omitempty"`
	// Method says what was measured.
	Method string `json:"method"`
}

// Memory measurement methods, recorded with every window.
const (
	methodDocker  = "docker engine container stats: memory usage minus inactive file cache (as docker stats shows), sampled; the engine refreshes them about once a second"
	methodProc    = "/proc/<pid>/status: VmRSS sampled, VmHWM high-water mark reset per window via clear_refs"
	methodProcRSS = "/proc/<pid>/status: VmRSS sampled (VmHWM could not be reset)"
	methodNone    = "not measurable from outside: url target; use the exporter's own process_resident_memory_bytes"
)

// reading is one memory sample.
type reading struct {
	current uint64 // bytes in use now
	peak    uint64 // kernel high-water mark since the last reset; 0 if unknown
}

// sampler keeps a memory window fed by a goroutine that reads every interval.
type sampler struct {
	read func(context.Context) (reading, error)
	// resetPeak resets the kernel high-water mark; true if it did. Nil if there is none.
	resetPeak func() bool
	method    string

	mu       sync.Mutex
	win      MemoryWindow
	gen      int  // window generation; a sample read across a reset is dropped
	peakOK   bool // the high-water mark covers the current window
	started  bool
	stopped  bool
	cancel   context.CancelFunc
	finished chan struct{}
	kick     chan struct{} // asks the loop for a sample now
}

func newSampler(method string, read func(context.Context) (reading, error), resetPeak func() bool) *sampler {
	return &sampler{read: read, resetPeak: resetPeak, method: method, kick: make(chan struct{}, 1)}
}

// sampleTimeout bounds one sample, so a stuck engine cannot stall a reset.
const sampleTimeout = 5 * time.Second

func (s *sampler) start(interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("sampling interval %v: want > 0", interval)
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return errors.New("target stopped")
	}
	if s.started {
		s.mu.Unlock()
		return errors.New("already sampling")
	}
	s.started = true
	s.openLocked(time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.finished = make(chan struct{})
	s.mu.Unlock()

	s.sample(ctx)
	go func() {
		defer close(s.finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sample(ctx)
			case <-s.kick:
				s.sample(ctx)
			}
		}
	}()
	return nil
}

// openLocked starts a new window at now.
func (s *sampler) openLocked(now time.Time) {
	s.gen++
	s.peakOK = s.resetPeak != nil && s.resetPeak()
	method := s.method
	if s.resetPeak != nil && !s.peakOK {
		method = methodProcRSS
	}
	s.win = MemoryWindow{Start: now, Method: method}
}

func (s *sampler) sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, sampleTimeout)
	defer cancel()
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	r, err := s.read(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen == s.gen {
		s.recordLocked(r, err)
	}
}

func (s *sampler) recordLocked(r reading, err error) {
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		s.win.Errors++
		s.win.LastError = err.Error()
		return
	}
	s.win.Samples++
	s.win.LastBytes = r.current
	s.win.PeakBytes = max(s.win.PeakBytes, r.current)
	if s.peakOK {
		s.win.PeakBytes = max(s.win.PeakBytes, r.peak)
	}
}

func (s *sampler) peak() (MemoryWindow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.win, s.started && s.win.Samples > 0
}

// reset takes a closing sample, closes the window and opens the next one.
func (s *sampler) reset() (MemoryWindow, bool) {
	s.mu.Lock()
	running := s.started && !s.stopped
	s.mu.Unlock()
	if !running {
		return s.peak()
	}
	s.sample(context.Background())

	s.mu.Lock()
	now := time.Now()
	w := s.win
	w.End = now
	s.openLocked(now)
	s.mu.Unlock()
	// Have the loop take the new window's first sample now rather than at the next tick,
	// without making the caller wait for it.
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return w, w.Samples > 0
}

// stop ends sampling after one last sample; the window stays readable.
func (s *sampler) stop() {
	s.mu.Lock()
	if s.stopped || !s.started {
		s.stopped = true
		s.mu.Unlock()
		return
	}
	s.stopped = true
	cancel, finished := s.cancel, s.finished
	s.mu.Unlock()

	cancel()
	<-finished
	s.sample(context.Background())
	s.mu.Lock()
	s.win.End = time.Now()
	s.mu.Unlock()
}

// procMemory is the memory part of /proc/<pid>/status, in bytes.
type procMemory struct {
	rss, hwm uint64
}

// parseProcStatus reads VmRSS and VmHWM from a /proc/<pid>/status file.
func parseProcStatus(r io.Reader) (procMemory, error) {
	var m procMemory
	var haveRSS, haveHWM bool
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		n, err := parseKB(val)
		if err != nil {
			return procMemory{}, fmt.Errorf("%s: %w", key, err)
		}
		if key == "VmRSS" {
			m.rss, haveRSS = n, true
		} else {
			m.hwm, haveHWM = n, true
		}
	}
	if err := sc.Err(); err != nil {
		return procMemory{}, err
	}
	if !haveRSS || !haveHWM {
		// A zombie or kernel thread has no Vm* lines.
		return procMemory{}, errors.New("no VmRSS/VmHWM in status (process gone?)")
	}
	return m, nil
}

// parseKB parses a /proc size such as "   5088 kB" into bytes.
func parseKB(s string) (uint64, error) {
	f := strings.Fields(s)
	if len(f) != 2 || f[1] != "kB" {
		return 0, fmt.Errorf("unexpected size %q", strings.TrimSpace(s))
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, err
	}
	return n * 1024, nil
}

// containerMemory is the working-set memory docker stats shows: usage without the inactive
// file cache, which the kernel can drop at any time. cgroup v1 reports it as
// total_inactive_file, cgroup v2 as inactive_file.
func containerMemory(m container.MemoryStats) (uint64, error) {
	if m.Usage == 0 {
		return 0, errors.New("no memory usage in container stats (container not running?)")
	}
	if v, ok := m.Stats["total_inactive_file"]; ok && v < m.Usage {
		return m.Usage - v, nil
	}
	if v, ok := m.Stats["inactive_file"]; ok && v < m.Usage {
		return m.Usage - v, nil
	}
	return m.Usage, nil
}
