package exporter

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/onsi/gomega"
)

// running is one exporter.Run in the background.
type running struct {
	URL    string
	addr   string
	cancel context.CancelFunc
	done   chan error
	client *http.Client
}

// startRun starts Run over cfg on a free loopback port; the test's end stops it if the test did not.
func startRun(t *testing.T, cfg Config) *running {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	logger := newCheckedLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	r := &running{cancel: cancel, done: make(chan error, 1), client: &http.Client{Transport: &http.Transport{}}}
	go func() { r.done <- Run(ctx, cfg, OpenTestStore, logger, func(addr string) { addrs <- addr }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return")
		}
		r.client.CloseIdleConnections()
	})
	select {
	case r.addr = <-addrs:
	case err := <-r.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not start listening")
	}
	r.URL = "http://" + r.addr
	return r
}

// stop cancels Run and requires it to return nil within timeout.
func (r *running) stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	r.cancel()
	r.wait(t, timeout)
}

func (r *running) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(timeout):
		t.Fatalf("Run did not return within %v", timeout)
	}
}

func (r *running) do(t *testing.T, method, path string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	return doRequest(t, r.client, method, r.URL+path, body, header...)
}

func TestRunRestartKeepsData(t *testing.T) {
	cfg := testConfig(t.TempDir())
	recs := nastyRecords()

	first := startRun(t, cfg)
	resp, body := first.do(t, http.MethodPut, "/v1/datasets/trades", []byte(testSchema))
	assertStatus(t, resp, body, http.StatusCreated)
	resp, body = first.do(t, http.MethodPost, "/v1/datasets/trades/records", ndjson(recs[1:]), "Content-Type", "application/x-ndjson")
	assertStatus(t, resp, body, http.StatusOK)
	resp, body = first.do(t, http.MethodPost, "/v1/datasets/trades/records", recs[0].JSON()) // single mode: group commit
	assertStatus(t, resp, body, http.StatusOK)
	resp, before := first.do(t, http.MethodGet, "/v1/datasets/trades/export?format=csv", nil)
	assertStatus(t, resp, before, http.StatusOK)
	assertRows(t, parseCSV(t, before), recs)
	first.stop(t, 10*time.Second)

	second := startRun(t, cfg)
	if v, ok := metricValue(scrape(t, second.client, second.URL), "exporter_store_records", "dataset", "trades"); !ok || v != float64(len(recs)) {
		t.Errorf("after the restart store_records = %v (present %v), want %d", v, ok, len(recs))
	}
	resp, after := second.do(t, http.MethodGet, "/v1/datasets/trades/export?format=csv", nil)
	assertStatus(t, resp, after, http.StatusOK)
	if !bytes.Equal(before, after) {
		t.Errorf("export after the restart differs:\n%s\nbefore:\n%s", after, before)
	}
	if resp.Trailer.Get("Content-Digest") != contentDigest(after) || resp.Trailer.Get("Export-Rows") != strconv.Itoa(len(recs)) {
		t.Errorf("trailers after the restart %v", resp.Trailer)
	}
	// The schema survived too: the same PUT is 200, a different one 409.
	resp, body = second.do(t, http.MethodPut, "/v1/datasets/trades", []byte(testSchema))
	assertStatus(t, resp, body, http.StatusOK)
	resp, body = second.do(t, http.MethodPut, "/v1/datasets/trades", []byte(`{"columns":[{"name":"a","type":"int"}]}`))
	assertAPIError(t, resp, body, http.StatusConflict, "schema_conflict")
	second.stop(t, 10*time.Second)
}

func TestRunGracefulShutdownFinishesExport(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.ShutdownGrace = 20 * time.Second
	r := startRun(t, cfg)

	const rows = 200000
	resp, body := r.do(t, http.MethodPut, "/v1/datasets/big", []byte(testSchema))
	assertStatus(t, resp, body, http.StatusCreated)
	for from := uint64(1); from <= rows; from += 50000 {
		resp, body := r.do(t, http.MethodPost, "/v1/datasets/big/records", ndjson(plainRecords(from, from+49999)), "Content-Type", "application/x-ndjson")
		assertStatus(t, resp, body, http.StatusOK)
	}

	// Start the export on a connection of its own (with a small receive buffer, so the server cannot
	// push the whole export into socket buffers) and read only the start of it.
	export := getOK(t, smallBufferClient(t, 256<<10), r.URL+"/v1/datasets/big/export?format=csv")
	defer export.Body.Close()
	br := bufio.NewReader(export.Body)
	head := make([]byte, 64<<10)
	if _, err := io.ReadFull(br, head); err != nil {
		t.Fatal(err)
	}

	if v, _ := metricValue(scrape(t, r.client, r.URL), "exporter_exports_in_flight", "format", "csv"); v != 1 {
		t.Fatalf("exports_in_flight{csv} = %v before the shutdown, want 1", v)
	}

	r.cancel() // SIGTERM
	// New connections are refused while the export is still in flight.
	gomega.NewWithT(t).Eventually(func() bool {
		c, err := net.DialTimeout("tcp", r.addr, time.Second)
		if err == nil {
			c.Close()
			return false
		}
		return true
	}).WithTimeout(5*time.Second).WithPolling(20*time.Millisecond).Should(gomega.BeTrue(), "new connections refused")
	select {
	case err := <-r.done:
		t.Fatalf("Run returned %v with an export in flight", err)
	default:
	}

	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("the in-flight export broke off after shutdown began: %v", err)
	}
	full := append(head, rest...)
	if got, want := export.Trailer.Get("Content-Digest"), contentDigest(full); got != want {
		t.Errorf("Content-Digest %q, want %q", got, want)
	}
	if got := export.Trailer.Get("Export-Rows"); got != strconv.Itoa(rows) {
		t.Errorf("Export-Rows %q, want %d", got, rows)
	}
	if n := bytes.Count(full, []byte("\r\n")); n != rows+1 {
		t.Errorf("%d lines, want %d", n, rows+1)
	}
	if i := bytes.LastIndex(full[:len(full)-2], []byte("\r\n")); !bytes.HasPrefix(full[i+2:], []byte(strconv.Itoa(rows)+",")) {
		t.Errorf("the export does not end with id %d: %q", rows, full[i+2:])
	}
	r.wait(t, 10*time.Second)

	// Stopped for good.
	if _, err := net.DialTimeout("tcp", r.addr, time.Second); err == nil {
		t.Errorf("still accepting connections after Run returned")
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"non-loopback without tokens": func() Config { c := testConfig(t.TempDir()); c.Listen = "0.0.0.0:0"; return c }(),
		"no store":                    func() Config { c := testConfig(""); c.PostgresDSN = ""; return c }(),
		"missing tokens file":         func() Config { c := testConfig(t.TempDir()); c.TokensFile = "/nonexistent/tokens"; return c }(),
		"bad listen address":          func() Config { c := testConfig(t.TempDir()); c.Listen = "127.0.0.1:http-alt-x"; return c }(),
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			listened := false
			err := Run(ctx, cfg, OpenTestStore, newCheckedLogger(t), func(string) { listened = true })
			if err == nil || listened {
				t.Errorf("Run = %v, listened %v; want an error before listening", err, listened)
			}
		})
	}
}
