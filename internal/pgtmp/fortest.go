package pgtmp

import (
	"context"
	"testing"
	"time"
)

// ForTest starts a cluster for one test or benchmark and removes it when that ends.
func ForTest(tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Remove() })
	return c
}
