package load_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/harness/load"
	"github.com/exportatscale/exportatscale/harness/seed"
)

func TestPercentiles(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	got := load.Percentiles(s)
	want := load.Latencies{Count: 100, P50: 50 * time.Millisecond, P90: 90 * time.Millisecond,
		P95: 95 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := load.Percentiles([]time.Duration{7, 3, 5}); got.P50 != 5 || got.P95 != 7 || got.Max != 7 {
		t.Errorf("three samples: %+v", got)
	}
	if got := load.Percentiles(nil); got != (load.Latencies{}) {
		t.Errorf("no samples: %+v", got)
	}
}

// start runs a fake exporter with cfg, seeds dataset with recs (schema) and returns a client.
func start(t *testing.T, cfg fake.Config, dataset string, schema seed.Schema, recs []seed.Record) *export.Client {
	t.Helper()
	srv := fake.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := &seed.Client{BaseURL: srv.URL}
	if _, err := sc.CreateDataset(ctx, dataset, schema); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Seed(ctx, seed.Job{Dataset: dataset, Schema: schema, Records: recs, Mode: seed.ModeBatch, ChunkSize: 500}); err != nil {
		t.Fatal(err)
	}
	return &export.Client{BaseURL: srv.URL}
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
			res, err := load.Run(context.Background(), load.Config{
				Client: c, Requests: 20, Concurrency: 4, PDFShare: 0.25,
				CSV: expect(t, "trades", seed.Trades(), recs, export.Options{}),
				PDF: expect(t, "trades", seed.Trades(), recs, export.Options{}),
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
					res.RowsPerSecond <= 0 || res.Counts.Completed[export.CSV] != 15 || res.CSVTotals.Exports != 15 {
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
			c.Token = "burst" // the seeding used another bucket
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
			if res.WithRetryAfter != want || res.Counts.NoRetryAfter[429] != wantMissing {
				t.Errorf("%d with a valid Retry-After, %d counted without; want %d", res.WithRetryAfter, res.Counts.NoRetryAfter[429], want)
			}
			if res.Counts.Status[429] != res.RateLimited || res.Counts.Rows[export.CSV] != int64(res.OK) {
				t.Errorf("counts %+v", res.Counts)
			}
		})
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
	res := load.Burst(context.Background(), load.BurstConfig{Client: &export.Client{BaseURL: srv.URL}, Requests: 5,
		Expected: expect(t, "trades", seed.Trades(), recs, export.Options{Limit: 1})})
	if res.RateLimited != 5 || res.WithRetryAfter != 5 || res.WithRateLimit != 0 || res.WithRateLimitPolicy != 0 {
		t.Errorf("result %+v", res)
	}
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
	if res.Counts.Completed[export.CSV] != 2 || res.Counts.Rows[export.CSV] != 4000 || res.CSVTotals.Missing != 0 {
		t.Errorf("counts %+v totals %+v", res.Counts, res.CSVTotals)
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
	if res.Held != 4 || res.Saturated != 1 || len(res.Failures) != 0 || res.Counts.Completed[export.CSV] != 4 {
		t.Errorf("write timeout %s: result %+v", timeout, res)
	}
}
