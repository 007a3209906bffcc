package load_test

import (
	"context"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/seed"
)

// checkAnswers requires one answer per request, statuses that add up to the counts, and times
// inside the probe.
func checkAnswers(t *testing.T, answers []load.Answer, dropped int, start time.Time, elapsed time.Duration, want map[int]int) {
	t.Helper()
	if start.IsZero() || dropped != 0 {
		t.Errorf("start %v, %d answers dropped", start, dropped)
	}
	got := map[int]int{}
	for _, a := range answers {
		got[a.Status]++
		if a.At <= 0 || a.At > elapsed {
			t.Errorf("answer %+v outside the probe's %s", a, elapsed)
		}
	}
	for st, n := range want {
		if got[st] != n {
			t.Errorf("%d answers %d, want %d (all: %v)", got[st], st, n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("answers by status %v, want %v", got, want)
	}
}

func TestBurstAnswers(t *testing.T) {
	recs := seed.Generate(5, 20, 1)
	c := start(t, fake.Config{Rate: 5, Burst: 10}, "trades", seed.Trades(), recs)
	otherBucket(c)
	res := load.Burst(context.Background(), load.BurstConfig{
		Client: c, Requests: 40, Expected: expect(t, "trades", seed.Trades(), recs, export.Options{Limit: 1})})
	if len(res.Answers) != res.Sent {
		t.Fatalf("%d answers for %d requests", len(res.Answers), res.Sent)
	}
	checkAnswers(t, res.Answers, res.AnswersDropped, res.Start, res.Elapsed, map[int]int{200: res.OK, 429: res.RateLimited})
}

func TestSaturateAnswers(t *testing.T) {
	schema, recs := bulky(2000)
	c := start(t, fake.Config{MaxCSV: 2}, "bulk", schema, recs)
	res, err := load.Saturate(context.Background(), load.SaturationConfig{
		Client: c, Format: export.CSV, Hold: 4, Extra: 3, Expected: expect(t, "bulk", schema, recs, export.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	checkAnswers(t, res.Answers, res.AnswersDropped, res.Start, res.Elapsed, map[int]int{200: res.Held, 503: res.Saturated})
	// A held export answers when its header arrives, before the extra requests fired while it is
	// held, whose 503s come last; not when it is released and read.
	var last200, last503 time.Duration
	for _, a := range res.Answers {
		switch a.Status {
		case 200:
			last200 = max(last200, a.At)
		case 503:
			last503 = max(last503, a.At)
		}
	}
	if last200 >= last503 {
		t.Errorf("the held exports answered at up to %s, after the last 503 at %s", last200, last503)
	}
}
