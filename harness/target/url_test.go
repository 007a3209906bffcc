package target

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestURLTarget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || r.Header.Get("Authorization") != "Bearer tok" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	tg, err := Start(context.Background(), Options{URL: srv.URL + "/", Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Stop(context.Background())
	if tg.Kind() != KindURL || tg.BaseURL() != srv.URL || tg.Token() != "tok" || tg.Info().ImageID != "" {
		t.Errorf("target = %+v", tg.Info())
	}
	if !strings.Contains(tg.Info().MemoryMethod, "not measurable from outside") {
		t.Errorf("memory method %q", tg.Info().MemoryMethod)
	}
	// Only the HTTP API of a deployment elsewhere can be seen: no memory, logs or restarts.
	if _, ok := tg.(Sampler); ok {
		t.Error("a url target is a Sampler")
	}
	if _, ok := tg.(Logger); ok {
		t.Error("a url target is a Logger")
	}
	if _, ok := tg.(Restarter); ok {
		t.Error("a url target is a Restarter")
	}
}

func TestURLTargetNotReady(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	_, err := Start(context.Background(), Options{Kind: KindURL, URL: srv.URL, StartTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Start = %v, want not ready with 503", err)
	}
}
