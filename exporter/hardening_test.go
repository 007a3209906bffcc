package exporter

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

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
