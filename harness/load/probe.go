package load

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/internal/ratelimit"
)

// Answer is one answer a probe met: its status, and when it arrived since the probe started.
type Answer struct {
	At     time.Duration `json:"at_ns"`  // the first response byte arrived (no response: the request failed)
	Status int           `json:"status"` // 0: no response
}

// MaxAnswers bounds the answers a probe keeps; those past it are only counted (AnswersDropped).
const MaxAnswers = 2000

// answerOf is the answer f recorded, timed from start.
func answerOf(start time.Time, f export.Fetch) Answer {
	at := f.Start.Sub(start) + f.Latency
	if f.FirstByte > 0 {
		at = f.Start.Sub(start) + f.FirstByte
	}
	return Answer{At: at, Status: f.Status}
}

// keepAnswer appends a to as, or counts it in dropped when as is full.
func keepAnswer(as *[]Answer, dropped *int, a Answer) {
	if len(*as) >= MaxAnswers {
		*dropped++
		return
	}
	*as = append(*as, a)
}

// BurstConfig is a burst over the rate limit: more requests, faster, than the bucket holds.
type BurstConfig struct {
	Client   *export.Client
	Expected *export.Expected // a cheap CSV export (e.g. Limit 1); each 200 is verified and counted
	Requests int              // requests to fire at most, more than the burst (0: 150)
	// Enough stops the burst once this many 429s arrived (0: fire all Requests). A busy machine
	// may not send Requests fast enough to drain the bucket faster than it refills; firing until
	// enough 429s came makes the probe as fast as the exporter lets it be, not the harness.
	Enough      int
	Concurrency int           // in flight (0: 16)
	Timeout     time.Duration // for the whole burst (0: 30 s)
}

// BurstResult is what the burst met.
type BurstResult struct {
	Sent                int
	OK                  int // 200 and verified
	RateLimited         int // 429 answers
	WithRetryAfter      int // 429s carrying a valid Retry-After (ratelimit.RetryAfter)
	WithRateLimit       int // 429s carrying a valid RateLimit (ratelimit.ValidRateLimit)
	WithRateLimitPolicy int // 429s carrying a valid RateLimit-Policy (ratelimit.ValidPolicy)
	MaxRetryAfter       time.Duration
	Elapsed             time.Duration
	Example             http.Header // the header of the first 429
	Tally               export.Tally
	// Start is when the burst began; Answers are its answers in the order they were counted
	// (at most MaxAnswers, AnswersDropped past that).
	Start          time.Time
	Answers        []Answer
	AnswersDropped int
}

// Burst fires cfg.Requests cheap exports as fast as cfg.Concurrency allows. The client's bucket is
// empty afterwards: wait MaxRetryAfter before the next step with the same client.
func Burst(ctx context.Context, cfg BurstConfig) BurstResult {
	n, conc := orDefault(cfg.Requests, 150), orDefault(cfg.Concurrency, 16)
	ctx, cancel := context.WithTimeout(ctx, orDefault(cfg.Timeout, 30*time.Second))
	defer cancel()
	var (
		mu  sync.Mutex
		res BurstResult
		wg  sync.WaitGroup
	)
	jobs := make(chan struct{})
	start := time.Now()
	res.Start = start
	for range conc {
		wg.Go(func() {
			for range jobs {
				r := cfg.Client.CSV(ctx, cfg.Expected)
				mu.Lock()
				res.Sent++
				res.Tally.Add(r)
				keepAnswer(&res.Answers, &res.AnswersDropped, answerOf(start, r.Fetch))
				switch {
				case r.Status == http.StatusTooManyRequests:
					res.RateLimited++
					h := r.Header
					if res.Example == nil {
						res.Example = h.Clone()
					}
					if d, ok := ratelimit.RetryAfter(h.Get("Retry-After")); ok {
						res.WithRetryAfter++
						res.MaxRetryAfter = max(res.MaxRetryAfter, d)
					}
					if ratelimit.ValidRateLimit(h.Get("RateLimit")) {
						res.WithRateLimit++
					}
					if ratelimit.ValidPolicy(h.Get("RateLimit-Policy")) {
						res.WithRateLimitPolicy++
					}
				case r.Failure() == "":
					res.OK++
				}
				mu.Unlock()
			}
		})
	}
feed:
	for range n {
		mu.Lock()
		enough := cfg.Enough > 0 && res.RateLimited >= cfg.Enough
		mu.Unlock()
		if enough {
			break
		}
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

// SaturationConfig is a probe over one format's export capacity.
type SaturationConfig struct {
	Client   *export.Client
	Expected *export.Expected // a large export, so a held one cannot finish into socket buffers
	Format   string           // export.CSV or export.PDF
	Hold     int              // exports opened and then not read, more than the capacity
	Extra    int              // further requests fired while those are held (0: 3)
	Timeout  time.Duration    // for the whole probe (0: 60 s)
}

// SaturationResult is what the probe met.
type SaturationResult struct {
	Held           int         // exports that started (200) and were held unread
	Saturated      int         // 503 answers
	WithRetryAfter int         // 503s carrying a valid Retry-After (ratelimit.RetryAfter)
	ServerErrors   int         // 5xx answers other than 503
	Statuses       map[int]int // every answer, by status
	Failures       []string    // released exports that were not complete and right
	Elapsed        time.Duration
	Tally          export.Tally
	// Start is when the probe began; Answers are its answers (a held export's at its header),
	// at most MaxAnswers, AnswersDropped past that.
	Start          time.Time
	Answers        []Answer
	AnswersDropped int
}

// Saturate opens cfg.Hold exports and holds them unread after their header arrived, fires
// cfg.Extra more requests while they are held, then releases the held ones all at once by reading
// them to the end (so every export the exporter started is one the harness counted as finished or
// cut), and verifies them.
func Saturate(ctx context.Context, cfg SaturationConfig) (SaturationResult, error) {
	if cfg.Format != export.CSV && cfg.Format != export.PDF {
		return SaturationResult{}, fmt.Errorf("saturate: format %q", cfg.Format)
	}
	extra := orDefault(cfg.Extra, 3)
	ctx, cancel := context.WithTimeout(ctx, orDefault(cfg.Timeout, 60*time.Second))
	defer cancel()
	start := time.Now()
	res := SaturationResult{Statuses: map[int]int{}, Start: start}
	var mu sync.Mutex // guards res while held exports are released concurrently
	finish := func(p *export.Pending) {
		if cfg.Format == export.PDF {
			r := p.PDF()
			mu.Lock()
			defer mu.Unlock()
			res.Tally.Add(r)
			res.note(r.Fetch, r.Failure())
		} else {
			r := p.CSV()
			mu.Lock()
			defer mu.Unlock()
			res.Tally.Add(r)
			res.note(r.Fetch, r.Failure())
		}
	}

	pending := make([]*export.Pending, cfg.Hold)
	var wg sync.WaitGroup
	for i := range pending {
		wg.Go(func() { pending[i] = cfg.Client.Open(ctx, cfg.Format, cfg.Expected) })
	}
	wg.Wait()
	var held []*export.Pending
	for _, p := range pending {
		if p.Fetch().Started() {
			held = append(held, p)
			res.Held++
		} else {
			finish(p) // an answer other than 200 has nothing to hold
		}
	}
	for range extra {
		finish(cfg.Client.Open(ctx, cfg.Format, cfg.Expected))
	}
	// Released all at once: each is a large export under the exporter's write timeout, which the
	// last of them could outlast if they were read one after another.
	for _, p := range held {
		wg.Go(func() { finish(p) })
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res, nil
}

func (r *SaturationResult) note(f export.Fetch, failure string) {
	keepAnswer(&r.Answers, &r.AnswersDropped, answerOf(r.Start, f))
	if f.Status != 0 {
		r.Statuses[f.Status]++
	}
	switch {
	case f.Status == http.StatusServiceUnavailable:
		r.Saturated++
		if _, ok := ratelimit.RetryAfter(f.Header.Get("Retry-After")); ok {
			r.WithRetryAfter++
		}
	case f.Status >= 500:
		r.ServerErrors++
	}
	if f.Started() && failure != "" {
		r.Failures = append(r.Failures, fmt.Sprintf("held %s export: %s", f.Format, failure))
	}
}

// BadEndingsConfig is a set of exports that end badly on purpose, so their outcomes can be
// reconciled with the exporter's metrics: one the client abandons mid-stream after rows arrived,
// one whose reader stalls until the exporter's write timeout cuts it off, and one with a query the
// exporter must refuse.
type BadEndingsConfig struct {
	Client *export.Client
	// Stall is the client of the stalled reader. Its connections should have a small receive
	// buffer, so the export cannot finish into socket buffers while it stalls.
	Stall    *export.Client
	Expected *export.Expected // a large CSV export, many times the socket buffers
	// WriteTimeout is the exporter's write timeout: the stalled reader waits this long plus
	// StallGrace before it reads on.
	WriteTimeout time.Duration
	StallGrace   time.Duration // 0: 2 s
	Refused      *export.Expected
}

// BadEndingsResult is what the exports that end badly met.
type BadEndingsResult struct {
	Abandoned      export.Fetch `json:"abandoned"`
	AbandonedAfter int64        `json:"abandoned_after_bytes"` // body bytes read before giving up
	Stalled        export.Fetch `json:"stalled"`
	StalledFor     time.Duration
	// StalledCut is true when the stalled export did not arrive whole: the exporter cut it off.
	StalledCut bool         `json:"stalled_cut"`
	Refused    export.Fetch `json:"refused"`
	// Tally counts the three on the wire only: what was cut short on purpose has no content to
	// judge (a stalled export that arrived whole after all is verified like any other).
	Tally    export.Tally `json:"tally"`
	Failures []string     `json:"failures,omitempty"`
}

// abandonAfter is how much of the abandoned export is read first: enough for rows to have been
// sent, far less than the export.
const abandonAfter = 256 << 10

// BadEndings runs the three exports that end badly, one after another.
func BadEndings(ctx context.Context, cfg BadEndingsConfig) BadEndingsResult {
	var res BadEndingsResult
	grace := orDefault(cfg.StallGrace, 2*time.Second)
	ctx, cancel := context.WithTimeout(ctx, cfg.WriteTimeout+grace+time.Minute)
	defer cancel()

	p := cfg.Client.Open(ctx, export.CSV, cfg.Expected)
	if p.Fetch().Started() {
		n, err := p.ReadSome(abandonAfter)
		res.AbandonedAfter = n
		if n < abandonAfter {
			res.Failures = append(res.Failures, fmt.Sprintf("the export to abandon ended after %d bytes (%v): too small to abandon mid-stream", n, err))
		}
	}
	res.Abandoned = p.Abandon()
	if !res.Abandoned.Started() {
		res.Failures = append(res.Failures, "the export to abandon was refused: "+describe(res.Abandoned, nil))
	}
	res.Tally.Add(res.Abandoned)

	start := time.Now()
	p = cfg.Stall.Open(ctx, export.CSV, cfg.Expected)
	if p.Fetch().Started() {
		_, _ = p.ReadSome(32 << 10)
		t := time.NewTimer(cfg.WriteTimeout + grace)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	rec := p.Receive()
	res.StalledFor = time.Since(start)
	stalled := rec.CSV() // an export that arrived whole after all has rows to count
	res.Stalled = stalled.Fetch
	switch {
	case !res.Stalled.Started():
		res.Failures = append(res.Failures, "the export to stall was refused: "+describe(res.Stalled, nil))
	case res.Stalled.Complete:
		res.Failures = append(res.Failures, fmt.Sprintf("a reader stalled for %s past the write timeout of %s was not cut off: the export arrived whole (%d bytes)",
			grace, cfg.WriteTimeout, res.Stalled.Bytes))
	default:
		res.StalledCut = true
	}
	if res.StalledCut {
		res.Tally.Add(stalled.Fetch)
	} else {
		res.Tally.Add(stalled)
	}

	if cfg.Refused != nil {
		res.Refused = cfg.Client.Get(ctx, export.CSV, cfg.Refused).Fetch
		res.Tally.Add(res.Refused)
		if res.Refused.Status != http.StatusBadRequest {
			res.Failures = append(res.Failures, fmt.Sprintf("an export with a bad query (%s) answered %s, want 400",
				res.Refused.Path, describe(res.Refused, nil)))
		}
	}
	return res
}
