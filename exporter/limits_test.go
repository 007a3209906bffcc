package exporter

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
)

func TestRateLimit(t *testing.T) {
	ts := newTestServer(t, withTokens(testTokens), withConfig(func(c *Config) { c.Rate, c.Burst = 1, 2 }))
	// Set up with one client, so the client under test starts with a full bucket.
	admin := []string{"Authorization", "Bearer admin-token-01"}
	ts.createDataset(t, "trades", testSchema, admin...)
	ts.ingest(t, "trades", ndjson(plainRecords(1, 3)), admin...)

	reader := []string{"Authorization", "Bearer reader-token-1"}
	policy := `"client";q=2;w=2`
	for i, wantRemaining := range []int{1, 0} {
		resp, body := ts.do(t, http.MethodGet, "/v1/datasets/trades/export?format=csv", nil, reader...)
		assertStatus(t, resp, body, http.StatusOK)
		if got := resp.Header.Get("RateLimit-Policy"); got != policy {
			t.Errorf("request %d: RateLimit-Policy %q, want %q", i+1, got, policy)
		}
		if got, want := resp.Header.Get("RateLimit"), fmt.Sprintf(`"client";r=%d;t=`, wantRemaining); !strings.HasPrefix(got, want) {
			t.Errorf("request %d: RateLimit %q, want %q…", i+1, got, want)
		}
	}
	resp, body := ts.do(t, http.MethodGet, "/v1/datasets/trades/export?format=csv", nil, reader...)
	e := assertAPIError(t, resp, body, http.StatusTooManyRequests, "rate_limited")
	if !strings.Contains(e.Error.Message, "Retry-After") {
		t.Errorf("429 message %q", e.Error.Message)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q, want whole seconds >= 1", resp.Header.Get("Retry-After"))
	}
	if got := resp.Header.Get("RateLimit-Policy"); got != policy {
		t.Errorf("429: RateLimit-Policy %q, want %q", got, policy)
	}
	if got := resp.Header.Get("RateLimit"); !regexp.MustCompile(`^"client";r=0;t=[1-9][0-9]*$`).MatchString(got) {
		t.Errorf("429: RateLimit %q", got)
	}
	// The limit is per client, over all endpoints: other tokens go on, this one stays limited.
	resp, body = ts.do(t, http.MethodGet, "/v1/datasets/trades/export?format=csv", nil, "Authorization", "Bearer other-reader-1")
	assertStatus(t, resp, body, http.StatusOK)
	resp, body = ts.do(t, http.MethodPost, "/v1/datasets/trades/records", []byte(okRecord(1)), "Authorization", "Bearer writer-token-1")
	assertStatus(t, resp, body, http.StatusOK)
	resp, body = ts.do(t, http.MethodGet, "/v1/datasets/trades/export?format=pdf", nil, reader...)
	assertAPIError(t, resp, body, http.StatusTooManyRequests, "rate_limited")

	// Health and metrics are never limited.
	for range 5 {
		resp, body := ts.do(t, http.MethodGet, "/healthz", nil)
		assertStatus(t, resp, body, http.StatusOK)
	}
	if got := ts.metric(t, "exporter_requests_rejected_total", "reason", "rate_limited"); got != 2 {
		t.Errorf("rejected{rate_limited} = %v, want 2", got)
	}
	if got := ts.metric(t, "exporter_exports_total", "format", "csv", "outcome", "ok"); got != 3 {
		t.Errorf("exports{csv,ok} = %v, want 3: a limited request is not an export", got)
	}
}

func TestRateLimitByAddress(t *testing.T) {
	clock := newFakeClock()
	ts := newTestServer(t, withClock(clock), withConfig(func(c *Config) { c.Rate, c.Burst = 4, 1 }))
	resp, body := ts.do(t, http.MethodGet, "/v1/datasets/nope/export?format=csv", nil)
	assertAPIError(t, resp, body, http.StatusNotFound, "dataset_not_found")
	resp, body = ts.do(t, http.MethodPut, "/v1/datasets/x", []byte(testSchema))
	assertAPIError(t, resp, body, http.StatusTooManyRequests, "rate_limited")
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1 (the next token comes in 250ms)", got)
	}
	// Time refills the bucket, a token every 250ms, however long the requests themselves take.
	clock.Advance(200 * time.Millisecond)
	resp, body = ts.do(t, http.MethodPut, "/v1/datasets/x", []byte(testSchema))
	assertAPIError(t, resp, body, http.StatusTooManyRequests, "rate_limited")
	clock.Advance(100 * time.Millisecond)
	resp, body = ts.do(t, http.MethodPut, "/v1/datasets/x", []byte(testSchema))
	assertStatus(t, resp, body, http.StatusCreated)
}

// Failed token attempts spend their address's bucket: guessing tokens is rate limited like any
// other request, while a valid token keeps its own bucket.
func TestAuthFailuresAreRateLimited(t *testing.T) {
	ts := newTestServer(t, withTokens(testTokens), withConfig(func(c *Config) { c.Rate, c.Burst = 0.5, 3 }))
	bad := []string{"Authorization", "Bearer guess-000000"}
	for range 3 {
		resp, body := ts.do(t, http.MethodGet, "/v1/datasets/x/export?format=csv", nil, bad...)
		assertAPIError(t, resp, body, http.StatusUnauthorized, "unauthorized")
	}
	resp, body := ts.do(t, http.MethodGet, "/v1/datasets/x/export?format=csv", nil, bad...)
	assertAPIError(t, resp, body, http.StatusTooManyRequests, "rate_limited")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	resp, body = ts.do(t, http.MethodPut, "/v1/datasets/ok", []byte(testSchema), "Authorization", "Bearer admin-token-01")
	assertStatus(t, resp, body, http.StatusCreated)
	if got := ts.metric(t, "exporter_requests_rejected_total", "reason", "unauthorized"); got != 3 {
		t.Errorf("rejected{unauthorized} = %v, want 3", got)
	}
}

// The limiter's map stays bounded however many clients appear.
func TestClientLimiterIsBounded(t *testing.T) {
	l := newClientLimiter(1, 1)
	now := time.Now()
	for i := range 3 * maxBuckets {
		if ok, _, _ := l.take(fmt.Sprint("client-", i), now); !ok {
			t.Fatalf("a new client was refused its first request")
		}
	}
	if n := len(l.buckets); n > maxBuckets {
		t.Fatalf("%d buckets, want at most %d", n, maxBuckets)
	}
}

// seedLarge fills name with rows of testSchema carrying notes of noteLen bytes, in batches.
func (ts *testServer) seedLarge(t testing.TB, name string, rows, noteLen int) {
	t.Helper()
	ts.createDataset(t, name, testSchema)
	const batch = 50000
	for from := 1; from <= rows; from += batch {
		to := min(from+batch-1, rows)
		recs := plainRecords(uint64(from), uint64(to))
		for i := range recs {
			recs[i].Note = strings.Repeat("n", noteLen)
		}
		ts.ingest(t, name, ndjson(recs))
	}
}

// openStalled starts an export and reads only its headers; the body is closed when the test ends.
func openStalled(t testing.TB, ts *testServer, path string) *http.Response {
	t.Helper()
	resp := getOK(t, smallBufferClient(t, 4<<10), ts.URL+path)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestStalledReaderIsCutOff(t *testing.T) {
	ts := newTestServer(t, withTinySocketBuffers(), withConfig(func(c *Config) {
		c.WriteTimeout = 300 * time.Millisecond
		c.MaxCSVExports = 1
	}))
	ts.seedLarge(t, "big", 20000, 200) // about 5 MB of CSV, far beyond the shrunken socket buffers

	start := time.Now()
	resp := openStalled(t, ts, "/v1/datasets/big/export?format=csv")
	g := gomega.NewWithT(t)
	g.Eventually(func() float64 {
		return ts.metric(t, "exporter_exports_total", "format", "csv", "outcome", "aborted")
	}).WithTimeout(5*time.Second).WithPolling(20*time.Millisecond).Should(gomega.Equal(1.0),
		"the stalled export counted as aborted")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("cut off after %v, before the write timeout", d)
	}
	if got := ts.metric(t, "exporter_exports_in_flight", "format", "csv"); got != 0 {
		t.Errorf("in_flight{csv} = %v after the cut-off", got)
	}
	// The client got a truncated stream without trailers.
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("a cut-off export ended cleanly after %d bytes", len(body))
	}
	if resp.Trailer.Get("Export-Rows") != "" || resp.Trailer.Get("Content-Digest") != "" {
		t.Errorf("a cut-off export has trailers %v", resp.Trailer)
	}
	// The slot was released: with one CSV slot, the next export runs.
	resp2, body2 := ts.exportCSV(t, "big", "&limit=10")
	if resp2.Trailer.Get("Export-Rows") != "10" {
		t.Errorf("next export: Export-Rows %q (%d bytes)", resp2.Trailer.Get("Export-Rows"), len(body2))
	}
	for _, c := range []struct {
		outcome string
		want    float64
	}{{"ok", 1}, {"aborted", 1}, {"server_error", 0}, {"client_error", 0}} {
		if got := ts.metric(t, "exporter_exports_total", "format", "csv", "outcome", c.outcome); got != c.want {
			t.Errorf("exports{csv,%s} = %v, want %v", c.outcome, got, c.want)
		}
	}
	if got := ts.metric(t, "exporter_export_rows_total", "format", "csv"); got != 10 {
		t.Errorf("export_rows{csv} = %v, want 10: an aborted export's rows are not counted", got)
	}
}

func TestSaturation(t *testing.T) {
	ts := newTestServer(t, withTinySocketBuffers(), withConfig(func(c *Config) { c.MaxCSVExports = 1 }))
	ts.seedLarge(t, "big", 20000, 200)

	held := openStalled(t, ts, "/v1/datasets/big/export?format=csv")
	g := gomega.NewWithT(t)
	inFlight := func() float64 { return ts.metric(t, "exporter_exports_in_flight", "format", "csv") }
	g.Eventually(inFlight).WithTimeout(5*time.Second).WithPolling(20*time.Millisecond).Should(gomega.Equal(1.0),
		"the held export in flight")
	resp, body := ts.do(t, http.MethodGet, "/v1/datasets/big/export?format=csv&limit=1", nil)
	e := assertAPIError(t, resp, body, http.StatusServiceUnavailable, "saturated")
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("503 Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(e.Error.Message, "1 csv export slots") {
		t.Errorf("503 message %q", e.Error.Message)
	}
	// PDF has slots of its own.
	ts.pdfExport(t, "big", "&limit=3", 3)
	if got := ts.metric(t, "exporter_requests_rejected_total", "reason", "saturated"); got != 1 {
		t.Errorf("rejected{saturated} = %v, want 1", got)
	}

	// Once the held export ends, the slot is free again.
	held.Body.Close()
	g.Eventually(inFlight).WithTimeout(5*time.Second).WithPolling(20*time.Millisecond).Should(gomega.Equal(0.0),
		"the held export ended")
	ts.exportCSV(t, "big", "&limit=1")
	if got := ts.metric(t, "exporter_exports_total", "format", "csv", "outcome", "aborted"); got != 1 {
		t.Errorf("exports{csv,aborted} = %v, want 1 for the dropped download", got)
	}
}
