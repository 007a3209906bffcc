package target

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/onsi/gomega"
)

func TestParseProcStatus(t *testing.T) {
	tests := []struct {
		file    string
		want    procMemory
		wantErr string
	}{
		{file: "running.status", want: procMemory{anon: 61440 << 10, file: 36352 << 10, shmem: 512 << 10}},
		{file: "zombie.status", wantErr: "process gone"},
		{file: "oldkernel.status", wantErr: "older than Linux 4.5"},
		{file: "badunit.status", wantErr: `RssAnon: unexpected size "60 MB"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "proc", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := parseProcStatus(f)
			if !wantParsed(t, "parseProcStatus", got, err, tt.want, tt.wantErr) {
				return
			}
			if r := got.reading(); r.anon != tt.want.anon || r.file != tt.want.file+tt.want.shmem {
				t.Fatalf("reading() = %+v", r)
			}
		})
	}
}

// The live file parses too: a Go test binary has anonymous memory (its heap) and file pages
// (its own text), and the three figures add up to VmRSS, read from the same file.
func TestReadProcMemorySelf(t *testing.T) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseProcStatus(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var rss uint64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if rss, err = parseKB(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if m.anon == 0 || m.file == 0 || m.anon+m.file+m.shmem != rss {
		t.Fatalf("parseProcStatus(self) = %+v, VmRSS %d", m, rss)
	}
	if r, err := readProcMemory(os.Getpid()); err != nil || r.anon == 0 || r.file == 0 {
		t.Fatalf("readProcMemory(self) = %+v, %v", r, err)
	}
}

func TestContainerMemory(t *testing.T) {
	tests := []struct {
		name    string
		file    string            // testdata/stats: a container stats answer
		stats   map[string]uint64 // or just memory.stat
		want    reading
		wantErr string
	}{
		// Docker Engine 20.10 on cgroup v1 (cgroupfs): the stand-in, idle.
		{name: "cgroup v1", file: "cgroupv1.json", want: reading{anon: 970752, file: 4943872}},
		// Keys of a cgroup v2 memory.stat, as the engine passes them through.
		{name: "cgroup v2", file: "cgroupv2.json", want: reading{anon: 17006592, file: 5746688}},
		{name: "stopped container", file: "stopped.json", wantErr: "container not running?"},
		{name: "cgroup v1 without total_", stats: map[string]uint64{"rss": 3 << 20, "cache": 1 << 20}, want: reading{anon: 3 << 20, file: 1 << 20}},
		{name: "anonymous memory missing", stats: map[string]uint64{"usage": 9, "cache": 1}, wantErr: "no anonymous memory (anon, total_rss or rss) in container stats; memory.stat has cache, usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := container.MemoryStats{Stats: tt.stats}
			if tt.file != "" {
				b, err := os.ReadFile(filepath.Join("testdata", "stats", tt.file))
				if err != nil {
					t.Fatal(err)
				}
				var st container.StatsResponse
				if err := json.Unmarshal(b, &st); err != nil {
					t.Fatal(err)
				}
				m = st.MemoryStats
			}
			got, err := containerMemory(m)
			wantParsed(t, "containerMemory", got, err, tt.want, tt.wantErr)
		})
	}
}

// wantParsed fails the test unless what fn parsed is want or, where wantErr is set, its error
// says wantErr: the memory parsers' table tests hold every case to one of the two. It reports
// whether want was the case, so a test can check more of got.
func wantParsed[T comparable](t *testing.T, fn string, got T, err error, want T, wantErr string) bool {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%s() error = %v, want %q", fn, err, wantErr)
		}
		return false
	}
	if err != nil || got != want {
		t.Fatalf("%s() = %+v, %v; want %+v", fn, got, err, want)
	}
	return true
}

// fakeMemory is a memory source whose readings the test sets.
type fakeMemory struct {
	mu   sync.Mutex
	r    reading
	fail error
}

func (f *fakeMemory) set(anon, file uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.r = reading{anon: anon, file: file}
}

func (f *fakeMemory) read(context.Context) (reading, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.r, f.fail
}

func TestSamplerWindows(t *testing.T) {
	mem := &fakeMemory{r: reading{anon: 10, file: 100}}
	s := newSampler(methodProc, mem.read, 0)
	if _, ok := s.peak(); ok {
		t.Fatal("peak before sampling: ok = true")
	}
	// A long interval: the test drives samples through reset and stop.
	if err := s.start(time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.start(time.Hour); err == nil {
		t.Fatal("second start: want error")
	}

	// Small phase: anonymous and file figures are kept apart.
	mem.set(40, 300)
	s.sample(context.Background(), false)
	mem.set(12, 120)
	small, ok := s.reset()
	if !ok || small.PeakBytes != 40 || small.LastBytes != 12 || small.PeakFileBytes != 300 || small.LastFileBytes != 120 ||
		small.Samples != 3 || small.End.IsZero() || small.Method != methodProc {
		t.Fatalf("small window = %+v, %v", small, ok)
	}

	// Large phase: the new window does not inherit the old peak. (Its first sample, which the
	// reset asks the loop for, may read the old figures or the new.)
	mem.set(500, 110)
	s.sample(context.Background(), false)
	mem.set(20, 110)
	large, ok := s.reset()
	if !ok || large.PeakBytes != 500 || !large.Start.Equal(small.End) {
		t.Fatalf("large window = %+v, %v (small ended %v)", large, ok, small.End)
	}
	cur := waitSamples(t, s, 1)
	if cur.PeakBytes != 20 || !cur.End.IsZero() {
		t.Fatalf("open window = %+v", cur)
	}

	mem.mu.Lock()
	mem.fail = errors.New("stats unavailable")
	mem.mu.Unlock()
	s.stop()
	final, _ := s.peak()
	if final.Errors != 1 || final.LastError != "stats unavailable" || final.End.IsZero() {
		t.Fatalf("after stop = %+v", final)
	}
	if err := s.start(time.Second); err == nil {
		t.Fatal("start after stop: want error")
	}
}

// Reads between two samples raise the peaks, and only the peaks: they are not samples, and
// their failures are not the window's.
func TestSamplerPeakReads(t *testing.T) {
	mem := &fakeMemory{r: reading{anon: 10, file: 5}}
	s := newSampler(methodProc, mem.read, time.Millisecond)
	if err := s.start(time.Hour); err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	mem.set(90, 50) // a spike no sample sees
	waitFor(t, s, func(w MemoryWindow) bool { return w.PeakBytes == 90 })
	mem.set(30, 7)
	waitFor(t, s, func(w MemoryWindow) bool { return w.PeakFileBytes == 50 })
	mem.mu.Lock()
	mem.fail = errors.New("gone")
	mem.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	w, ok := s.peak()
	if !ok || w.Samples != 1 || w.LastBytes != 10 || w.LastFileBytes != 5 || w.PeakBytes != 90 || w.Errors != 0 {
		t.Fatalf("window = %+v, %v", w, ok)
	}

	// Reads between samples only when they are more frequent than the samples.
	s2 := newSampler(methodProc, mem.read, time.Hour)
	if err := s2.start(5 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	defer s2.stop()
	mem.mu.Lock()
	mem.fail = nil
	mem.mu.Unlock()
	waitSamples(t, s2, 3)
}

func TestSamplerTicks(t *testing.T) {
	mem := &fakeMemory{r: reading{anon: 7}}
	s := newSampler(methodDocker, mem.read, 0)
	if err := s.start(5 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	waitSamples(t, s, 3)
}

// waitSamples waits until the open window has n samples and returns it.
func waitSamples(t *testing.T, s *sampler, n int) MemoryWindow {
	t.Helper()
	return waitFor(t, s, func(w MemoryWindow) bool { return w.Samples >= n })
}

// waitFor waits until the open window satisfies ok and returns it.
func waitFor(t *testing.T, s *sampler, ok func(MemoryWindow) bool) MemoryWindow {
	t.Helper()
	var w MemoryWindow
	gomega.NewWithT(t).Eventually(func() bool {
		w, _ = s.peak()
		return ok(w)
	}).WithTimeout(5*time.Second).WithPolling(time.Millisecond).Should(gomega.BeTrue(), "the open window: %+v", &w)
	return w
}

// Every sample of a window is in its series until the series is full; then it keeps every
// second, fourth… sample, evenly spread and never more than MaxWindowSeries.
func TestSamplerSeries(t *testing.T) {
	mem := &fakeMemory{}
	s := newSampler(methodProc, mem.read, 0)
	if err := s.start(time.Hour); err != nil { // the test takes the samples itself
		t.Fatal(err)
	}
	defer s.stop()
	waitSamples(t, s, 1)
	early, _ := s.peak()
	n := 3*MaxWindowSeries + 7
	for i := 1; i < n; i++ {
		mem.set(uint64(i), uint64(2*i))
		s.sample(context.Background(), false)
	}
	w, _ := s.peak()
	if w.Samples != n || w.SeriesEvery != 4 || len(w.Series) != (n+3)/4 || len(w.Series) > MaxWindowSeries {
		t.Fatalf("%d samples: series of %d, every %d", w.Samples, len(w.Series), w.SeriesEvery)
	}
	for i, m := range w.Series {
		if m.AnonBytes != uint64(i*w.SeriesEvery) || m.FileBytes != 2*m.AnonBytes || (i > 0 && m.At.Before(w.Series[i-1].At)) {
			t.Fatalf("series[%d] = %+v after %+v", i, m, w.Series[max(i-1, 0)])
		}
	}
	if len(early.Series) != 1 || early.Series[0].AnonBytes != 0 {
		t.Errorf("a window handed out changed afterwards: %+v", early.Series)
	}
	closed, _ := s.reset()
	if len(closed.Series) < len(w.Series) || closed.SeriesEvery != w.SeriesEvery {
		t.Errorf("closed window lost samples: %d, had %d", len(closed.Series), len(w.Series))
	}
	if next, _ := s.peak(); len(next.Series) > 1 || next.SeriesEvery > 1 {
		t.Errorf("a new window starts with the old series: %d samples, every %d", len(next.Series), next.SeriesEvery)
	}
}
