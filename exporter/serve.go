package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Run serves cfg until ctx is cancelled, then shuts down gracefully: it stops accepting, refuses new
// API requests, lets in-flight requests finish for up to cfg.ShutdownGrace, and closes the store.
// The store is the one open returns for cfg once cfg is valid (package exporter/stores has the
// exporter's own). listening, when not nil, is called with the bound address once the server
// accepts connections.
func Run(ctx context.Context, cfg Config, open func(Config) (Store, error), logger *slog.Logger, listening func(addr string)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	store, err := open(cfg)
	if err != nil {
		return err
	}
	srv, err := NewServer(cfg, store, logger)
	if err != nil {
		store.Close()
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		store.Close()
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// No WriteTimeout: exports may run for minutes; each chunk gets its own deadline instead.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ConnState: func(c net.Conn, state http.ConnState) {
			if state == http.StateIdle {
				_ = c.SetWriteDeadline(time.Time{}) // an export's deadline must not outlive it
			}
		},
	}
	where := []any{"store", "bbolt", "data_dir", cfg.DataDir}
	if cfg.PostgresDSN != "" {
		where = []any{"store", "postgres"} // never the DSN: it may hold a password
	}
	logger.Info("listening", append([]any{"addr", ln.Addr().String(), "auth", srv.tokens != nil}, where...)...)
	if listening != nil {
		listening(ln.Addr().String())
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	select {
	case err := <-served:
		store.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	srv.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	err = hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("shutdown grace over; closing remaining connections")
		err = hs.Close()
	}
	if cerr := store.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
	}
	if err == nil {
		logger.Info("stopped")
	}
	return err
}
