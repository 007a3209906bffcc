package pipeline

import (
	"net/http"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

func TestA5(t *testing.T) {
	th := testkit.Thresholds(t)
	var healthy export.Tally
	ok := http.Header{"Retry-After": {"1"}}
	healthy.Add(export.Fetch{Format: export.CSV, Status: http.StatusTooManyRequests, Header: ok})
	healthy.Add(export.Fetch{Format: export.CSV, Status: http.StatusServiceUnavailable, Header: ok})
	burst := load.BurstResult{RateLimited: 1, WithRetryAfter: 1, WithRateLimit: 1, WithRateLimitPolicy: 1}
	observed := Protection{Tally: healthy, Burst: burst, RestartsObservable: true, LogsObservable: true, RateLimitFields: true}
	if c := judgeA5(th, observed); c.Status != evidence.StatusPassed || !hasMeasure(c, "a5.restarts") || !hasMeasure(c, "a5.panics_in_logs") {
		t.Errorf("healthy: %+v", c)
	}

	blind := observed
	blind.RestartsObservable, blind.LogsObservable = false, false
	c := judgeA5(th, blind)
	if c.Status != evidence.StatusNotRun || hasMeasure(c, "a5.restarts") || hasMeasure(c, "a5.panics_in_logs") ||
		!mentions(c.Failures, "restarts or logs") {
		t.Errorf("nothing observable: %+v", c)
	}
	blind.LogsObservable = true
	if c := judgeA5(th, blind); c.Status != evidence.StatusNotRun || hasMeasure(c, "a5.restarts") || !hasMeasure(c, "a5.panics_in_logs") {
		t.Errorf("restarts not observable: %+v", c)
	}
	blind.Tally.Add(export.Fetch{Format: export.CSV, Status: http.StatusInternalServerError})
	if c := judgeA5(th, blind); c.Status != evidence.StatusFailed {
		t.Errorf("not observable, but a 500: %+v", c)
	}

	shapeless := observed
	shapeless.Burst.WithRateLimit, shapeless.Burst.WithRateLimitPolicy = 0, 0
	shapeless.Burst.Example = http.Header{"Ratelimit": {"limit=10, remaining=0"}}
	c = judgeA5(th, shapeless)
	lines := strings.Join(c.Failures, "\n")
	if c.Status != evidence.StatusFailed || !strings.Contains(lines, "valid RateLimit header") ||
		!strings.Contains(lines, "valid RateLimit-Policy header") || !strings.Contains(lines, `RateLimit: "limit=10, remaining=0"`) {
		t.Errorf("invalid RateLimit fields: %+v", c)
	}
	shapeless.RateLimitFields = false // an API that does not declare them is not judged on them
	if c := judgeA5(th, shapeless); c.Status != evidence.StatusPassed {
		t.Errorf("RateLimit fields not declared, yet judged: %+v", c)
	}

	// An API whose over-capacity answer is 429: the saturation probe's 429s with Retry-After count
	// as over-capacity answers only when it declares so, and without Retry-After they fail.
	var limited, probe export.Tally
	limited.Add(export.Fetch{Format: export.CSV, Status: http.StatusTooManyRequests, Header: ok})
	probe.Add(export.Fetch{Format: export.CSV, Status: http.StatusTooManyRequests, Header: ok})
	only429 := Protection{Tally: limited, Burst: burst, RestartsObservable: true, LogsObservable: true}
	if c := judgeA5(th, only429); c.Status != evidence.StatusFailed || !mentions(c.Failures, "a5.saturated_responses") {
		t.Errorf("429 everywhere, over-capacity 429 not declared: %+v", c)
	}
	only429.Tally.Merge(probe) // the whole run's tally holds the probe's answers too
	only429.OverCapacity429 = &probe
	if c := judgeA5(th, only429); c.Status != evidence.StatusPassed {
		t.Errorf("over-capacity 429 declared, answered with Retry-After: %+v", c)
	}
	noLimiter := Protection{Tally: probe, Burst: burst, RestartsObservable: true, LogsObservable: true, OverCapacity429: &probe}
	if c := judgeA5(th, noLimiter); c.Status != evidence.StatusFailed || !mentions(c.Failures, "a5.rate_limited_responses") {
		t.Errorf("only the saturation probe's 429s, no rate limit: %+v", c)
	}
	var bare export.Tally
	bare.Add(export.Fetch{Format: export.CSV, Status: http.StatusTooManyRequests})
	only429.OverCapacity429 = &bare
	if c := judgeA5(th, only429); c.Status != evidence.StatusFailed {
		t.Errorf("over-capacity 429 declared, answered without Retry-After: %+v", c)
	}
}
