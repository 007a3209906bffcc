package exporter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// A request declaring a body over the limit is refused with 413 from its headers alone: the
// exporter reads none of the body (none is sent before the answer) and closes the connection
// afterwards. A small body that does follow is drained first, so that a client writing it can still
// read the answer.
func TestDeclaredOversizeBodyRefusedUnread(t *testing.T) {
	ts := newTestServer(t, withConfig(func(c *Config) { c.MaxBodyBytes = 1 << 10 }))
	ts.createDataset(t, "trades", testSchema)
	const tenGiB = "10737418240"
	tests := []struct {
		name, method, path, length string
		header                     []string
		late                       string // body sent once the answer is in
	}{
		{"batch", http.MethodPost, "/v1/datasets/trades/records", tenGiB, []string{"Content-Type", "application/x-ndjson"}, ""},
		{"single", http.MethodPost, "/v1/datasets/trades/records", tenGiB, []string{"Content-Type", "application/json"}, ""},
		{"one byte over", http.MethodPost, "/v1/datasets/trades/records", "1025", nil, strings.Repeat(" ", 1025)},
		{"expect 100-continue", http.MethodPost, "/v1/datasets/trades/records", tenGiB, []string{"Expect", "100-continue"}, ""},
		{"schema", http.MethodPut, "/v1/datasets/other", tenGiB, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := append([]string{"Content-Length", tt.length}, tt.header...)
			resp, body, after := rawRequest(t, ts.URL, tt.method, tt.path, tt.late, header...)
			assertAPIError(t, resp, body, http.StatusRequestEntityTooLarge, "too_large")
			if !resp.Close {
				t.Errorf("the 413 keeps the connection open (Connection %q)", resp.Header.Get("Connection"))
			}
			if resp.Header.Get("Content-Type") == "" {
				t.Errorf("no Content-Type on the 413")
			}
			var ne net.Error
			switch {
			case after == nil:
				t.Errorf("the server sent more after the 413")
			case errors.As(after, &ne) && ne.Timeout():
				t.Errorf("the connection stayed open after the 413: %v", after)
			}
		})
	}
	if got := ts.metric(t, "exporter_requests_rejected_total", "reason", "too_large"); got != float64(len(tests)) {
		t.Errorf("rejected{too_large} = %v, want %d", got, len(tests))
	}
	if got := ts.metric(t, "exporter_store_records", "dataset", "trades"); got != 0 {
		t.Errorf("store_records = %v, want 0", got)
	}
	// The dataset the refused PUT named was not created.
	resp, body := ts.do(t, http.MethodGet, "/v1/datasets/other/export?format=csv", nil)
	assertAPIError(t, resp, body, http.StatusNotFound, "dataset_not_found")
}

// A body without a declared length (chunked) is cut off where it passes the limit.
func TestChunkedOversizeBodyRefused(t *testing.T) {
	ts := newTestServer(t, withConfig(func(c *Config) { c.MaxBodyBytes = 1 << 10 }))
	ts.createDataset(t, "trades", testSchema)
	batch := ndjson(plainRecords(1, 100))
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/v1/datasets/trades/records", bytes.NewReader(batch))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // unknown: net/http sends the body chunked
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, body := send(t, ts.client, req)
	e := assertAPIError(t, resp, body, http.StatusRequestEntityTooLarge, "too_large")
	if strings.Contains(e.Error.Message, "Content-Length") {
		t.Errorf("message %q: the request declared no length", e.Error.Message)
	}
	if got := ts.metric(t, "exporter_store_records", "dataset", "trades"); got != 0 {
		t.Errorf("store_records = %v, want 0", got)
	}
}

// A schema is no record body: PUT takes one larger than MaxBodyBytes, up to its own limit
// (maxSchemaBytes, which TestPutDatasetInvalid tests).
func TestSchemaNotBoundByMaxBodyBytes(t *testing.T) {
	ts := newTestServer(t, withConfig(func(c *Config) { c.MaxBodyBytes = 1 << 10 }))
	schema := strings.Replace(testSchema, "]}", "]"+strings.Repeat(" ", 1<<10)+"}", 1)
	resp, body := ts.do(t, http.MethodPut, "/v1/datasets/trades", []byte(schema))
	assertStatus(t, resp, body, http.StatusCreated)
}

// rawRequestTimeout bounds a raw exchange. It is no measure of speed: it only has to be shorter than
// the exporter's body read deadline (bodyReadTimeout), which a server waiting for the body would hit.
const rawRequestTimeout = 30 * time.Second

// rawRequest writes a request head on a fresh TCP connection, reads the response, writes late (the
// body, if any, after the answer), and then reads on to report how the connection ended: nil if more
// bytes came, else the read error (io.EOF for a clean close).
func rawRequest(t testing.TB, baseURL, method, path, late string, header ...string) (resp *http.Response, body []byte, after error) {
	t.Helper()
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, rawRequestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(rawRequestTimeout)); err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, u.Host)
	for i := 0; i+1 < len(header); i += 2 {
		head += header[i] + ": " + header[i+1] + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err = http.ReadResponse(br, &http.Request{Method: method})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("no response within %v: the server waited for the body", rawRequestTimeout)
	}
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	if late != "" {
		if _, err := io.WriteString(conn, late); err != nil {
			t.Fatalf("writing the body after the answer: %v", err)
		}
	}
	if _, err := br.ReadByte(); err != nil {
		after = err
	}
	return resp, body, after
}
