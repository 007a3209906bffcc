package target

import (
	"context"
	"errors"
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
	if tg.Kind() != KindURL || tg.BaseURL() != srv.URL || tg.Token() != "tok" || tg.ImageDigest() != "" {
		t.Errorf("target = %+v", tg.Info())
	}
	if err := tg.StartSampling(time.Second); !errors.Is(err, ErrNotObservable) {
		t.Errorf("StartSampling = %v", err)
	}
	if w, ok := tg.Peak(); ok || !strings.Contains(w.Method, "not measurable from outside") {
		t.Errorf("Peak = %+v, %v", w, ok)
	}
	if _, ok := tg.ResetPeak(); ok {
		t.Error("ResetPeak ok")
	}
	if _, err := tg.Logs(context.Background()); !errors.Is(err, ErrNotObservable) {
		t.Errorf("Logs = %v", err)
	}
	if _, err := tg.Restarts(context.Background()); !errors.Is(err, ErrNotObservable) {
		t.Errorf("Restarts = %v", err)
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
