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
