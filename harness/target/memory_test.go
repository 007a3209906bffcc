package target

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

func TestParseProcStatus(t *testing.T) {
	tests := []struct {
		file    string
		want    procMemory
		wantErr string
	}{
		{file: "running.status", want: procMemory{rss: 98304 * 1024, hwm: 153600 * 1024}},
		{file: "zombie.status", wantErr: "process gone"},
		{file: "badunit.status", wantErr: `VmRSS: unexpected size "98304 MB"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "proc", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := parseProcStatus(f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseProcStatus() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseProcStatus() = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// The live file parses too, and our own peak is at least our current use.
func TestReadProcMemorySelf(t *testing.T) {
	r, err := readProcMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if r.current == 0 || r.peak < r.current {
		t.Fatalf("readProcMemory(self) = %+v", r)
	}
}

func TestContainerMemory(t *testing.T) {
	tests := []struct {
		name    string
		m       container.MemoryStats
		want    uint64
		wantErr bool
	}{
		{
			name: "cgroup v1 subtracts total_inactive_file",
			m:    container.MemoryStats{Usage: 100 << 20, Stats: map[string]uint64{"total_inactive_file": 30 << 20, "inactive_file": 1 << 20}},
			want: 70 << 20,
		},
		{
			name: "cgroup v2 subtracts inactive_file",
			m:    container.MemoryStats{Usage: 100 << 20, Stats: map[string]uint64{"inactive_file": 10 << 20, "anon": 80 << 20}},
			want: 90 << 20,
		},
		{
			name: "cache larger than usage is ignored",
			m:    container.MemoryStats{Usage: 10 << 20, Stats: map[string]uint64{"inactive_file": 20 << 20}},
			want: 10 << 20,
		},
		{name: "no stats map", m: container.MemoryStats{Usage: 5 << 20}, want: 5 << 20},
		{name: "stopped container reports nothing", m: container.MemoryStats{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := containerMemory(tt.m)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("containerMemory() = %d, %v; want %d (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// fakeMemory is a memory source whose readings the test sets.
type fakeMemory struct {
	mu       sync.Mutex
	current  uint64
	hwm      uint64
	fail     error
	canReset bool
	resets   int
}

func (f *fakeMemory) set(current uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current = current
	f.hwm = max(f.hwm, current)
}

func (f *fakeMemory) read(context.Context) (reading, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return reading{current: f.current, peak: f.hwm}, f.fail
}

func (f *fakeMemory) reset() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.canReset {
		return false
	}
	f.resets++
	f.hwm = f.current
	return true
}

func TestSamplerWindows(t *testing.T) {
	mem := &fakeMemory{current: 10, canReset: true}
	s := newSampler(methodProc, mem.read, mem.reset)
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

	// Small phase: a spike between samples is still caught by the high-water mark.
	mem.set(40)
	mem.set(12)
	small, ok := s.reset()
	if !ok || small.PeakBytes != 40 || small.LastBytes != 12 || small.End.IsZero() || small.Method != methodProc {
		t.Fatalf("small window = %+v, %v", small, ok)
	}

	// Large phase: the new window does not inherit the old peak.
	mem.set(500)
	mem.set(20)
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

// Without a resettable high-water mark only samples count, and the method says so.
func TestSamplerWithoutPeakReset(t *testing.T) {
	mem := &fakeMemory{current: 10}
	s := newSampler(methodProc, mem.read, mem.reset)
	if err := s.start(time.Hour); err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	mem.set(90) // never sampled
	mem.set(30)
	w, ok := s.reset()
	if !ok || w.PeakBytes != 30 || w.Method != methodProcRSS {
		t.Fatalf("window = %+v, %v", w, ok)
	}
}

func TestSamplerTicks(t *testing.T) {
	mem := &fakeMemory{current: 7}
	s := newSampler(methodDocker, mem.read, nil)
	if err := s.start(5 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	waitSamples(t, s, 3)
}

// waitSamples waits until the open window has n samples and returns it.
func waitSamples(t *testing.T, s *sampler, n int) MemoryWindow {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w, _ := s.peak()
		if w.Samples >= n {
			return w
		}
		if time.Now().After(deadline) {
			t.Fatalf("window has %d samples after 5s, want %d", w.Samples, n)
		}
		time.Sleep(time.Millisecond)
	}
}
