package exporter

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/internal/contract"
	bolt "go.etcd.io/bbolt"
)

// TestErrorResponse covers every rule of errorRules, and what falls through them: each domain error
// (sentinel or type, bare and wrapped) against the status, code, message and header fields of its
// answer.
func TestErrorResponse(t *testing.T) {
	full := fmt.Errorf("%w: %w", ErrStoreFull, &os.PathError{Op: "write", Path: "/data/exporter.db", Err: syscall.ENOSPC})
	tests := []struct {
		name    string
		err     error
		status  int
		code    string
		message string
		line    int
		retry   string            // Retry-After; "" for none
		header  map[string]string // further fields the answer must carry
	}{
		{"store full", full, 507, "store_full",
			"the store is full: nothing of this request was written; retry once the data volume has room", 0, "", nil},
		{"store full during PUT", &datasetError{"trades", full}, 507, "store_full",
			"the store is full: nothing of this request was written; retry once the data volume has room", 0, "", nil},
		{"store unavailable", &datasetError{"trades", fmt.Errorf("%w: %w", ErrStoreUnavailable, io.ErrUnexpectedEOF)}, 503, "store_unavailable",
			"the database is unavailable: this request was not acknowledged (a write is stored wholly or not at all, so retrying it is safe); retry after the Retry-After seconds", 0, "2", nil},
		{"not found", &datasetError{"nope", ErrNotFound}, 404, "dataset_not_found",
			"no dataset nope: create it with PUT first", 0, "", nil},
		{"not found unnamed", ErrNotFound, 404, "dataset_not_found", "no such dataset: create it with PUT first", 0, "", nil},
		{"schema conflict", &datasetError{"trades", ErrSchemaConflict}, 409, "schema_conflict",
			"dataset trades exists with a different schema", 0, "", nil},
		{"store closed", fmt.Errorf("view: %w", bolt.ErrDatabaseNotOpen), 503, "shutting_down",
			"the server is shutting down", 0, "1", nil},
		{"shutting down", errShuttingDown, 503, "shutting_down", "the server is shutting down", 0, "1", nil},
		{"method", &methodError{method: "DELETE", allow: "PUT"}, 405, "method_not_allowed",
			"DELETE is not allowed here; use PUT", 0, "", map[string]string{"Allow": "PUT"}},
		{"unauthorized", errUnauthorized, 401, "unauthorized", "a valid bearer token is required", 0, "",
			map[string]string{"WWW-Authenticate": `Bearer realm="exporter"`}},
		{"forbidden", errorf(errForbidden, "this token lacks the %s scope", scopeWrite), 403, "forbidden",
			"this token lacks the write scope", 0, "", nil},
		{"rate limited", &rateLimitError{wait: 2500 * time.Millisecond}, 429, "rate_limited",
			"too many requests: slow down and retry after the Retry-After seconds", 0, "3", nil},
		{"rate limited under a second", &rateLimitError{wait: time.Millisecond}, 429, "rate_limited",
			"too many requests: slow down and retry after the Retry-After seconds", 0, "1", nil},
		{"saturated", errorf(errSaturated, "all 4 csv export slots are busy"), 503, "saturated",
			"all 4 csv export slots are busy", 0, "1", nil},
		{"body too large", errorf(errTooLarge, "the body is larger than 1024 bytes"), 413, "too_large",
			"the body is larger than 1024 bytes", 0, "", nil},
		{"media type", errorf(errMediaType, "malformed Content-Type"), 415, "unsupported_media_type",
			"malformed Content-Type", 0, "", nil},
		{"invalid name", errorf(errInvalidName, "dataset name %q must match %s", "No.Pe", contract.DatasetName), 400, "invalid_name",
			`dataset name "No.Pe" must match ^[a-z0-9][a-z0-9_-]{0,62}$`, 0, "", nil},
		{"invalid JSON", errorf(errInvalidJSON, "schema: %w", errors.New("unexpected EOF")), 400, "invalid_json",
			"schema: unexpected EOF", 0, "", nil},
		{"invalid schema", &kindError{errInvalidSchema, errors.New("columns: at least one column is required")}, 400, "invalid_schema",
			"columns: at least one column is required", 0, "", nil},
		{"invalid record", &recordError{err: errNoID}, 400, "invalid_record", `missing field "id"`, 0, "", nil},
		{"invalid record in a batch", &recordError{line: 7, err: errNoID}, 400, "invalid_record",
			`line 7: missing field "id"; nothing was written`, 7, "", nil},
		{"invalid query", &kindError{errInvalidQuery, errors.New("limit \"x\" is not a non-negative integer")}, 400, "invalid_query",
			`limit "x" is not a non-negative integer`, 0, "", nil},
		{"bad body", errorf(errBadBody, "reading the body: %w", errors.New("unexpected EOF")), 400, "bad_body",
			"reading the body: unexpected EOF", 0, "", nil},
		{"no endpoint", errorf(errNoEndpoint, "no such endpoint: %s", "/nope"), 404, "not_found",
			"no such endpoint: /nope", 0, "", nil},
		// Anything else is the exporter's failure, and its text stays in the log.
		{"store failure", &datasetError{"trades", errors.New("read /data/exporter.db: input/output error")}, 500, "internal",
			"internal error", 0, "", nil},
		{"panic", fmt.Errorf("%w: boom", errExportPanic), 500, "internal", "internal error", 0, "", nil},
		{"client gone", errors.Join(errClientGone, errors.New("broken pipe")), 500, "internal", "internal error", 0, "", nil},
	}
	covered := map[error]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := errorResponse(tt.err)
			if e.Status != tt.status || e.Code != tt.code || e.Message != tt.message || e.Line != tt.line {
				t.Errorf("errorResponse(%v) = %d %s %q line %d; want %d %s %q line %d",
					tt.err, e.Status, e.Code, e.Message, e.Line, tt.status, tt.code, tt.message, tt.line)
			}
			w := httptest.NewRecorder()
			writeAPIError(w, e)
			if got := w.Header().Get("Retry-After"); got != tt.retry {
				t.Errorf("Retry-After %q, want %q", got, tt.retry)
			}
			for k, v := range tt.header {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s %q, want %q", k, got, v)
				}
			}
			for _, k := range []string{"Allow", "WWW-Authenticate"} {
				if _, want := tt.header[k]; !want && w.Header().Get(k) != "" {
					t.Errorf("unexpected %s %q", k, w.Header().Get(k))
				}
			}
			if w.Code != tt.status {
				t.Errorf("wrote status %d, want %d", w.Code, tt.status)
			}
			resp := w.Result()
			body := w.Body.Bytes()
			if tt.status >= 400 {
				checkErrorBody(t, resp, body)
			}
		})
		for _, r := range errorRules {
			if errors.Is(tt.err, r.kind) {
				covered[r.kind] = true
				break
			}
		}
	}
	for _, r := range errorRules {
		if !covered[r.kind] {
			t.Errorf("no case for the rule of %v (%d %s)", r.kind, r.status, r.code)
		}
	}
}

// Handlers answer through errorResponse: an error's answer over HTTP is the one the table gives.
func TestErrorsOverHTTP(t *testing.T) {
	ts := newTestServer(t)
	resp, body := ts.do(t, http.MethodGet, "/v1/datasets/nope/export?format=csv", nil)
	if e := assertAPIError(t, resp, body, http.StatusNotFound, "dataset_not_found"); e.Error.Message != "no dataset nope: create it with PUT first" {
		t.Errorf("export of an unknown dataset: message %q", e.Error.Message)
	}
	resp, body = ts.do(t, http.MethodPost, "/v1/datasets/nope/records", []byte(okRecord(1)))
	if e := assertAPIError(t, resp, body, http.StatusNotFound, "dataset_not_found"); e.Error.Message != "no dataset nope: create it with PUT first" {
		t.Errorf("ingest into an unknown dataset: message %q", e.Error.Message)
	}
	ts.createDataset(t, "trades", testSchema)
	resp, body = ts.do(t, http.MethodPut, "/v1/datasets/trades", []byte(`{"columns":[{"name":"a","type":"int"}]}`))
	if e := assertAPIError(t, resp, body, http.StatusConflict, "schema_conflict"); e.Error.Message != "dataset trades exists with a different schema" {
		t.Errorf("schema conflict: message %q", e.Error.Message)
	}
}
