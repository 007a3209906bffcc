package memory_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/memory"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/onsi/gomega"
)

// A sampling target's memory windows are what the procedure drives.
var _ memory.Windows = target.Sampler(nil)

// windows is a scripted target: every export adds a sample to the open window at the peak the
// export sets, and ResetPeak closes the window, as the target's sampler does.
type windows struct {
	mu     sync.Mutex
	open   target.MemoryWindow
	resets int
	file   uint64 // the file-backed figure every sample reads
}

func (w *windows) Peak() (target.MemoryWindow, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.open, w.open.Samples > 0
}

func (w *windows) ResetPeak() (target.MemoryWindow, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	closed := w.open
	closed.End = time.Now()
	w.resets++
	w.open = target.MemoryWindow{Start: closed.End}
	return closed, closed.Samples > 0
}

// sample records one sample of peak bytes in the open window.
func (w *windows) sample(peak uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.open.Samples++
	w.open.PeakBytes = max(w.open.PeakBytes, peak)
	w.open.PeakFileBytes = max(w.open.PeakFileBytes, w.file)
}

// withFile is export, with file as the file-backed figure of its samples.
func (w *windows) withFile(file uint64, export memory.Export) memory.Export {
	return func(ctx context.Context) (int64, bool) {
		w.mu.Lock()
		w.file = file
		w.mu.Unlock()
		return export(ctx)
	}
}

// export is an export of size bytes that raises the peak to peak and yields samples samples.
func (w *windows) export(size int64, peak uint64, samples int) memory.Export {
	return func(context.Context) (int64, bool) {
		for range samples {
			w.sample(peak)
		}
		return size, true
	}
}

func TestWindow(t *testing.T) {
	tests := []struct {
		name        string
		samples     int // per export
		fail        int // the export that fails (1-based; 0: none)
		proc        memory.Procedure
		wantExports int
		wantSamples int
		wantFailed  bool
	}{
		{name: "until three samples", samples: 1, wantExports: 3, wantSamples: 3},
		{name: "one long export", samples: 7, wantExports: 1, wantSamples: 7},
		{name: "more samples wanted", samples: 2, proc: memory.Procedure{MinSamples: 5}, wantExports: 3, wantSamples: 6},
		{name: "a failed export ends it", samples: 1, fail: 2, wantExports: 2, wantSamples: 2, wantFailed: true},
		{name: "bounded in count", samples: 0, proc: memory.Procedure{MaxExports: 4}, wantExports: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &windows{}
			w.sample(999) // what ran before: the procedure must close it first
			n := 0
			exp := func(ctx context.Context) (int64, bool) {
				n++
				for range tt.samples {
					w.sample(uint64(100 + n))
				}
				return int64(1000 + n), n != tt.fail
			}
			r, err := memory.Window(context.Background(), w, memory.Probe{Export: exp}, tt.proc)
			if err != nil {
				t.Fatal(err)
			}
			wantPeak := uint64(100 + tt.wantExports)
			if tt.samples == 0 {
				wantPeak = 0
			}
			if r.Exports != tt.wantExports || r.Window.Samples != tt.wantSamples || r.Failed != tt.wantFailed ||
				r.Bytes != int64(1000+tt.wantExports) || r.Window.PeakBytes != wantPeak || r.Measured != (tt.wantSamples > 0) {
				t.Errorf("got %+v, want %d exports, %d samples, failed %v, peak %d", r, tt.wantExports, tt.wantSamples, tt.wantFailed, wantPeak)
			}
			if r.Window.End.IsZero() || w.resets != 2 {
				t.Errorf("window end %v after %d resets: want closed, with two resets (before and after)", r.Window.End, w.resets)
			}
		})
	}
}

// A window whose samples never come closes after MaxWait, having paused between exports.
func TestWindowMaxWait(t *testing.T) {
	w := &windows{}
	t0 := time.Now()
	r, err := memory.Window(context.Background(), w, memory.Probe{Export: w.export(10, 1, 0), Pause: 10 * time.Millisecond},
		memory.Procedure{MaxWait: 100 * time.Millisecond})
	took := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Measured || r.Failed || r.Exports < 2 || r.Exports > 12 || took < 100*time.Millisecond || took > 5*time.Second {
		t.Errorf("got %+v after %v: want an unmeasured window of several exports closed after about 100ms", r, took)
	}
}

// Cancelling ends the window with ctx's error, and the window is closed all the same.
func TestWindowCancelled(t *testing.T) {
	w := &windows{}
	ctx, cancel := context.WithCancel(context.Background())
	exp := func(context.Context) (int64, bool) {
		w.sample(5)
		cancel()
		return 10, true
	}
	r, err := memory.Window(ctx, w, memory.Probe{Export: exp, Pause: time.Hour}, memory.Procedure{MinSamples: 100})
	if !errors.Is(err, context.Canceled) || r.Exports != 1 || !r.Measured || w.resets != 2 {
		t.Errorf("got %+v, %v after %d resets: want one export, the window closed, and context.Canceled", r, err, w.resets)
	}
}

func TestWindowInvalid(t *testing.T) {
	w := &windows{}
	if _, err := memory.Window(context.Background(), w, memory.Probe{}, memory.Procedure{}); err == nil {
		t.Error("no export: want an error")
	}
	if _, err := memory.Window(context.Background(), w, memory.Probe{Export: w.export(1, 1, 1)}, memory.Procedure{MinSamples: -1}); err == nil {
		t.Error("negative MinSamples: want an error")
	}
	if w.resets != 0 {
		t.Errorf("%d resets: an invalid call must not touch the windows", w.resets)
	}
}

func TestMeasure(t *testing.T) {
	w := &windows{}
	small := memory.Probe{Export: w.withFile(30e6, w.export(120e3, 50e6, 1))}
	large := memory.Probe{Export: w.withFile(20e6, w.export(25e6, 80e6, 4))}
	g, err := memory.Measure(context.Background(), w, small, large, memory.Procedure{})
	if err != nil {
		t.Fatal(err)
	}
	want := memory.Memory{PeakExternal: 80e6, PeakExternalFile: 30e6, PeakDuringSmall: 50e6, PeakDuringLarge: 80e6,
		SmallSamples: 3, LargeSamples: 4, SmallBytes: 120e3, LargeBytes: 25e6}
	if got := g.Memory(); got != want {
		t.Errorf("Memory() = %+v, want %+v", got, want)
	}
	if g.Small.Exports != 3 || g.Large.Exports != 1 || w.resets != 4 {
		t.Errorf("%d small and %d large exports, %d resets; want 3, 1, 4", g.Small.Exports, g.Large.Exports, w.resets)
	}

	// Without both windows measured and every export right, there is nothing for A4 to judge.
	for name, g := range map[string]memory.Growth{
		"small unmeasured": {Small: memory.Result{Bytes: 1}, Large: g.Large},
		"large failed":     {Small: g.Small, Large: memory.Result{Measured: true, Failed: true, Bytes: 7}},
	} {
		if got := g.Memory(); got != (memory.Memory{}) {
			t.Errorf("%s: Memory() = %+v, want zero", name, got)
		}
	}
}

func TestResident(t *testing.T) {
	var scrapes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := scrapes.Add(1)
		if r.URL.Path != "/metrics" || r.Header.Get("Authorization") != "Bearer tok" || n == 2 {
			http.Error(w, "no", http.StatusInternalServerError) // a failed scrape is skipped
			return
		}
		v := []float64{0, 40e6, 0, 90e6, 70e6}[min(n, 4)]
		fmt.Fprintf(w, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %g\n", v)
	}))
	defer srv.Close()
	stop := memory.Resident(context.Background(), nil, srv.URL, "tok", time.Millisecond)
	gomega.NewWithT(t).Eventually(scrapes.Load).WithTimeout(5 * time.Second).WithPolling(time.Millisecond).Should(gomega.BeNumerically(">=", 6))
	if got := stop(); got != 90e6 {
		t.Errorf("Resident = %g, want the highest value, 90e6", got)
	}
}
