package seed_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/api"
	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/harness/seed"
)

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := seed.Generate(9, 200, 50), seed.Generate(9, 200, 50)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different records")
	}
	if reflect.DeepEqual(a, seed.Generate(10, 200, 50)) {
		t.Fatal("different seeds, same records")
	}
	if a[0].ID != 50 || a[199].ID != 249 {
		t.Errorf("ids %d..%d", a[0].ID, a[199].ID)
	}
}

func TestGenerateIsRealistic(t *testing.T) {
	schema := seed.Trades()
	recs := seed.Generate(1, 500, 1)
	var negative, amended, numberDecimal, fractional, offsets int
	notes := map[string]bool{}
	for _, r := range recs {
		if len(r.Values) != len(schema) {
			t.Fatalf("record %d has %d values", r.ID, len(r.Values))
		}
		if r.Values[4].(int64) < 0 {
			negative++
		}
		if r.Values[9].(bool) {
			amended++
		}
		if _, ok := r.Values[6].(json.Number); ok {
			numberDecimal++
		}
		ts := r.Values[0].(string)
		if strings.Contains(ts, ".") {
			fractional++
		}
		if !strings.HasSuffix(ts, "Z") {
			offsets++
		}
		notes[r.Values[10].(string)] = true
		if side := r.Values[3]; side != "BUY" && side != "SELL" {
			t.Errorf("side %v", side)
		}
	}
	for name, n := range map[string]int{"negative quantities": negative, "amended": amended,
		"decimals as JSON numbers": numberDecimal, "fractional seconds": fractional, "non-UTC offsets": offsets} {
		if n == 0 {
			t.Errorf("no %s", name)
		}
	}
	for _, want := range []string{"", "comma, separated, values", `said "buy" twice`, "line one\nline two",
		"windows\r\nline end", "Zürich ✓ 東京", "=SUM(A1:A9)", "+1", "-2", "@cmd", "'quoted", "\tleading tab"} {
		if !notes[want] {
			t.Errorf("no note %q", want)
		}
	}
}

func TestCells(t *testing.T) {
	schema := seed.Schema{{"ts", seed.TypeTimestamp}, {"q", seed.TypeInt}, {"p", seed.TypeDecimal},
		{"n", seed.TypeDecimal}, {"b", seed.TypeBool}, {"s", seed.TypeString}}
	rec := seed.Record{ID: 7, Values: []any{"2026-01-02T03:04:05.120+01:00", int64(-5), "0012.3400", json.Number("-1.50"), false, "=x"}}
	got, err := schema.Cells(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"7", "2026-01-02T02:04:05.12Z", "-5", "0012.3400", "-1.50", "false", "=x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cells %q, want %q", got, want)
	}
	b, err := schema.MarshalRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":7,"ts":"2026-01-02T03:04:05.120+01:00","q":-5,"p":"0012.3400","n":-1.50,"b":false,"s":"=x"}`; string(b) != want {
		t.Errorf("json %s, want %s", b, want)
	}
	if _, err := schema.Cells(seed.Record{ID: 1, Values: []any{1}}); err == nil {
		t.Error("short record accepted")
	}
	for cell, guarded := range map[string]string{"=1": "'=1", "'a": "''a", "\tx": "'\tx", "a=": "a=", "": ""} {
		if seed.Guard(cell) != guarded || seed.Unguard(guarded) != cell {
			t.Errorf("guard %q: %q", cell, seed.Guard(cell))
		}
	}
}

func TestSeedModes(t *testing.T) {
	srv := fake.Start(t, fake.Config{})
	ctx := context.Background()
	var progress []seed.Progress
	var mu sync.Mutex
	c := &seed.Client{API: api.V1(srv.URL, ""), Progress: func(p seed.Progress) { mu.Lock(); progress = append(progress, p); mu.Unlock() }}
	created, err := c.CreateDataset(ctx, "trades", seed.Trades())
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if created, err := c.CreateDataset(ctx, "trades", seed.Trades()); err != nil || created {
		t.Fatalf("create again: %v %v", created, err)
	}
	var apiErr *seed.APIError
	if _, err := c.CreateDataset(ctx, "trades", seed.Trades()[:3]); !errors.As(err, &apiErr) || apiErr.Status != 409 {
		t.Fatalf("conflicting schema: %v", err)
	}
	recs := seed.Generate(1, 120, 1)
	m1, err := c.Seed(ctx, seed.Job{Dataset: "trades", Schema: seed.Trades(), Seed: 1, Records: recs, Mode: seed.ModeBatch, ChunkSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := c.Seed(ctx, seed.Job{Dataset: "trades", Schema: seed.Trades(), Seed: 1, Records: recs, Mode: seed.ModeSingle, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if m1.Rows != 120 || m1.Requests != 3 || m2.Rows != 120 || m2.Requests != 120 || m1.SHA256 != m2.SHA256 ||
		m1.FirstID != 1 || m1.LastID != 120 || m1.Seed != 1 || m2.Mode != seed.ModeSingle {
		t.Errorf("manifests %+v %+v", m1, m2)
	}
	if last := progress[len(progress)-1]; last.Done != 120 || last.Total != 120 || last.ETA != 0 {
		t.Errorf("last progress %+v", last)
	}
	_, err = c.Seed(ctx, seed.Job{Dataset: "missing", Schema: seed.Trades(), Records: recs, Mode: seed.ModeBatch})
	if !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Code != "not_found" {
		t.Errorf("unknown dataset: %v", err)
	}
}

// TestSeedHonorsRetryAfter serves 429 with Retry-After to every other request.
func TestSeedHonorsRetryAfter(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if calls.Add(1)%2 == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if got := r.Header.Get("Content-Type"); got != "application/x-ndjson" {
			t.Errorf("content type %q", got)
		}
		n := strings.Count(string(b), "\n")
		_ = json.NewEncoder(w).Encode(map[string]int{"accepted": n})
	}))
	defer srv.Close()
	c := &seed.Client{API: api.V1(srv.URL, "")}
	m, err := c.Seed(context.Background(), seed.Job{Dataset: "d", Schema: seed.Trades(), Records: seed.Generate(1, 10, 1), Mode: seed.ModeBatch, ChunkSize: 5})
	if err != nil || m.Rows != 10 || m.RateLimited != 2 || m.Requests != 2 {
		t.Errorf("manifest %+v, %v", m, err)
	}

	// Without end: the retries are bounded.
	always := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer always.Close()
	c = &seed.Client{API: api.V1(always.URL, ""), MaxRetries: 2, MaxRetryWait: time.Millisecond}
	m, err = c.Seed(context.Background(), seed.Job{Dataset: "d", Schema: seed.Trades(), Records: seed.Generate(1, 1, 1), Mode: seed.ModeSingle})
	if !errors.Is(err, seed.ErrRateLimited) || m.RateLimited != 3 || m.Rows != 0 {
		t.Errorf("manifest %+v, %v", m, err)
	}
}
