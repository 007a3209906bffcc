// Package ctxwait waits for a time to pass unless a context ends first: the one sleep the harness's
// sampling, seeding and load loops share.
package ctxwait

import (
	"context"
	"time"
)

// Sleep waits d (none when d <= 0) and reports whether ctx is still live: false as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
