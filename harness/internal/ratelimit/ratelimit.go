// Package ratelimit parses the headers an exporter answers a refused request with: Retry-After
// (RFC 9110 §10.2.3) and the IETF draft's RateLimit and RateLimit-Policy structured fields (Lists
// of Items, RFC 9651, parsed with httpsfv). It is the one parser the harness judges and honours
// them with, so a header the assertions call valid is one the seeder can follow, and the reverse.
package ratelimit

import (
	"net/http"
	"strconv"
	"time"

	"github.com/dunglas/httpsfv"
)

// RetryAfter parses a Retry-After value: delay-seconds (one or more digits, nothing else) or an
// HTTP-date, which becomes the time left until it (never negative). ok is false for anything
// else, "5abc", "+5", "-1" and "" included.
func RetryAfter(v string) (d time.Duration, ok bool) {
	if isDigits(v) {
		n, err := strconv.Atoi(v)
		if err != nil { // out of range
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// ValidPolicy reports whether v is a RateLimit-Policy field as the contract documents it: a list
// of policies, each a quoted name with non-negative integer parameters q (quota) and w (window,
// seconds), e.g. `"client";q=50;w=1`. Other parameters are allowed.
func ValidPolicy(v string) bool { return validList(v, "q", "w") }

// ValidRateLimit reports whether v is a RateLimit field as the contract documents it: a list of
// quoted policy names with non-negative integer parameters r (remaining) and t (seconds until
// reset), e.g. `"client";r=0;t=1`. Other parameters are allowed.
func ValidRateLimit(v string) bool { return validList(v, "r", "t") }

// validList reports whether v is a non-empty structured-field List whose members are String
// Items, each with the required parameters as non-negative Integers.
func validList(v string, required ...string) bool {
	l, err := httpsfv.UnmarshalList([]string{v})
	if err != nil || len(l) == 0 {
		return false
	}
	for _, m := range l {
		it, ok := m.(httpsfv.Item)
		if !ok {
			return false
		}
		if _, ok := it.Value.(string); !ok {
			return false
		}
		for _, k := range required {
			p, _ := it.Params.Get(k)
			if n, ok := p.(int64); !ok || n < 0 {
				return false
			}
		}
	}
	return true
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
