package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the exporter's HTTP handler.
type Server struct {
	cfg      Config
	store    Store
	log      *slog.Logger
	m        *metrics
	reg      *prometheus.Registry
	tokens   *tokens // nil: auth off
	limiter  *clientLimiter
	exports  map[Capacity]slots // per capacity class
	mux      *http.ServeMux
	draining atomic.Bool
}

// NewServer builds the handler over store. cfg must be valid.
func NewServer(cfg Config, store Store, logger *slog.Logger) (*Server, error) {
	s := &Server{
		cfg:     cfg,
		store:   store,
		log:     logger,
		reg:     prometheus.NewRegistry(),
		limiter: newClientLimiter(cfg.Rate, cfg.Burst),
		exports: map[Capacity]slots{Streamed: make(slots, Streamed.slots(cfg)), Document: make(slots, Document.slots(cfg))},
		mux:     http.NewServeMux(),
	}
	if cfg.TokensFile != "" {
		t, err := loadTokens(cfg.TokensFile)
		if err != nil {
			return nil, err
		}
		s.tokens = t
	}
	if _, err := store.Counts(); err != nil && !errors.Is(err, ErrStoreUnavailable) {
		return nil, fmt.Errorf("read store: %w", err)
	}
	s.m = newMetrics(s.reg, store)
	s.mux.HandleFunc("/healthz", s.healthz)
	s.mux.HandleFunc("/readyz", s.readyz)
	s.mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	s.mux.Handle("/v1/datasets/{name}", s.api(scopeWrite, http.MethodPut, s.putDataset))
	s.mux.Handle("/v1/datasets/{name}/records", s.api(scopeWrite, http.MethodPost, s.postRecords))
	s.mux.Handle("/v1/datasets/{name}/export", s.api(scopeRead, http.MethodGet, s.export))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(errNoEndpoint, "no such endpoint: %s", r.URL.Path))
	})
	return s, nil
}

// Drain makes the server refuse new API requests and report not ready, ahead of a shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// reqInfo carries what a handler learned to the request log line.
type reqInfo struct {
	rows int64
	err  string
}

type reqInfoKey struct{}

func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// statusWriter records the status and body bytes for the log; Unwrap keeps http.ResponseController
// (flush, write deadlines) working through it.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP logs one line per request (never bodies, record contents or tokens) and turns a panic
// into a 500 that is logged as such, or, once the response has started, into a reset connection,
// so that a response cut short by a panic cannot look complete.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ri := &reqInfo{}
	sw := &statusWriter{ResponseWriter: w}
	r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
	defer func() {
		p := recover()
		switch {
		case p == http.ErrAbortHandler:
			defer panic(p) // after the log line: net/http then drops the connection
		case p != nil:
			s.log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			ri.err = "panic"
			if sw.status == 0 {
				writeAPIError(sw, errorResponse(fmt.Errorf("panic: %v", p)))
			} else {
				defer panic(http.ErrAbortHandler)
			}
		}
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Int64("rows", ri.rows), slog.Int64("bytes", sw.bytes),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("remote", r.RemoteAddr)}
		if ri.err != "" {
			attrs = append(attrs, slog.String("error", ri.err))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	}()
	s.mux.ServeHTTP(sw, r)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.draining.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
	case !s.store.Ready():
		retryAfter(w.Header(), 2*time.Second)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

// api wraps an API handler with the method check, draining, auth and the per-client rate limit.
func (s *Server) api(need scope, method string, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := s.guard(w, r, need, method)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) guard(w http.ResponseWriter, r *http.Request, need scope, method string) error {
	if r.Method != method {
		return &methodError{method: r.Method, allow: method}
	}
	if s.draining.Load() {
		w.Header().Set("Connection", "close")
		return errShuttingDown
	}
	client := clientAddr(r)
	if s.tokens != nil {
		tok, ok := bearerToken(r.Header.Get("Authorization"))
		scopes, found := s.tokens.lookup(tok)
		if !ok || !found {
			// A failed attempt spends its address's bucket, so guessing tokens is rate limited too.
			if err := s.limit(w, "addr:"+client); err != nil {
				return err
			}
			s.m.rejected.WithLabelValues("unauthorized").Inc()
			return errUnauthorized
		}
		if scopes&need == 0 {
			s.m.rejected.WithLabelValues("unauthorized").Inc()
			return errorf(errForbidden, "this token lacks the %s scope", need)
		}
		client = "token:" + tok
	}
	return s.limit(w, client)
}

// limit takes one token from the client's bucket, setting the RateLimit headers; an empty bucket
// is a rateLimitError.
func (s *Server) limit(w http.ResponseWriter, client string) error {
	if s.limiter == nil {
		return nil
	}
	ok, remaining, wait := s.limiter.take(client, s.limiter.clock())
	s.limiter.setHeaders(w.Header(), remaining, wait)
	if !ok {
		s.m.rejected.WithLabelValues("rate_limited").Inc()
		return &rateLimitError{wait: wait}
	}
	return nil
}

// bearerToken takes the token from an Authorization field; the scheme is case-insensitive (RFC 9110).
func bearerToken(field string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(field), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

func (sc scope) String() string {
	if sc == scopeWrite {
		return "write"
	}
	return "read"
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the response"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
