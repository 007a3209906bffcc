package exporter

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clientLimiter holds one token bucket per client key. Buckets idle long enough to be full again are
// dropped once the map grows, so a stream of new clients cannot grow it without bound.
type clientLimiter struct {
	rate  rate.Limit
	burst int
	clock func() time.Time // time.Now; a test's own clock makes refills deterministic

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

const maxBuckets = 10000

func newClientLimiter(perSecond float64, burst int) *clientLimiter {
	if perSecond <= 0 {
		return nil // rate limiting off
	}
	return &clientLimiter{rate: rate.Limit(perSecond), burst: burst, clock: time.Now, buckets: map[string]*bucket{}}
}

// take takes one token for key. It returns whether the request may go on, the tokens left, and how
// long until the next token (when refused) or until the bucket is full again (when allowed).
func (c *clientLimiter) take(key string, now time.Time) (ok bool, remaining int, wait time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buckets[key]
	if b == nil {
		if len(c.buckets) >= maxBuckets {
			c.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(c.rate, c.burst)}
		c.buckets[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, 0, d
	}
	tokens := b.lim.TokensAt(now)
	full := time.Duration((float64(c.burst) - tokens) / float64(c.rate) * float64(time.Second))
	return true, int(math.Floor(tokens)), full
}

// evict makes room for a new bucket. At most once a second it drops every bucket idle long enough
// to be full again (forgetting it changes nothing); if the map is still full, it drops arbitrary
// buckets, which only hands those clients a fresh burst. Either way the map stays bounded and a
// stream of new clients costs amortised constant time.
func (c *clientLimiter) evict(now time.Time) {
	if now.Sub(c.lastSweep) >= time.Second {
		c.lastSweep = now
		full := time.Duration(float64(c.burst) / float64(c.rate) * float64(time.Second))
		for k, b := range c.buckets {
			if now.Sub(b.last) > full {
				delete(c.buckets, k)
			}
		}
	}
	for k := range c.buckets {
		if len(c.buckets) < maxBuckets*9/10 {
			break
		}
		delete(c.buckets, k)
	}
}

// setHeaders writes the IETF RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers,
// structured-field form): quota q per window w seconds, r remaining, t seconds until reset.
func (c *clientLimiter) setHeaders(h http.Header, remaining int, reset time.Duration) {
	window := int(math.Ceil(float64(c.burst) / float64(c.rate)))
	h.Set("RateLimit-Policy", fmt.Sprintf(`"client";q=%d;w=%d`, c.burst, max(window, 1)))
	h.Set("RateLimit", fmt.Sprintf(`"client";r=%d;t=%d`, remaining, ceilSeconds(reset)))
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

func retryAfter(h http.Header, d time.Duration) {
	h.Set("Retry-After", strconv.Itoa(max(ceilSeconds(d), 1)))
}

// slots bounds concurrent exports of one format; a full set refuses at once instead of queueing.
type slots chan struct{}

func (s slots) tryAcquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s slots) release() { <-s }
