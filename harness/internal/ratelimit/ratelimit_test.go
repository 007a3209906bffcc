package ratelimit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/internal/ratelimit"
)

func TestRetryAfter(t *testing.T) {
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, tt := range []struct {
		v   string
		ok  bool
		min time.Duration
	}{
		{"0", true, 0},
		{"5", true, 5 * time.Second},
		{"120", true, 120 * time.Second},
		{"Sun, 06 Nov 1994 08:49:37 GMT", true, 0}, // in the past: no wait
		{future, true, 59 * time.Minute},
		{"", false, 0},
		{"soon", false, 0},
		{"5abc", false, 0},
		{"+5", false, 0},
		{"-1", false, 0},
		{" 5", false, 0},
		{"1.5", false, 0},
		{"99999999999999999999", false, 0},
	} {
		d, ok := ratelimit.RetryAfter(tt.v)
		if ok != tt.ok || d < tt.min || (!tt.ok && d != 0) {
			t.Errorf("RetryAfter(%q) = %v, %v", tt.v, d, ok)
		}
	}
}

func TestValidPolicy(t *testing.T) {
	for _, tt := range []struct {
		v  string
		ok bool
	}{
		{`"client";q=50;w=1`, true},
		{`"burst";w=60;q=100`, true},
		{`"client";q=50;w=1;qu="requests";pk=:YWJj:`, true},
		{`"client";q=50;w=1, "daily";q=1000;w=86400`, true},
		{`"a\"b";q=1;w=1`, true},
		{`"client";q=50`, false},
		{`"client";w=1`, false},
		{`client;q=50;w=1`, false}, // a token, not a quoted name
		{`"client";q=50;w=1.5`, false},
		{`"client";q=-1;w=1`, false},
		{`"client";q="50";w=1`, false},
		{`"client";q=50;w=1,`, false},
		{`"client";q=50;w=1 x`, false},
		{`"client;q=50;w=1`, false},
		{`"client";Q=50;w=1`, false},
		{`q=50, w=1`, false},
		{``, false},
	} {
		if got := ratelimit.ValidPolicy(tt.v); got != tt.ok {
			t.Errorf("ValidPolicy(%q) = %v", tt.v, got)
		}
	}
}

func TestValidRateLimit(t *testing.T) {
	for _, tt := range []struct {
		v  string
		ok bool
	}{
		{`"client";r=0;t=1`, true},
		{`"client";r=12;t=0;x=?1`, true},
		{`"client";r=0`, false},
		{`"client";t=1`, false},
		{`"client";q=50;w=1`, false},
		{`"client";r=0;t=soon`, false},
		{`limit=50, remaining=0, reset=1`, false},
	} {
		if got := ratelimit.ValidRateLimit(tt.v); got != tt.ok {
			t.Errorf("ValidRateLimit(%q) = %v", tt.v, got)
		}
	}
}
