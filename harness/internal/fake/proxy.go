package fake

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Proxy forwards every request to upstream (a healthy exporter) and breaks the speed of its
// exports as f's timing faults say (StreamRate, FirstByteDelay, DelayEvery and DelayBy, HoldBack):
// the exports stay right, header, body and trailers, they only arrive later. It is how the harness
// is shown to judge the real exporter's pace, not its own.
//
// HoldBack slows every export in proportion to its own time, as a release that is uniformly slower
// would: the proxy passes the body on as it comes but keeps its last write back, and once upstream
// has finished (its time T, from the request's arrival) it waits HoldBack × T more before sending
// those last bytes and ending the response. A client cannot finish reading before then, whether
// the body is chunked or has a Content-Length, so the export's latency becomes about
// (1 + HoldBack) × T.
func Proxy(upstream *url.URL, f Faults) http.Handler {
	rp := httputil.NewSingleHostReverseProxy(upstream)
	rp.FlushInterval = -1 // stream as the exporter does
	var nth atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/export") {
			rp.ServeHTTP(w, r)
			return
		}
		sw := &slowWriter{ResponseWriter: w, ctx: r.Context(), hold: f.FirstByteDelay}
		if n := f.DelayEvery; n > 0 && nth.Add(1)%int64(n) == 0 {
			sw.hold += f.DelayBy
		}
		if f.StreamRate > 0 {
			sw.limit = rate.NewLimiter(rate.Limit(f.StreamRate), throttleChunk)
		}
		start := time.Now()
		sw.keepLast = f.HoldBack > 0
		rp.ServeHTTP(sw, r)
		if sw.keepLast {
			sw.release(time.Duration(float64(time.Since(start)) * f.HoldBack))
		}
	})
}

// slowWriter holds the response before its first byte and paces its body.
type slowWriter struct {
	http.ResponseWriter
	ctx   context.Context
	hold  time.Duration
	held  bool
	limit *rate.Limiter
	// keepLast keeps each write back until the next one (HoldBack): last is the write kept.
	keepLast bool
	last     []byte
}

// release waits d, then sends the write kept back.
func (w *slowWriter) release(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.ctx.Done():
		return
	}
	if len(w.last) > 0 {
		_, _ = w.send(w.last)
		w.last = nil
	}
	w.Flush()
}

func (w *slowWriter) wait() {
	if w.held {
		return
	}
	w.held = true
	if w.hold > 0 {
		t := time.NewTimer(w.hold)
		defer t.Stop()
		select {
		case <-t.C:
		case <-w.ctx.Done():
		}
	}
}

func (w *slowWriter) WriteHeader(code int) {
	w.wait()
	w.ResponseWriter.WriteHeader(code)
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.wait()
	if !w.keepLast {
		return w.send(p)
	}
	if len(w.last) > 0 {
		if _, err := w.send(w.last); err != nil {
			return 0, err
		}
	}
	w.last = append(w.last[:0], p...) // the caller reuses p
	return len(p), nil
}

// send writes p, paced when a StreamRate is set.
func (w *slowWriter) send(p []byte) (int, error) {
	if w.limit == nil {
		return w.ResponseWriter.Write(p)
	}
	written := 0
	for written < len(p) {
		chunk := p[written:min(len(p), written+throttleChunk)]
		if err := w.limit.WaitN(w.ctx, len(chunk)); err != nil {
			return written, err
		}
		n, err := w.ResponseWriter.Write(chunk)
		written += n
		if err != nil {
			return written, err
		}
		w.Flush()
	}
	return written, nil
}

// Flush sends what was written so far.
func (w *slowWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *slowWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
