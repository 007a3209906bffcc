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
// exports as f's timing faults say (StreamRate, FirstByteDelay, DelayEvery and DelayBy): the
// exports stay right, header, body and trailers, they only arrive later. It is how the harness is
// shown to judge the real exporter's pace, not its own.
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
		rp.ServeHTTP(sw, r)
	})
}

// slowWriter holds the response before its first byte and paces its body.
type slowWriter struct {
	http.ResponseWriter
	ctx   context.Context
	hold  time.Duration
	held  bool
	limit *rate.Limiter
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
