package load

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/harness/export"
)

// ABConfig is an interleaved A/B run: every job is sent to the candidate (A) and to the baseline
// (B) at the same moment, one pair at a time, so both exporters see the same machine: whatever
// else runs on it slows both sides of a pair alike, and the comparison is made pair by pair.
type ABConfig struct {
	A, B    *export.Client // the candidate and the baseline, each over its own deployment
	Jobs    []Job          // the mix, one pair per job, in this order
	Timeout time.Duration  // per export (0: 2 minutes)
	// Bound is the longest the run may take (0: 5 minutes); pairs not sent by then are left out.
	Bound time.Duration
	// Verify, when set, judges a pair's two answers off the clock, after both have ended and
	// before the next pair is sent, so that the bodies need not be kept for the whole run.
	Verify func(i int, a, b *export.Received)
	// Progress, when set, is told after each pair how many of how many are done.
	Progress func(done, planned int)
}

// ABPair is one job as both sides answered it on the timed path.
type ABPair struct {
	Job  int
	A, B export.Fetch
}

// Interleave sends cfg.Jobs as pairs, the two exports of a pair released together (which side's
// goroutine starts first alternates from pair to pair), and returns the pairs sent. The
// bodies are read on the timed path only as fast as the socket delivers them; verification is
// cfg.Verify's, between pairs, off the clock.
func Interleave(ctx context.Context, cfg ABConfig) ([]ABPair, error) {
	if cfg.A == nil || cfg.B == nil {
		return nil, fmt.Errorf("load: an A/B run needs both clients")
	}
	if err := (Config{Client: cfg.A, Jobs: cfg.Jobs}).validate(); err != nil {
		return nil, err
	}
	timeout := orDefault(cfg.Timeout, 2*time.Minute)
	ctx, cancel := context.WithTimeout(ctx, orDefault(cfg.Bound, 5*time.Minute))
	defer cancel()
	var pairs []ABPair
	for i, job := range cfg.Jobs {
		if ctx.Err() != nil {
			break
		}
		a, b := sendPair(ctx, cfg.A, cfg.B, job, timeout, i%2 == 1)
		if ctx.Err() != nil && (!a.Complete || !b.Complete) {
			break // cut off by the bound: not a pair the exporters answered
		}
		if cfg.Verify != nil {
			cfg.Verify(i, a, b)
		}
		a.Drop()
		b.Drop()
		pairs = append(pairs, ABPair{Job: i, A: a.Fetch, B: b.Fetch})
		if cfg.Progress != nil {
			cfg.Progress(len(pairs), len(cfg.Jobs))
		}
	}
	return pairs, nil
}

// sendPair sends job to both clients at the same moment and waits for both answers to end.
func sendPair(ctx context.Context, a, b *export.Client, job Job, timeout time.Duration, bFirst bool) (ra, rb *export.Received) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	get := func(c *export.Client, into **export.Received) {
		ready.Done()
		<-release
		*into = c.Get(ctx, job.Format, job.Expected)
	}
	sides := []func(){func() { get(a, &ra) }, func() { get(b, &rb) }}
	if bFirst {
		sides[0], sides[1] = sides[1], sides[0]
	}
	ready.Add(2)
	for _, s := range sides {
		done.Go(s)
	}
	ready.Wait()
	close(release)
	done.Wait()
	return ra, rb
}
