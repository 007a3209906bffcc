package exporter

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

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

// Rejected records never reach the log: only the error code and line number do.
func TestLogsNeverQuoteRecords(t *testing.T) {
	sink := &logSink{}
	cfg := testConfig(t.TempDir())
	store := openTestStore(t, cfg)
	srv, err := NewServer(cfg, store, slog.New(slog.NewJSONHandler(sink, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, store: store}
	hs := startRaw(t, srv)
	ts.URL, ts.client = hs.URL, hs.Client()
	ts.createDataset(t, "trades", testSchema)
	secret := "SECRET-" + strings.Repeat("9", 30)
	for _, body := range []string{
		`{"id":1,"qty":"` + secret + `"}`,
		`{"id":1,"` + secret + `":1}`,
		`{"id":` + strings.Repeat("9", 40) + `}`,
	} {
		resp, out := ts.do(t, http.MethodPost, "/v1/datasets/trades/records", []byte(body), "Content-Type", "application/json")
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
	}
	if bytes.Contains(sink.Bytes(), []byte("SECRET")) || bytes.Contains(sink.Bytes(), []byte(strings.Repeat("9", 30))) {
		t.Fatalf("the log quotes record contents:\n%s", sink.String())
	}
	if !bytes.Contains(sink.Bytes(), []byte(`"error":"invalid_record"`)) {
		t.Fatalf("the log lacks the error code:\n%s", sink.String())
	}
}

// The record gauge is read from the store at scrape time, so it is exact after concurrent ingest.
func TestStoreRecordsGaugeIsExact(t *testing.T) {
	ts := newTestServer(t)
	ts.createDataset(t, "trades", testSchema)
	done := make(chan struct{})
	for w := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 25 {
				rec := plainRecord(uint64(w*25 + i + 1))
				ts.do(t, http.MethodPost, "/v1/datasets/trades/records", rec.JSON(), "Content-Type", "application/json")
			}
		}()
	}
	for range 8 {
		<-done
	}
	if got := ts.metric(t, "exporter_store_records", "dataset", "trades"); got != 200 {
		t.Fatalf("exporter_store_records = %v, want 200", got)
	}
}

func startRaw(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs
}
