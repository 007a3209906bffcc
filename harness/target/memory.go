package target

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
)

// MemoryWindow is the exporter's memory use between two resets, measured from outside it.
//
// The judged figure is anonymous memory: what the exporter allocated itself (heap, stacks), the
// memory that grows when an export is held instead of streamed. File-backed pages — the
// exporter's binary, a store it maps — are the kernel's to drop or refill and are recorded
// beside it for information only.
type MemoryWindow struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"` // zero while the window is open
	// PeakBytes is the highest anonymous memory seen in the window: for a process RssAnon, for a
	// container the cgroup's anonymous memory (total_rss on cgroup v1, anon on v2).
	PeakBytes uint64 `json:"peak_bytes"`
	// LastBytes is the anonymous memory of the most recent sample.
	LastBytes uint64 `json:"last_bytes"`
	// PeakFileBytes and LastFileBytes are the file-backed figure, for information: for a process
	// its resident file and shared-memory pages (RssFile + RssShmem), for a container the
	// cgroup's page cache (total_cache on cgroup v1, file on v2), which also holds pages the
	// exporter wrote but does not map.
	PeakFileBytes uint64 `json:"peak_file_bytes"`
	LastFileBytes uint64 `json:"last_file_bytes"`
	Samples       int    `json:"samples"`
	// Errors counts failed samples; LastError is the latest failure.
	Errors    int    `json:"errors"`
	LastError string `json:"last_error,omitempty"`
	// Method says what was measured.
	Method string `json:"method"`
	// Series are the window's samples in time order, for charts: at most MaxWindowSeries of
	// them. A longer window keeps every SeriesEvery-th sample (every second, then every fourth,
	// …), so those kept still span the window evenly. Reads between samples are not in it.
	Series      []MemorySample `json:"series,omitempty"`
	SeriesEvery int            `json:"series_every,omitempty"`
}

// MemorySample is one sample of a window: when it was read, and its two figures.
type MemorySample struct {
	At        time.Time `json:"at"`
	AnonBytes uint64    `json:"anon_bytes"`
	FileBytes uint64    `json:"file_bytes"`
}

// MaxWindowSeries bounds MemoryWindow.Series: at the suite's 200 ms interval, 100 s of samples
// before they are thinned.
const MaxWindowSeries = 500

// Memory measurement methods, recorded with every window.
const (
	methodDocker = "docker engine container stats, the cgroup's memory.stat: anonymous memory judged (total_rss on cgroup v1, anon on v2), " +
		"page cache for information (total_cache on v1, file on v2); sampled every interval, the engine refreshes them about once a second"
	methodProc = "/proc/<pid>/status: RssAnon judged, RssFile + RssShmem for information; sampled every interval, and with an interval " +
		"over 50 ms the peaks also take a read every 50 ms in between, since the kernel keeps no high-water mark of anonymous memory " +
		"(VmHWM counts file pages too)"
	methodNone = "not measurable from outside: url target; the exporter's own process_resident_memory_bytes counts file pages too " +
		"and is information only"
)

// procPeakEvery is how often a process sampler reads /proc between two samples to catch a peak
// that rises and falls between them. A read of /proc/<pid>/status takes microseconds.
const procPeakEvery = 50 * time.Millisecond

// reading is one memory sample, in bytes.
type reading struct {
	anon uint64 // anonymous memory: judged
	file uint64 // file-backed memory: information
}

// sampler keeps a memory window fed by a goroutine that reads every interval.
// sampled implements Sampler for a target with one sampler of its own (a process, a container),
// embedded in it.
type sampled struct {
	mem *sampler
}

func (s *sampled) StartSampling(interval time.Duration) error { return s.mem.start(interval) }
func (s *sampled) Peak() (MemoryWindow, bool)                 { return s.mem.peak() }
func (s *sampled) ResetPeak() (MemoryWindow, bool)            { return s.mem.reset() }

type sampler struct {
	read   func(context.Context) (reading, error)
	method string
	// peakEvery, when shorter than the sampling interval, adds reads in between that only raise
	// the window's peaks; 0 for none.
	peakEvery time.Duration

	mu       sync.Mutex
	win      MemoryWindow
	gen      int // window generation; a sample read across a reset is dropped
	started  bool
	stopped  bool
	cancel   context.CancelFunc
	finished chan struct{}
	kick     chan struct{} // asks the loop for a sample now
}

func newSampler(method string, read func(context.Context) (reading, error), peakEvery time.Duration) *sampler {
	return &sampler{read: read, method: method, peakEvery: peakEvery, kick: make(chan struct{}, 1)}
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

	s.sample(ctx, false)
	go func() {
		defer close(s.finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		var between <-chan time.Time // nil: no reads between samples
		if s.peakEvery > 0 && s.peakEvery < interval {
			pt := time.NewTicker(s.peakEvery)
			defer pt.Stop()
			between = pt.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sample(ctx, false)
			case <-s.kick:
				s.sample(ctx, false)
			case <-between:
				s.sample(ctx, true)
			}
		}
	}()
	return nil
}

// openLocked starts a new window at now.
func (s *sampler) openLocked(now time.Time) {
	s.gen++
	s.win = MemoryWindow{Start: now, Method: s.method}
}

// sample reads once and records the reading in the window it was taken in. A peakOnly read,
// taken between two samples, only raises the peaks: it is neither counted as a sample nor as
// the latest figure, and its failure is left for the next sample to report.
func (s *sampler) sample(ctx context.Context, peakOnly bool) {
	ctx, cancel := context.WithTimeout(ctx, sampleTimeout)
	defer cancel()
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	r, err := s.read(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return
	}
	if peakOnly {
		if err == nil {
			s.raiseLocked(r)
		}
		return
	}
	s.recordLocked(time.Now(), r, err)
}

func (s *sampler) recordLocked(at time.Time, r reading, err error) {
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		s.win.Errors++
		s.win.LastError = err.Error()
		return
	}
	if s.win.SeriesEvery == 0 {
		s.win.SeriesEvery = 1
	}
	if s.win.Samples%s.win.SeriesEvery == 0 {
		if len(s.win.Series) == MaxWindowSeries {
			// Keep every second one, in a new array: a window handed out still reads the old.
			thinned := make([]MemorySample, 0, MaxWindowSeries)
			for i := 0; i < len(s.win.Series); i += 2 {
				thinned = append(thinned, s.win.Series[i])
			}
			s.win.Series, s.win.SeriesEvery = thinned, 2*s.win.SeriesEvery
		}
		if s.win.Samples%s.win.SeriesEvery == 0 {
			s.win.Series = append(s.win.Series, MemorySample{At: at, AnonBytes: r.anon, FileBytes: r.file})
		}
	}
	s.win.Samples++
	s.win.LastBytes, s.win.LastFileBytes = r.anon, r.file
	s.raiseLocked(r)
}

func (s *sampler) raiseLocked(r reading) {
	s.win.PeakBytes = max(s.win.PeakBytes, r.anon)
	s.win.PeakFileBytes = max(s.win.PeakFileBytes, r.file)
}

func (s *sampler) peak() (MemoryWindow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.win
	w.Series = slices.Clone(w.Series) // the open window keeps appending
	return w, s.started && s.win.Samples > 0
}

// reset takes a closing sample, closes the window and opens the next one.
func (s *sampler) reset() (MemoryWindow, bool) {
	s.mu.Lock()
	running := s.started && !s.stopped
	s.mu.Unlock()
	if !running {
		return s.peak()
	}
	s.sample(context.Background(), false)

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
	s.sample(context.Background(), false)
	s.mu.Lock()
	s.win.End = time.Now()
	s.mu.Unlock()
}

// procMemory is the resident memory part of /proc/<pid>/status, in bytes. The three add up
// to VmRSS.
type procMemory struct {
	anon, file, shmem uint64 // RssAnon, RssFile, RssShmem
}

// reading is m as a sample: anonymous memory judged, file and shared pages for information.
func (m procMemory) reading() reading {
	return reading{anon: m.anon, file: m.file + m.shmem}
}

// parseProcStatus reads RssAnon, RssFile and RssShmem (Linux 4.5 and later) from a
// /proc/<pid>/status file.
func parseProcStatus(r io.Reader) (procMemory, error) {
	var m procMemory
	fields := map[string]*uint64{"RssAnon": &m.anon, "RssFile": &m.file, "RssShmem": &m.shmem}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		if key == "VmRSS" {
			seen[key] = true
		}
		p := fields[key]
		if p == nil {
			continue
		}
		n, err := parseKB(val)
		if err != nil {
			return procMemory{}, fmt.Errorf("%s: %w", key, err)
		}
		*p, seen[key] = n, true
	}
	if err := sc.Err(); err != nil {
		return procMemory{}, err
	}
	switch {
	case !seen["VmRSS"]:
		// A zombie or kernel thread has no memory lines.
		return procMemory{}, errors.New("no VmRSS in status (process gone?)")
	case !seen["RssAnon"] || !seen["RssFile"] || !seen["RssShmem"]:
		return procMemory{}, errors.New("no RssAnon, RssFile or RssShmem in status (kernel older than Linux 4.5?)")
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

// containerMemory reads the cgroup's memory.stat as the engine reports it in container stats:
// anonymous memory (judged) and page cache (information). cgroup v2 names them anon and file;
// cgroup v1 rss and cache, with total_ variants that include child cgroups, which a container
// does not have but which are preferred as the hierarchy's own figure.
func containerMemory(m container.MemoryStats) (reading, error) {
	st := m.Stats
	if len(st) == 0 {
		return reading{}, errors.New("no memory.stat in container stats (container not running?)")
	}
	if anon, ok := st["anon"]; ok { // cgroup v2
		return reading{anon: anon, file: st["file"]}, nil
	}
	for _, k := range [][2]string{{"total_rss", "total_cache"}, {"rss", "cache"}} { // cgroup v1
		if anon, ok := st[k[0]]; ok {
			return reading{anon: anon, file: st[k[1]]}, nil
		}
	}
	return reading{}, fmt.Errorf("no anonymous memory (anon, total_rss or rss) in container stats; memory.stat has %s",
		strings.Join(slices.Sorted(maps.Keys(st)), ", "))
}
