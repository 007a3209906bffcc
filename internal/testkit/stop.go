package testkit

import (
	"context"
	"testing"
	"time"
)

// StopAtCleanup registers stop to run when t ends, with a context of its own that lasts at most
// within: what a test starts (a target, a server) is stopped where it is started.
func StopAtCleanup(t testing.TB, within time.Duration, stop func(context.Context) error) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		if err := stop(ctx); err != nil {
			t.Logf("stopping at cleanup: %v", err)
		}
	})
}

// Stopper is what a test starts and must stop again: a target, a server.
type Stopper interface {
	Stop(ctx context.Context) error
}

// Start calls start with a context that lasts at most within, fails t if it returns an error, and
// stops what it started when t ends (StopAtCleanup, for at most stopWithin). It is for a test that
// needs the started thing for the whole test but the context only to start it; the generic type
// keeps the caller's own (testkit cannot import harness/target, whose tests import testkit).
func Start[S Stopper](t testing.TB, within, stopWithin time.Duration, start func(context.Context) (S, error)) S {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	s, err := start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	StopAtCleanup(t, stopWithin, s.Stop)
	return s
}

// Served is a command's run function serving in a goroutine of the test (Serve).
type Served struct {
	t      testing.TB
	cancel context.CancelFunc
	done   chan error
}

// Serve runs serve in a goroutine under a context of its own, which Shutdown cancels as a signal
// would (and the end of t, if Shutdown was not called).
func Serve(t testing.TB, serve func(ctx context.Context) error) *Served {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &Served{t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- serve(ctx) }()
	return s
}

// Exited reports, without waiting, whether serve has returned already, and its error.
func (s *Served) Exited() (exited bool, err error) {
	select {
	case err := <-s.done:
		s.done <- err // for Shutdown
		return true, err
	default:
		return false, nil
	}
}

// Shutdown cancels serve's context and waits at most within for it to return; serve must return
// nil, within that time.
func (s *Served) Shutdown(within time.Duration) {
	s.t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("serving returned %v after its context was cancelled, want nil", err)
		}
	case <-time.After(within):
		s.t.Fatalf("serving did not return within %s of its context being cancelled", within)
	}
}
