package export_test

import (
	"maps"
	"net/http"
	"testing"

	"github.com/exportatscale/exportatscale/harness/export"
)

func TestCountsAdd(t *testing.T) {
	answer := func(format string, status int, retryAfter string) export.Fetch {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return export.Fetch{Format: format, Status: status, Header: h}
	}
	var c export.Counts
	for _, f := range []export.Fetch{
		answer(export.CSV, http.StatusTooManyRequests, "1"),
		answer(export.CSV, http.StatusTooManyRequests, "soon"),
		answer(export.CSV, http.StatusTooManyRequests, ""),
		answer(export.CSV, http.StatusServiceUnavailable, "Sun, 06 Nov 1994 08:49:37 GMT"),
		answer(export.CSV, http.StatusServiceUnavailable, "5abc"),
		answer(export.PDF, http.StatusRequestEntityTooLarge, ""),
		answer(export.CSV, http.StatusNotFound, ""),
		answer(export.CSV, http.StatusBadRequest, ""),
		answer(export.CSV, http.StatusUnauthorized, ""),
		answer(export.PDF, http.StatusForbidden, ""),
		answer(export.PDF, http.StatusInternalServerError, ""),
		answer(export.CSV, 0, ""), // no answer
	} {
		c.Add(f, 0, true)
	}
	for _, tt := range []struct {
		name      string
		got, want map[string]int
	}{
		{"client_error", c.ClientError, map[string]int{export.CSV: 2, export.PDF: 1}},
		{"server_error", c.ServerError, map[string]int{export.PDF: 1}},
	} {
		if !maps.Equal(tt.got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if want := map[int]int{429: 2, 503: 1}; !maps.Equal(c.NoRetryAfter, want) {
		t.Errorf("without a valid Retry-After: %v, want %v", c.NoRetryAfter, want)
	}
	if c.ServerErrors() != 1 {
		t.Errorf("%d server errors, want 1", c.ServerErrors())
	}
	var m export.Counts
	m.Merge(c)
	m.Merge(c)
	if m.ClientError[export.CSV] != 4 || m.ServerError[export.PDF] != 2 || m.NoRetryAfter[429] != 4 {
		t.Errorf("merged %+v", m)
	}
}
