package testkit

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// Do sends a request with body (and, when not empty, the Content-Type and a bearer token) and
// returns the status and the body of the answer; a request that cannot be sent, or that is not
// answered within a minute, fails the test.
func Do(t testing.TB, method, url, contentType, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// SetEnv gives the test exactly the variables of env among those named prefix_*: every other one
// is emptied, which ff reads as unset, so the environment of whoever runs the tests cannot change
// a parsed flag.
func SetEnv(t *testing.T, prefix string, env map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, prefix+"_") {
			t.Setenv(k, "")
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}
