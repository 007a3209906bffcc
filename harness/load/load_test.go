package load_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/api"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/seed"
)

func TestPercentiles(t *testing.T) {
	var s []float64
	for i := 100; i >= 1; i-- {
		s = append(s, float64(i))
	}
	got := load.Percentiles(s)
	want := load.Distribution{Count: 100, P5: 5, P50: 50, P95: 95, P99: 99, Max: 100}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := load.Percentiles([]float64{7, 3, 5}); got.P5 != 3 || got.P50 != 5 || got.P95 != 7 || got.Max != 7 {
		t.Errorf("three samples: %+v", got)
	}
	if got := load.Percentiles(nil); got != (load.Distribution{}) {
		t.Errorf("no samples: %+v", got)
	}
}

func TestPlan(t *testing.T) {
	a, b, p := &export.Expected{}, &export.Expected{}, &export.Expected{}
	jobs := load.Plan(8, 0.25, []*export.Expected{a, b}, []*export.Expected{p})
	var got []string
	for _, j := range jobs {
		name := map[*export.Expected]string{a: "a", b: "b", p: "p"}[j.Expected]
		got = append(got, j.Format+":"+name)
	}
	if want := "csv:a csv:b csv:a pdf:p csv:b csv:a csv:b pdf:p"; strings.Join(got, " ") != want {
		t.Errorf("plan %v, want %s", got, want)
	}
}

// start runs a fake exporter with cfg, seeds dataset with recs (schema) and returns a client.
func start(t *testing.T, cfg fake.Config, dataset string, schema seed.Schema, recs []seed.Record) *export.Client {
	t.Helper()
	srv := fake.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := &seed.Client{API: api.V1(srv.URL, "")}
	if _, err := sc.CreateDataset(ctx, dataset, schema); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Seed(ctx, seed.Job{Dataset: dataset, Schema: schema, Records: recs, Mode: seed.ModeBatch, ChunkSize: 500}); err != nil {
		t.Fatal(err)
	}
	return &export.Client{API: api.V1(srv.URL, "")}
}

func expect(t *testing.T, dataset string, schema seed.Schema, recs []seed.Record, opt export.Options) *export.Expected {
	t.Helper()
	e, err := export.NewExpected(dataset, schema, recs, opt)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRun(t *testing.T) {
	recs := seed.Generate(5, 200, 1)
	for _, tt := range []struct {
		name       string
		faults     fake.Faults
		failed     int
		errorKinds string
	}{
		{"healthy", fake.Faults{}, 0, ""},
		{"500 every 4th", fake.Faults{ErrorEvery: 4}, 5, "status_500"},
		{"truncated", fake.Faults{TruncateAfter: 10}, 15, "truncated"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t, fake.Config{Faults: tt.faults}, "trades", seed.Trades(), recs)
			full := expect(t, "trades", seed.Trades(), recs, export.Options{})
			res, _, err := load.Run(context.Background(), load.Config{
				Client: c, Concurrency: 4, Jobs: load.Plan(20, 0.25, []*export.Expected{full}, []*export.Expected{full}),
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.CSV.Requests != 15 || res.PDF.Requests != 5 || res.Failed != tt.failed {
				t.Fatalf("result %+v", res)
			}
			for kind := range res.Errors {
				if kind != tt.errorKinds {
					t.Errorf("error kinds %v", res.Errors)
				}
			}
			if tt.failed == 0 {
				if res.CSV.Latency.Count != 15 || res.CSV.Rows != 15*200 || res.PDF.Rows != 5*200 ||
					res.RowsPerSecond <= 0 || res.Tally.Completed[export.CSV] != 15 || res.Tally.CSV.Exports != 15 {
					t.Errorf("result %+v", res)
				}
			}
		})
	}
}

func TestBurst(t *testing.T) {
	recs := seed.Generate(5, 20, 1)
	for _, tt := range []struct {
		name       string
		faults     fake.Faults
		retryAfter bool // the 429s carry a valid Retry-After
	}{
		{"healthy", fake.Faults{}, true},
		{"no Retry-After", fake.Faults{NoRetryAfter: true}, false},
		{"Retry-After: 5abc", fake.Faults{RetryAfter: "5abc"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t, fake.Config{Rate: 5, Burst: 10, Faults: tt.faults}, "trades", seed.Trades(), recs)
			otherBucket(c) // the seeding used another bucket
			res := load.Burst(context.Background(), load.BurstConfig{
				Client: c, Requests: 40, Expected: expect(t, "trades", seed.Trades(), recs, export.Options{Limit: 1})})
			if res.Sent != 40 || res.OK < 10 || res.RateLimited < 20 || res.OK+res.RateLimited != 40 ||
				res.WithRateLimit != res.RateLimited || res.WithRateLimitPolicy != res.RateLimited {
				t.Errorf("result %+v", res)
			}
			want, wantMissing := res.RateLimited, 0
			if !tt.retryAfter {
				want, wantMissing = 0, res.RateLimited
			}
			if res.WithRetryAfter != want || res.Tally.NoRetryAfter[429] != wantMissing {
				t.Errorf("%d with a valid Retry-After, %d counted without; want %d", res.WithRetryAfter, res.Tally.NoRetryAfter[429], want)
			}
			if res.Tally.Status[429] != res.RateLimited || res.Tally.Rows[export.CSV] != int64(res.OK) {
				t.Errorf("counts %+v", res.Tally)
			}
		})
	}
}

// TestBurstEnough stops the burst once enough 429s came, however many requests it was allowed.
func TestBurstEnough(t *testing.T) {
	recs := seed.Generate(5, 20, 1)
	c := start(t, fake.Config{Rate: 5, Burst: 10}, "trades", seed.Trades(), recs)
	otherBucket(c)
	res := load.Burst(context.Background(), load.BurstConfig{Client: c, Requests: 5000, Concurrency: 4, Enough: 8,
		Expected: expect(t, "trades", seed.Trades(), recs, export.Options{Limit: 1})})
	// The feed stops at the 8th 429; requests already in flight then still arrive.
	if res.RateLimited < 8 || res.Sent > 10+8+4+5*int(res.Elapsed.Seconds()+1) {
		t.Errorf("sent %d, %d rate-limited, in %s; want it to stop soon after 8", res.Sent, res.RateLimited, res.Elapsed)
	}
}

// TestBurstRateLimitShape answers every request 429 with RateLimit fields of an older draft's
// shape: present, but not the documented structured fields.
func TestBurstRateLimitShape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("RateLimit", "limit=10, remaining=0, reset=1")
		w.Header().Set("RateLimit-Policy", "10;w=1")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	recs := seed.Generate(5, 1, 1)
	res := load.Burst(context.Background(), load.BurstConfig{Client: &export.Client{API: api.V1(srv.URL, "")}, Requests: 5,
		Expected: expect(t, "trades", seed.Trades(), recs, export.Options{Limit: 1})})
	if res.RateLimited != 5 || res.WithRetryAfter != 5 || res.WithRateLimit != 0 || res.WithRateLimitPolicy != 0 {
		t.Errorf("result %+v", res)
	}
}

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
			t.Errorf("status %d answered %d times, want %d (all: %v)", st, got[st], n, got)
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

// bulky returns records of one big string column, so an export cannot fit in socket buffers.
func bulky(n int) (seed.Schema, []seed.Record) {
	schema := seed.Schema{{Name: "blob", Type: seed.TypeString}}
	recs := make([]seed.Record, n)
	for i := range recs {
		recs[i] = seed.Record{ID: int64(i + 1), Values: []any{strings.Repeat("x, \"y\"\n", 2000)}}
	}
	return schema, recs
}

func TestSaturate(t *testing.T) {
	schema, recs := bulky(2000) // ~32 MB of CSV
	c := start(t, fake.Config{MaxCSV: 2}, "bulk", schema, recs)
	res, err := load.Saturate(context.Background(), load.SaturationConfig{
		Client: c, Format: export.CSV, Hold: 4, Extra: 3, Expected: expect(t, "bulk", schema, recs, export.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	if res.Held != 2 || res.Saturated != 5 || res.WithRetryAfter != 5 || res.ServerErrors != 0 || len(res.Failures) != 0 {
		t.Errorf("result %+v", res)
	}
	if res.Tally.Completed[export.CSV] != 2 || res.Tally.Rows[export.CSV] != 4000 || res.Tally.CSV.Missing != 0 {
		t.Errorf("counts %+v totals %+v", res.Tally, res.Tally.CSV)
	}
}

// TestSaturateReleasesTogether holds exports under a write timeout of one and a half times what one
// export takes to read on this machine: read one after another, the third and fourth would stall
// past it and be cut off; read together, none is.
func TestSaturateReleasesTogether(t *testing.T) {
	schema, recs := bulky(2000)
	exp := expect(t, "bulk", schema, recs, export.Options{})
	probe := start(t, fake.Config{}, "bulk", schema, recs)
	began := time.Now()
	if r := probe.CSV(context.Background(), exp); r.Failure() != "" {
		t.Fatal(r.Failure())
	}
	timeout := time.Since(began) * 3 / 2

	c := start(t, fake.Config{MaxCSV: 4, WriteTimeout: timeout}, "bulk", schema, recs)
	res, err := load.Saturate(context.Background(), load.SaturationConfig{
		Client: c, Format: export.CSV, Hold: 4, Extra: 1, Expected: exp})
	if err != nil {
		t.Fatal(err)
	}
	if res.Held != 4 || res.Saturated != 1 || len(res.Failures) != 0 || res.Tally.Completed[export.CSV] != 4 {
		t.Errorf("write timeout %s: result %+v", timeout, res)
	}
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

// TestStreamRate shows the timed path measuring the exporter's pace: a fake that writes every body
// at 2 MiB/s streams at about that rate, a healthy one far faster, and verification (off the
// clock) finds both exports right.
func TestStreamRate(t *testing.T) {
	recs := seed.Generate(11, 3000, 1) // about 370 kB of CSV
	for _, tt := range []struct {
		name string
		rate float64
	}{{"healthy", 0}, {"2 MiB/s", 2 << 20}} {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t, fake.Config{Faults: fake.Faults{StreamRate: tt.rate}}, "trades", seed.Trades(), recs)
			full := expect(t, "trades", seed.Trades(), recs, export.Options{})
			res, _, err := load.Run(context.Background(), load.Config{Client: c, Concurrency: 2,
				Jobs: load.Plan(6, 0, []*export.Expected{full}, nil)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed != 0 || res.CSV.StreamRate.Count != 6 {
				t.Fatalf("failed %d (%v), %d rates", res.Failed, res.Examples, res.CSV.StreamRate.Count)
			}
			p50 := res.CSV.StreamRate.P50
			if tt.rate > 0 && (p50 > 1.5*tt.rate || p50 < 0.5*tt.rate) {
				t.Errorf("median stream %.2f MiB/s, the fake writes at %.2f MiB/s", p50/(1<<20), tt.rate/(1<<20))
			}
			if tt.rate == 0 && p50 < 8<<20 {
				t.Errorf("healthy median stream %.2f MiB/s: the timed path is slower than an in-process fake", p50/(1<<20))
			}
		})
	}
}

// TestCeiling replays what a slow fake sent: the replay is whole and right (same bodies, same
// trailers), far faster than the fake, so the run is not called bound by the instrument.
func TestCeiling(t *testing.T) {
	recs := seed.Generate(12, 3000, 1)
	c := start(t, fake.Config{Faults: fake.Faults{StreamRate: 2 << 20}}, "trades", seed.Trades(), recs)
	full := expect(t, "trades", seed.Trades(), recs, export.Options{})
	cols := expect(t, "trades", seed.Trades(), recs, export.Options{Columns: []string{"note"}, Limit: 1000})
	cfg := load.Config{Client: c, Concurrency: 2, Jobs: load.Plan(8, 0.25, []*export.Expected{full, cols}, []*export.Expected{cols})}
	res, replay, err := load.Run(context.Background(), cfg)
	if err != nil || res.Failed != 0 {
		t.Fatalf("run: %v, %d failed %v", err, res.Failed, res.Examples)
	}
	if len(replay) != 3 {
		t.Errorf("captured %d queries, want 3", len(replay))
	}
	ceiling, err := load.Ceiling(context.Background(), cfg, replay, res)
	if err != nil {
		t.Fatal(err)
	}
	if ceiling.Failed != 0 || ceiling.CSV.OK != 6 || ceiling.PDF.OK != 2 || ceiling.CSV.Rows != res.CSV.Rows {
		t.Errorf("ceiling %+v", ceiling)
	}
	if ceiling.Fraction <= 0 || ceiling.Fraction >= load.BoundFraction || ceiling.InstrumentBound {
		t.Errorf("fraction %.3f, bound %v: a 2 MiB/s fake is far below an in-process replay", ceiling.Fraction, ceiling.InstrumentBound)
	}
	// What the replay serves verifies exactly as the exporter's answer did.
	srv := httptest.NewServer(replay)
	defer srv.Close()
	for _, exp := range []*export.Expected{full, cols} {
		if r := (&export.Client{API: api.V1(srv.URL, "")}).CSV(context.Background(), exp); r.Failure() != "" {
			t.Errorf("replayed CSV: %s %v", r.Failure(), r.Examples)
		}
	}
	if r := (&export.Client{API: api.V1(srv.URL, "")}).PDF(context.Background(), cols); r.Failure() != "" {
		t.Errorf("replayed PDF: %s %v", r.Failure(), r.Examples)
	}
}

// TestBadEndings: against a fake that cuts stalled readers off, the abandoned and the stalled
// export are both cut and the bad query is refused; against one whose write timeout never comes,
// the stalled reader is reported as not cut off.
func TestBadEndings(t *testing.T) {
	schema := seed.Schema{{Name: "blob", Type: seed.TypeString}}
	var recs []seed.Record
	for i := range 1000 {
		recs = append(recs, seed.Record{ID: int64(i + 1), Values: []any{strings.Repeat("x", 16<<10)}})
	}
	stall := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ReadBufferSize: 4 << 10}}
	for _, tt := range []struct {
		name    string
		timeout time.Duration
		cut     bool
	}{{"write timeout", 300 * time.Millisecond, true}, {"no write timeout", time.Hour, false}} {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t, fake.Config{WriteTimeout: tt.timeout}, "bulk", schema, recs)
			res := load.BadEndings(context.Background(), load.BadEndingsConfig{Client: c,
				Stall:    &export.Client{API: c.API, HTTP: stall},
				Expected: expect(t, "bulk", schema, recs, export.Options{}), WriteTimeout: 300 * time.Millisecond,
				StallGrace: 700 * time.Millisecond, Refused: export.Refused("bulk", export.Options{Columns: []string{"nope"}})})
			if !res.Abandoned.Started() || res.Abandoned.Complete || res.AbandonedAfter < 256<<10 {
				t.Errorf("abandoned %+v after %d bytes", res.Abandoned, res.AbandonedAfter)
			}
			if res.Refused.Status != http.StatusBadRequest || res.Tally.ClientError[export.CSV] != 1 {
				t.Errorf("refused: status %d, client errors %v", res.Refused.Status, res.Tally.ClientError)
			}
			if res.StalledCut != tt.cut || (len(res.Failures) == 0) == !tt.cut {
				t.Errorf("stalled cut %v, want %v; failures %q", res.StalledCut, tt.cut, res.Failures)
			}
			wantCut := 1
			if tt.cut {
				wantCut = 2
			}
			if res.Tally.Cut[export.CSV] != wantCut {
				t.Errorf("cut %d, want %d", res.Tally.Cut[export.CSV], wantCut)
			}
		})
	}
}

// TestProxyFaults puts the fault proxy in front of a healthy fake: the exports still verify in
// full (header, body, trailers), but the timed path sees the held first byte and the paced stream.
func TestProxyFaults(t *testing.T) {
	recs := seed.Generate(13, 3000, 1)
	c := start(t, fake.Config{}, "trades", seed.Trades(), recs)
	u, err := url.Parse(c.API.(*api.API).Base())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(fake.Proxy(u, fake.Faults{StreamRate: 2 << 20, FirstByteDelay: 300 * time.Millisecond}))
	defer proxy.Close()
	full := expect(t, "trades", seed.Trades(), recs, export.Options{})
	res, _, err := load.Run(context.Background(), load.Config{Client: &export.Client{API: api.V1(proxy.URL, "")}, Concurrency: 2,
		Jobs: load.Plan(4, 0.25, []*export.Expected{full}, []*export.Expected{full})})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 {
		t.Fatalf("%d failed through the proxy: %v", res.Failed, res.Examples)
	}
	if fb := res.CSV.FirstByte.P5; fb < 0.3 {
		t.Errorf("first byte after %.3f s, the proxy holds it 0.3 s", fb)
	}
	if p50 := res.CSV.StreamRate.P50; p50 > 3<<20 {
		t.Errorf("median stream %.2f MiB/s, the proxy paces it at 2 MiB/s", p50/(1<<20))
	}
}

// TestRunHonoursRateLimit: the load sends an export the exporter refused with 429 again after its
// Retry-After, so a limit met under load fails nothing, and the refusals are still counted; a
// Retry-After past what the load waits for fails the export.
//
// The limit the load meets is met by one worker: it spends the bucket's 4 tokens, is refused, and
// after the Retry-After of 1 s finds the bucket full again, so each export is refused at most once.
// Four workers against the same bucket would race for it after each wait, and one could lose
// four times in a row (a fourth 429 fails the export): the test failed so about once in 20 runs.
func TestRunHonoursRateLimit(t *testing.T) {
	recs := seed.Generate(5, 50, 1)
	for _, tt := range []struct {
		name        string
		rate        float64
		concurrency int
		failed      bool
	}{
		{"a limit the load meets", 40, 1, false},
		{"a limit too low to wait for", 0.1, 4, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t, fake.Config{Rate: tt.rate, Burst: 4}, "trades", seed.Trades(), recs)
			full := expect(t, "trades", seed.Trades(), recs, export.Options{})
			res, _, err := load.Run(context.Background(), load.Config{
				Client: c, Concurrency: tt.concurrency, Jobs: load.Plan(16, 0, []*export.Expected{full}, nil),
			})
			if err != nil {
				t.Fatal(err)
			}
			refused := res.Tally.Status[http.StatusTooManyRequests]
			if tt.failed {
				if res.Failed == 0 || res.Errors["status_429"] != res.Failed || res.RateLimitedRetries != 0 {
					t.Fatalf("failed %d %v, retried %d; want 429s failed, none retried", res.Failed, res.Errors, res.RateLimitedRetries)
				}
				return
			}
			if res.Failed != 0 || res.RateLimitedRetries == 0 || refused != res.RateLimitedRetries || len(res.Tally.NoRetryAfter) != 0 {
				t.Fatalf("failed %d %v, retried %d, 429s tallied %d; want none failed, the retried 429s tallied",
					res.Failed, res.Errors, res.RateLimitedRetries, refused)
			}
			if res.CSV.OK != 16 || res.CSV.Rows != 16*50 {
				t.Errorf("OK %d rows %d", res.CSV.OK, res.CSV.Rows)
			}
		})
	}
}

// otherBucket gives c a token of its own, so its requests draw on another bucket of the fake's
// rate limiter than the seeding's.
func otherBucket(c *export.Client) { c.API = api.V1(c.API.(*api.API).Base(), "burst") }
