package fake_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

func do(t *testing.T, method, url, contentType, body string) (int, string) {
	t.Helper()
	return testkit.Do(t, method, url, contentType, "", body)
}

// TestIngestContract checks the fake's ingest against the v1 API contract (docs/design.md): every
// column plus a positive id, no null, no unknown or missing field, and an atomic batch that names
// the bad line.
func TestIngestContract(t *testing.T) {
	srv := fake.Start(t, fake.Config{})
	ds := srv.URL + "/v1/datasets/d"
	if code, _ := do(t, http.MethodPut, ds, "application/json", `{"columns":[{"name":"q","type":"int"},{"name":"p","type":"decimal"},{"name":"ts","type":"timestamp"}]}`); code != 201 {
		t.Fatalf("create: %d", code)
	}
	for _, tt := range []struct {
		body string
		code int
		msg  string
	}{
		{`{"id":1,"q":-5,"p":"12.3400","ts":"2026-01-02T03:04:05+01:00"}`, 200, ""},
		{`{"id":2,"q":1,"p":12.5,"ts":"2026-01-02T03:04:05Z"}`, 200, ""},
		{`{"id":3,"q":null,"p":"1","ts":"2026-01-02T03:04:05Z"}`, 400, `field \"q\"`},
		{`{"id":3,"q":1,"p":"1e3","ts":"2026-01-02T03:04:05Z"}`, 400, `field \"p\"`},
		{`{"id":3,"q":1,"p":"1"}`, 400, "want 4 fields"},
		{`{"id":3,"q":1,"p":"1","ts":"2026-01-02T03:04:05Z","x":1}`, 400, "want 4 fields"},
		{`{"id":0,"q":1,"p":"1","ts":"2026-01-02T03:04:05Z"}`, 400, "positive integer"},
	} {
		if code, body := do(t, http.MethodPost, ds+"/records", "application/json", tt.body); code != tt.code || !strings.Contains(body, tt.msg) {
			t.Errorf("%s: %d %s", tt.body, code, body)
		}
	}
	batch := `{"id":10,"q":1,"p":"1","ts":"2026-01-02T03:04:05Z"}` + "\n" + `{"id":11,"q":"x","p":"1","ts":"2026-01-02T03:04:05Z"}` + "\n"
	if code, body := do(t, http.MethodPost, ds+"/records", "application/x-ndjson", batch); code != 400 || !strings.Contains(body, "line 2") {
		t.Errorf("bad batch: %d %s", code, body)
	}
	code, body := do(t, http.MethodGet, ds+"/export?format=csv", "", "")
	if want := "id,q,p,ts\r\n1,-5,12.3400,2026-01-02T02:04:05Z\r\n2,1,12.5,2026-01-02T03:04:05Z\r\n"; code != 200 || body != want {
		t.Errorf("export: %d %q, want %q (the bad batch must write nothing)", code, body, want)
	}
	code, body = do(t, http.MethodGet, ds+"/export?format=csv&nope=1", "", "")
	var e struct{ Error struct{ Code string } }
	if code != 400 || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != "invalid_query" {
		t.Errorf("unknown parameter: %d %s", code, body)
	}
}

// TestBufferExportsIsCorrect checks the BufferExports defect breaks memory only: its CSV exports
// carry the same body and trailers as a healthy fake's, whatever the query.
func TestBufferExportsIsCorrect(t *testing.T) {
	healthy := fake.Start(t, fake.Config{})
	buffered := fake.Start(t, fake.Config{Faults: fake.Faults{BufferExports: true}})
	var batch strings.Builder
	for i := 1; i <= 3000; i++ {
		note, _ := json.Marshal(fmt.Sprintf("=note %d, \"quoted\"\r\nline", i))
		fmt.Fprintf(&batch, `{"id":%d,"q":%d,"note":%s}`+"\n", 3001-i, i, note) // out of order
	}
	for _, srv := range []string{healthy.URL, buffered.URL} {
		ds := srv + "/v1/datasets/d"
		if code, body := do(t, http.MethodPut, ds, "application/json", `{"columns":[{"name":"q","type":"int"},{"name":"note","type":"string"}]}`); code != 201 {
			t.Fatalf("create: %d %s", code, body)
		}
		if code, body := do(t, http.MethodPost, ds+"/records", "application/x-ndjson", batch.String()); code != 200 {
			t.Fatalf("seed: %d %s", code, body)
		}
	}
	for _, query := range []string{"", "&bom=1", "&after=1000&limit=1500", "&columns=note", "&after=3000"} {
		var bodies [2]string
		var trailers [2]http.Header
		for i, srv := range []string{healthy.URL, buffered.URL} {
			resp, err := http.Get(srv + "/v1/datasets/d/export?format=csv" + query)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s: %d %v", query, resp.StatusCode, err)
			}
			bodies[i], trailers[i] = string(b), resp.Trailer
		}
		if bodies[0] != bodies[1] || trailers[0].Get("Content-Digest") != trailers[1].Get("Content-Digest") ||
			trailers[0].Get("Export-Rows") != trailers[1].Get("Export-Rows") || trailers[0].Get("Export-Rows") == "" {
			t.Errorf("%q: buffered export differs: %d vs %d bytes, trailers %v vs %v", query, len(bodies[0]), len(bodies[1]), trailers[0], trailers[1])
		}
	}
}
