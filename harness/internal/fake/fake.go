// Package fake is an in-memory exporter for the harness's own tests. Healthy, it implements the
// v1 API contract of docs/design.md (datasets, single and batch ingest, streamed CSV with trailers
// and formula guard, paginated PDF, the nine metrics, health checks, rate limiting and load
// shedding), and beside it a second API shape over the same store (shape.go: other paths and
// names, a JSON-array ingest, LF and all-quoted CSV, no PDF); each field of Faults breaks one
// promise, in both shapes, so the harness can prove it notices.
//
// It is written independently of the reference exporter on purpose: the harness must agree with
// the contract, not with one implementation of it.
package fake

import (
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Config shapes a fake exporter. The zero value is healthy, open (no auth) and unlimited.
type Config struct {
	Tokens       []string      // accepted bearer tokens; empty accepts every request
	Rate         float64       // per-client requests per second on /v1 (0: no rate limit)
	Burst        int           // per-client bucket size (0: 1 when Rate is set)
	MaxCSV       int           // concurrent CSV exports; more get 503 (0: unlimited)
	MaxPDF       int           // concurrent PDF exports; more get 503 (0: unlimited)
	PDFMaxRows   int           // larger PDF exports get 413 (0: 20000)
	WriteTimeout time.Duration // a reader that stalls this long is cut off (0: 30 s)
	Log          io.Writer     // receives one JSON line per request; nil logs nothing
	Faults       Faults
}

// Faults are deliberate defects. Each zero value means "behave".
type Faults struct {
	DropID        int64  // CSV: leave out the row with this id
	DuplicateID   int64  // CSV: write the row with this id twice
	MisquoteID    int64  // CSV: write this row's string cells without quoting
	WrongValueID  int64  // CSV: alter a cell of the row with this id
	NoGuard       bool   // CSV: skip the formula-injection guard
	TruncateAfter int    // CSV: end the body after this many rows, without trailers
	PDFDropPage   int    // PDF: leave out this page (1-based); the footers still count it
	MissingMetric string // do not expose this metric
	RowsSkew      int    // exporter_export_rows_total counts this many rows too many per export
	ErrorEvery    int    // every Nth export answers 500
	NoRetryAfter  bool   // 429 without Retry-After
	RetryAfter    string // 429 with this Retry-After instead of the delay in seconds, e.g. "soon"
	StoreSkew     int    // exporter_store_records reports this many records too many per dataset
	BufferExports bool   // CSV: build the whole body in memory before sending any of it (correct, but not bounded)

	// Defects of speed alone: the exports stay right, they only arrive later.
	StreamRate     float64       // write every export body at this many bytes per second (0: as fast as possible)
	FirstByteDelay time.Duration // hold every export this long before its first byte
	DelayEvery     int           // hold every Nth export DelayBy before its first byte
	DelayBy        time.Duration
	// Slots, when set, serves at most this many exports at once through FirstByteDelay: the others
	// wait in line for a slot (no 503). With a FirstByteDelay of S the fake's capacity is Slots/S
	// exports per second, a known value for the capacity self-test.
	Slots int
	// HoldBack (the slowing proxy only) holds every export's last bytes until HoldBack times its
	// own upstream time has passed again: 0.3 makes every export 30 % slower, however long it is.
	HoldBack float64

	IgnoreColumns   bool   // export every column whatever columns= asks for
	ContentType     string // serve exports with this Content-Type instead of the right one
	NoDisposition   bool   // serve exports without Content-Disposition
	CountFailedRows bool   // count the rows and bytes of aborted exports in the rows and bytes totals
	PanicEvery      int    // every Nth export panics in its handler after the header was sent

	// LeakPerExport keeps this many bytes per finished export, written so they are resident, and
	// never frees them: a slow leak, correct and fast otherwise, that only a soak shows.
	LeakPerExport int
}

// Server is the fake exporter, an http.Handler.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	metrics *metrics
	exports atomic.Int64 // exports past the capacity check, for ErrorEvery, DelayEvery and PanicEvery
	csvSem  chan struct{}
	pdfSem  chan struct{}
	slots   chan struct{} // Faults.Slots

	mu       sync.RWMutex
	datasets map[string]*dataset

	limMu    sync.Mutex
	limiters map[string]*rate.Limiter

	logMu sync.Mutex

	leakMu sync.Mutex
	leaked [][]byte // Faults.LeakPerExport
}

// New returns a fake exporter configured by cfg.
func New(cfg Config) *Server {
	if cfg.PDFMaxRows == 0 {
		cfg.PDFMaxRows = 20000
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.Rate > 0 && cfg.Burst <= 0 {
		cfg.Burst = 1
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), metrics: newMetrics(cfg.Faults.MissingMetric),
		datasets: map[string]*dataset{}, limiters: map[string]*rate.Limiter{}}
	if cfg.MaxCSV > 0 {
		s.csvSem = make(chan struct{}, cfg.MaxCSV)
	}
	if cfg.MaxPDF > 0 {
		s.pdfSem = make(chan struct{}, cfg.MaxPDF)
	}
	if cfg.Faults.Slots > 0 {
		s.slots = make(chan struct{}, cfg.Faults.Slots)
	}
	s.mux.Handle("PUT /v1/datasets/{name}", s.guard(s.putDataset(v1)))
	s.mux.Handle("POST /v1/datasets/{name}/records", s.guard(s.postRecords))
	s.mux.Handle("GET /v1/datasets/{name}/export", s.guard(s.export(v1)))
	// The second shape (shape.go), over the same store, limits and faults.
	s.mux.Handle("POST /api/tables/{name}", s.guard(s.putDataset(second)))
	s.mux.Handle("POST /api/tables/{name}/rows", s.guard(s.postRows))
	s.mux.Handle("GET /api/tables/{name}/download", s.guard(s.export(second)))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ready\n")) })
	s.mux.Handle("GET /metrics", s.metrics.handler())
	return s
}

// ServeHTTP serves the exporter API in both shapes, health checks and metrics. With Config.Log set it writes one
// JSON line per request (method, path, status), as the reference exporter does.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Log == nil {
		s.mux.ServeHTTP(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	start := time.Now()
	defer func() {
		line, _ := json.Marshal(map[string]any{"level": "INFO", "msg": "request", "method": r.Method, "path": r.URL.Path,
			"status": sw.status, "duration_seconds": time.Since(start).Seconds()})
		s.logMu.Lock()
		_, _ = s.cfg.Log.Write(append(line, '\n'))
		s.logMu.Unlock()
	}()
	s.mux.ServeHTTP(sw, r)
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (flushes, write deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// guard applies auth and the per-client rate limit to an API handler.
func (s *Server) guard(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := r.RemoteAddr
		if host, _, err := net.SplitHostPort(client); err == nil {
			client = host
		}
		if tok, ok := bearer(r); ok {
			client = "token:" + tok
		}
		if len(s.cfg.Tokens) > 0 {
			tok, _ := bearer(r)
			known := false
			for _, t := range s.cfg.Tokens {
				known = known || t == tok
			}
			if !known {
				s.metrics.rejected.WithLabelValues("unauthorized").Inc()
				writeError(w, http.StatusUnauthorized, "unauthorized", "missing or unknown bearer token")
				return
			}
		}
		if s.cfg.Rate > 0 && !s.allow(w, client) {
			s.metrics.rejected.WithLabelValues("rate_limited").Inc()
			writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests")
			return
		}
		next(w, r)
	})
}

// bearer is the request's token: a bearer token (v1), or the X-Api-Key header (the second shape).
func bearer(r *http.Request) (string, bool) {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) > len(prefix) && h[:len(prefix)] == prefix {
		return h[len(prefix):], true
	}
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k, true
	}
	return "", false
}

// allow takes a token from client's bucket, or writes the 429 headers and reports false.
func (s *Server) allow(w http.ResponseWriter, client string) bool {
	s.limMu.Lock()
	lim, ok := s.limiters[client]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(s.cfg.Rate), s.cfg.Burst)
		s.limiters[client] = lim
	}
	s.limMu.Unlock()
	now := time.Now()
	if lim.AllowN(now, 1) {
		return true
	}
	wait := time.Duration((1 - lim.TokensAt(now)) / s.cfg.Rate * float64(time.Second))
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	window := max(int(math.Ceil(float64(s.cfg.Burst)/s.cfg.Rate)), 1)
	h := w.Header()
	h.Set("RateLimit-Policy", `"client";q=`+strconv.Itoa(s.cfg.Burst)+`;w=`+strconv.Itoa(window))
	h.Set("RateLimit", `"client";r=0;t=`+strconv.Itoa(secs))
	switch {
	case s.cfg.Faults.NoRetryAfter:
	case s.cfg.Faults.RetryAfter != "":
		h.Set("Retry-After", s.cfg.Faults.RetryAfter)
	default:
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	return false
}

// writeError writes the contract's JSON error body.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]map[string]string{"error": {"code": code, "message": msg}})
}

// Start serves a fake exporter on a loopback httptest server that t closes at its end.
func Start(t testing.TB, cfg Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return srv
}
