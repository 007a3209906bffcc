package pipeline

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/harness/target"
)

// measureProtection gathers the run's answers, the burst, the stalled reader, and the target's
// restarts and logs where it shows them.
func measureProtection(ctx context.Context, r *Run) (Protection, error) {
	if r.saturated == nil {
		return Protection{}, missing("the burst and saturation probes")
	}
	p := Protection{Tally: r.tally, Burst: r.burst, Waivers: r.waivers()}
	if pr := r.cfg.Profile.Protection; pr != nil && pr.OverLimit != nil {
		p.RateLimitFields = pr.OverLimit.RateLimitFields
	}
	if pr := r.cfg.Profile.Protection; pr != nil && pr.OverCapacity != nil && slices.Contains(pr.OverCapacity.Status, http.StatusTooManyRequests) {
		p.OverCapacity429 = &r.saturated.Tally
	}
	if r.endings != nil && r.endings.Stalled.Started() && !r.endings.StalledCut {
		p.Unprotected = append(p.Unprotected, stalledNotCut(*r.cfg.Limits))
	}
	if rs, ok := r.cfg.Target.(target.Restarter); ok {
		state, err := rs.Restarts(ctx)
		if err != nil {
			return p, fmt.Errorf("reading the exporter's restarts: %w", err)
		}
		p.RestartsObservable = true
		p.Restarts = state.RestartCount
		if state.Exited {
			p.Restarts++
		}
	}
	if lg, ok := r.cfg.Target.(target.Logger); ok {
		logs, err := lg.Logs(ctx)
		if err != nil {
			return p, fmt.Errorf("reading the exporter's logs: %w", err)
		}
		p.LogsObservable = true
		p.Panics = Panics(logs)
	}
	return p, nil
}

// stalledNotCut is the finding of a stalled reader the API did not cut off within the limits l.
func stalledNotCut(l profile.Limits) string {
	if l.CutAfter > 0 {
		return fmt.Sprintf("a reader that stalled past the declared cut-off (%s) was not cut off", l.CutAfter)
	}
	return fmt.Sprintf("a reader that stalled for %s was not cut off (the profile declares no cut-off: protection.stalled_reader)", l.StalledCut())
}

// Protection is what A5 judges.
type Protection struct {
	Tally    export.Tally     // every export answer of the run, the burst and saturation probes' included
	Burst    load.BurstResult // for the RateLimit and RateLimit-Policy headers of its 429s
	Restarts int              // exporter restarts seen by the target
	Panics   []string         // log lines that show a panic
	// Unprotected are protections the probes found missing, e.g. a stalled reader not cut off.
	Unprotected []string
	// RestartsObservable and LogsObservable say whether the target could report restarts and
	// logs at all; without them Restarts and Panics are not measured zeros, and A5 is NOT RUN.
	RestartsObservable, LogsObservable bool
	// RateLimitFields: the API declares RateLimit and RateLimit-Policy fields on its 429s, so the
	// burst's answers must carry them, in the documented shape.
	RateLimitFields bool
	// OverCapacity429, when the API declares 429 as its over-capacity answer, is the saturation
	// probe's own tally: its 429s with Retry-After count as over-capacity answers too.
	OverCapacity429 *export.Tally
	// Waivers are the profile's: an API known to give no over-limit (429) or over-capacity (503)
	// answer may have that measure waived, shown as waived, never as passed.
	Waivers map[string]string
}

// judgeA5 judges protection: over-limit and over-capacity requests answered 429 and 503 (or 429,
// when the API declares it its over-capacity answer) with a valid Retry-After (the 429s also with RateLimit and RateLimit-Policy of the documented shape, when the
// API's profile declares them, as v1's does), and
// both actually happened; zero other 5xx; no restart; no panic in the logs.
func judgeA5(th Thresholds, p Protection) evidence.Check {
	b := &builder{th: th}
	c := p.Tally
	b.measure("a5.rate_limited_without_retry_after", float64(c.NoRetryAfter[http.StatusTooManyRequests]), "responses")
	saturated, noRetry := c.Status[http.StatusServiceUnavailable], c.NoRetryAfter[http.StatusServiceUnavailable]
	limited := c.Status[http.StatusTooManyRequests]
	if s := p.OverCapacity429; s != nil { // the probe's 429s answer capacity, not the rate limit
		saturated += s.Status[http.StatusTooManyRequests]
		noRetry += s.NoRetryAfter[http.StatusTooManyRequests]
		limited -= s.Status[http.StatusTooManyRequests]
	}
	b.measure("a5.saturated_without_retry_after", float64(noRetry), "responses")
	b.measure("a5.rate_limited_responses", float64(limited), "responses")
	b.measure("a5.saturated_responses", float64(saturated), "responses")
	b.measure("a5.server_errors", float64(c.ServerErrors()), "responses")
	for _, m := range []string{"a5.rate_limited_responses", "a5.saturated_responses"} {
		b.waive(m, p.Waivers[m])
	}
	var unobservable []string
	if p.RestartsObservable {
		b.measure("a5.restarts", float64(p.Restarts), "restarts")
	} else {
		unobservable = append(unobservable, "restarts")
	}
	if p.LogsObservable {
		b.measure("a5.panics_in_logs", float64(len(p.Panics)), "lines")
	} else {
		unobservable = append(unobservable, "logs")
	}
	if len(unobservable) > 0 {
		b.notRun = "the target does not let the harness observe the exporter's " + strings.Join(unobservable, " or ")
	}
	bad := false
	if n := p.Burst.RateLimited - p.Burst.WithRateLimit; n > 0 && p.RateLimitFields {
		b.fail(`%d of the burst's 429 answers lack a valid RateLimit header ("<name>";r=<int>;t=<int>)`, n)
		bad = true
	}
	if n := p.Burst.RateLimited - p.Burst.WithRateLimitPolicy; n > 0 && p.RateLimitFields {
		b.fail(`%d of the burst's 429 answers lack a valid RateLimit-Policy header ("<name>";q=<int>;w=<int>)`, n)
		bad = true
	}
	if h := p.Burst.Example; h != nil && (bad || c.NoRetryAfter[http.StatusTooManyRequests] > 0) {
		b.explain(fmt.Sprintf("first 429 of the burst: Retry-After: %q, RateLimit: %q, RateLimit-Policy: %q",
			h.Get("Retry-After"), h.Get("RateLimit"), h.Get("RateLimit-Policy")))
	}
	for _, s := range slices.Sorted(maps.Keys(c.Status)) {
		if s >= 500 && s != http.StatusServiceUnavailable {
			b.explain(fmt.Sprintf("%d answers HTTP %d", c.Status[s], s))
		}
	}
	for _, u := range p.Unprotected {
		b.fail("%s", u)
	}
	b.explain(p.Panics...)
	return b.check()
}

var a5Check = define(Def{ID: "A5", Title: "protected",
	Spec:   "protected: 429 and 503 with Retry-After, stalled readers cut off, no 5xx, no restart, no panic",
	Labels: []string{"assert", "A5"}, Applies: always}, measureProtection, judgeA5)
