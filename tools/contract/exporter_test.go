package contract

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onsi/gomega"
)

// startExporter builds the exporter from the root module, runs it on a free loopback port with a
// temporary data directory, waits until it is ready and returns its base URL. It is stopped with
// SIGTERM when the test ends; its log is shown if the test failed.
func startExporter(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the exporter")
	}
	bin := filepath.Join(t.TempDir(), "exporter")
	build := exec.Command("go", "build", "-o", bin, "./exporter/cmd/exporter")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build exporter: %v\n%s", err, out)
	}

	addr := freeLoopbackAddr(t)
	// The exporter writes its log straight to a file, read back only if the test failed.
	logs, err := os.Create(filepath.Join(t.TempDir(), "exporter.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	// When the test ends (t.Context is done), SIGTERM, and SIGKILL if the exporter has not stopped
	// within 15s.
	cmd := exec.CommandContext(t.Context(), bin, "--listen", addr, "--data-dir", t.TempDir(), "--insecure-no-auth")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start exporter: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		<-exited
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signal() == syscall.SIGKILL {
			t.Error("exporter did not stop within 15s of SIGTERM")
		}
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("exporter log:\n%s", b)
		}
	})

	base := "http://" + addr
	gomega.NewWithT(t).Eventually(func() (int, error) {
		select {
		case err := <-exited:
			exited <- err // let the cleanup see it too
			return 0, gomega.StopTrying("the exporter exited before it was ready").Wrap(err)
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}).WithTimeout(30*time.Second).WithPolling(100*time.Millisecond).Should(gomega.Equal(http.StatusOK), "GET /readyz")
	return base
}

// driveTraffic exercises dataset creation, single and batch ingest, and CSV and PDF export, so
// every labelled series has seen real use before the scrape.
func driveTraffic(t *testing.T, base string) {
	t.Helper()
	ds := base + "/v1/datasets/t"
	do(t, http.MethodPut, ds, "application/json",
		`{"columns":[{"name":"symbol","type":"string"},{"name":"qty","type":"int"},{"name":"price","type":"decimal"},{"name":"ts","type":"timestamp"},{"name":"open","type":"bool"}]}`,
		http.StatusCreated, http.StatusOK)
	do(t, http.MethodPost, ds+"/records", "application/json",
		`{"id":1,"symbol":"ACME","qty":-5,"price":"12.3400","ts":"2026-01-02T03:04:05+01:00","open":true}`,
		http.StatusOK)
	do(t, http.MethodPost, ds+"/records", "application/x-ndjson",
		`{"id":2,"symbol":"=SUM(A1)","qty":7,"price":"0.5","ts":"2026-01-02T03:04:06Z","open":false}`+"\n"+
			`{"id":3,"symbol":"Zürich, \"quoted\"","qty":0,"price":"-1","ts":"2026-01-02T03:04:07Z","open":true}`+"\n"+
			`{"id":4,"symbol":"","qty":42,"price":"100","ts":"2026-01-02T03:04:08.5Z","open":false}`+"\n",
		http.StatusOK)
	for _, format := range []string{"csv", "pdf"} {
		if body := get(t, ds+"/export?format="+format, "*/*"); len(body) == 0 {
			t.Fatalf("%s export is empty", format)
		}
	}
}

// do sends one request and fails the test unless the status is one of want.
func do(t *testing.T, method, url, contentType, body string, want ...int) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if !slices.Contains(want, resp.StatusCode) {
		t.Fatalf("%s %s: status %d, want %v: %s", method, url, resp.StatusCode, want, got)
	}
}

// get fetches url with the given Accept header, requires 200 and returns the whole body.
func get(t *testing.T, url, accept string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, body)
	}
	return body
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
