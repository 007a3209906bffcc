package exporter

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestRouting(t *testing.T) {
	ts := newTestServer(t)
	ts.seedTestDataset(t, "trades", plainRecords(1, 2))
	tests := []struct {
		name   string
		method string
		path   string
		status int
		code   string
		allow  string
	}{
		{"DELETE dataset", http.MethodDelete, "/v1/datasets/trades", 405, "method_not_allowed", "PUT"},
		{"GET dataset", http.MethodGet, "/v1/datasets/trades", 405, "method_not_allowed", "PUT"},
		{"POST dataset", http.MethodPost, "/v1/datasets/trades", 405, "method_not_allowed", "PUT"},
		{"GET records", http.MethodGet, "/v1/datasets/trades/records", 405, "method_not_allowed", "POST"},
		{"PUT records", http.MethodPut, "/v1/datasets/trades/records", 405, "method_not_allowed", "POST"},
		{"POST export", http.MethodPost, "/v1/datasets/trades/export?format=csv", 405, "method_not_allowed", "GET"},
		{"DELETE export", http.MethodDelete, "/v1/datasets/trades/export?format=csv", 405, "method_not_allowed", "GET"},
		{"root", http.MethodGet, "/", 404, "not_found", ""},
		{"unknown path", http.MethodGet, "/nope", 404, "not_found", ""},
		{"no version", http.MethodGet, "/datasets/trades/export?format=csv", 404, "not_found", ""},
		{"v2", http.MethodGet, "/v2/datasets/trades/export?format=csv", 404, "not_found", ""},
		{"dataset list", http.MethodGet, "/v1/datasets", 404, "not_found", ""},
		{"dataset list slash", http.MethodGet, "/v1/datasets/", 404, "not_found", ""},
		{"unknown sub-resource", http.MethodGet, "/v1/datasets/trades/rows", 404, "not_found", ""},
		{"too deep", http.MethodGet, "/v1/datasets/trades/export/csv", 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do(t, tt.method, tt.path, nil)
			e := assertAPIError(t, resp, body, tt.status, tt.code)
			if tt.allow != "" {
				if got := resp.Header.Get("Allow"); got != tt.allow {
					t.Errorf("Allow %q, want %q", got, tt.allow)
				}
				if !strings.Contains(e.Error.Message, tt.method) {
					t.Errorf("message %q does not name the method", e.Error.Message)
				}
			}
		})
	}
}

func TestHealthAndDrain(t *testing.T) {
	ts := newTestServer(t)
	ts.seedTestDataset(t, "trades", plainRecords(1, 2))
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, body := ts.do(t, http.MethodGet, path, nil)
		assertStatus(t, resp, body, http.StatusOK)
		var got map[string]string
		if err := json.Unmarshal(body, &got); err != nil || got["status"] == "" {
			t.Errorf("%s body %q", path, body)
		}
	}

	ts.srv.Drain()
	resp, body := ts.do(t, http.MethodGet, "/readyz", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "shutting down") {
		t.Errorf("/readyz while draining: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.do(t, http.MethodGet, "/healthz", nil)
	assertStatus(t, resp, body, http.StatusOK)
	for _, req := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/datasets/trades/export?format=csv", ""},
		{http.MethodPost, "/v1/datasets/trades/records", okRecord(9)},
		{http.MethodPut, "/v1/datasets/other", testSchema},
	} {
		resp, body := ts.do(t, req.method, req.path, []byte(req.body))
		assertAPIError(t, resp, body, http.StatusServiceUnavailable, "shutting_down")
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", req.method, req.path)
		}
		if !resp.Close {
			t.Errorf("%s %s: 503 while draining keeps the connection open", req.method, req.path)
		}
	}
}

func TestReadyzStoreClosed(t *testing.T) {
	ts := newTestServer(t)
	if err := ts.store.Close(); err != nil {
		t.Fatal(err)
	}
	resp, body := ts.do(t, http.MethodGet, "/readyz", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "store unavailable") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz with the store closed: %d %s", resp.StatusCode, body)
	}
}

const testTokens = `# test tokens
reader-token-1 read
writer-token-1 write   # ingest only
admin-token-01 read,write

other-reader-1 read
`

func TestAuth(t *testing.T) {
	ts := newTestServer(t, withTokens(testTokens))
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	ts.createDataset(t, "trades", testSchema, bearer("writer-token-1")...)

	const (
		put    = http.MethodPut
		post   = http.MethodPost
		get    = http.MethodGet
		schema = "/v1/datasets/trades"
		recs   = "/v1/datasets/trades/records"
		export = "/v1/datasets/trades/export?format=csv"
	)
	tests := []struct {
		name   string
		method string
		path   string
		header []string
		status int
		code   string
	}{
		{"no token put", put, schema, nil, 401, "unauthorized"},
		{"no token ingest", post, recs, nil, 401, "unauthorized"},
		{"no token export", get, export, nil, 401, "unauthorized"},
		{"unknown token", get, export, bearer("not-a-token-at-all"), 401, "unauthorized"},
		{"token prefix", get, export, bearer("reader-token"), 401, "unauthorized"},
		{"token with suffix", get, export, bearer("reader-token-1x"), 401, "unauthorized"},
		{"empty bearer", get, export, bearer(""), 401, "unauthorized"},
		{"basic scheme", get, export, []string{"Authorization", "Basic cmVhZGVyLXRva2VuLTE6"}, 401, "unauthorized"},
		{"token without scheme", get, export, []string{"Authorization", "reader-token-1"}, 401, "unauthorized"},
		{"token in the query", get, export + "&access_token=reader-token-1", nil, 401, "unauthorized"},
		{"read token put", put, schema, bearer("reader-token-1"), 403, "forbidden"},
		{"read token ingest", post, recs, bearer("reader-token-1"), 403, "forbidden"},
		{"write token export", get, export, bearer("writer-token-1"), 403, "forbidden"},
		{"write token pdf export", get, "/v1/datasets/trades/export?format=pdf", bearer("writer-token-1"), 403, "forbidden"},
		{"read token ok", get, export, bearer("reader-token-1"), 200, ""},
		{"second read token ok", get, export, bearer("other-reader-1"), 200, ""},
		{"read,write token export", get, export, bearer("admin-token-01"), 200, ""},
		{"read,write token ingest", post, recs, bearer("admin-token-01"), 200, ""},
		{"write token ingest", post, recs, bearer("writer-token-1"), 200, ""},
		{"write token put again", put, schema, bearer("writer-token-1"), 200, ""},
		{"space around token", get, export, []string{"Authorization", "Bearer  reader-token-1 "}, 200, ""},
	}
	rejected := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			switch tt.method {
			case put:
				body = []byte(testSchema)
			case post:
				body = []byte(okRecord(1))
			}
			resp, got := ts.do(t, tt.method, tt.path, body, tt.header...)
			if tt.status == 200 {
				assertStatus(t, resp, got, http.StatusOK)
				return
			}
			e := assertAPIError(t, resp, got, tt.status, tt.code)
			if tt.status == 401 {
				if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
					t.Errorf("401 with WWW-Authenticate %q", h)
				}
			} else if !strings.Contains(e.Error.Message, "scope") {
				t.Errorf("403 message %q does not name the scope", e.Error.Message)
			}
		})
		if tt.status >= 400 {
			rejected++
		}
	}
	if got := ts.metric(t, "exporter_requests_rejected_total", "reason", "unauthorized"); got != float64(rejected) {
		t.Errorf("rejected{unauthorized} = %v, want %d", got, rejected)
	}
	// Health, readiness and metrics need no token; the method check comes before auth.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, body := ts.do(t, http.MethodGet, path, nil)
		assertStatus(t, resp, body, http.StatusOK)
	}
	resp, body := ts.do(t, http.MethodDelete, schema, nil)
	assertAPIError(t, resp, body, http.StatusMethodNotAllowed, "method_not_allowed")
}
