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

// get fetches url with the X-Api-Key key (if any) and returns the status, body and trailers.
func get(t *testing.T, url, key string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Trailer
}

// TestSecondShape checks the second API shape the fake serves beside v1, over the same store: a
// create body of fields and kinds, a JSON-array ingest answered with the count stored, and a CSV
// download of its own parameters with LF line ends, every field quoted, v1's formula guard and the
// row count in a Row-Count trailer.
func TestSecondShape(t *testing.T) {
	srv := fake.Start(t, fake.Config{})
	tb := srv.URL + "/api/tables/t"
	if code, body := do(t, http.MethodPost, tb, "application/json", `{"fields":[{"field":"q","kind":"integer"},{"field":"note","kind":"text"},{"field":"ok","kind":"boolean"}]}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _ := do(t, http.MethodPost, tb, "application/json", `{"fields":[{"field":"q","kind":"integer"},{"field":"note","kind":"text"},{"field":"ok","kind":"boolean"}]}`); code != 200 {
		t.Errorf("create again: %d, want 200 (there already)", code)
	}
	if code, body := do(t, http.MethodPost, srv.URL+"/api/tables/u", "application/json", `{"fields":[{"field":"q","kind":"int"}]}`); code != 400 || !strings.Contains(body, "unknown type") {
		t.Errorf("v1's type name in the second shape: %d %s", code, body)
	}
	rows := `[{"id":2,"q":-5,"note":"=1+1","ok":true},{"id":1,"q":7,"note":"a \"b\", c","ok":false},{"id":3,"q":0,"note":"","ok":true}]`
	if code, body := do(t, http.MethodPost, tb+"/rows", "application/json", rows); code != 200 || strings.TrimSpace(body) != `{"stored":3}` {
		t.Fatalf("rows: %d %s", code, body)
	}
	if code, body := do(t, http.MethodPost, tb+"/rows", "application/json", `{"id":4,"q":1,"note":"x","ok":true}`); code != 400 {
		t.Errorf("an object, not an array: %d %s", code, body)
	}
	if code, body := do(t, http.MethodPost, tb+"/rows", "application/json", `[{"id":4,"q":1,"note":"x","ok":true},{"id":5,"q":"x","note":"x","ok":true}]`); code != 400 || !strings.Contains(body, "line 2") {
		t.Errorf("a bad second record: %d %s", code, body)
	}
	for _, tt := range []struct{ query, want string }{
		{"", "\"id\",\"q\",\"note\",\"ok\"\n\"1\",\"7\",\"a \"\"b\"\", c\",\"false\"\n\"2\",\"-5\",\"'=1+1\",\"true\"\n\"3\",\"0\",\"\",\"true\"\n"},
		{"?fields=ok,q&since=1&max=1", "\"id\",\"ok\",\"q\"\n\"2\",\"true\",\"-5\"\n"},
	} {
		code, body, tr := get(t, tb+"/download"+tt.query, "")
		if code != 200 || body != tt.want {
			t.Errorf("download%s: %d %q, want %q (the bad batch must store nothing)", tt.query, code, body, tt.want)
		}
		if n := strings.Count(tt.want, "\n") - 1; tr.Get("Row-Count") != fmt.Sprint(n) || !strings.HasPrefix(tr.Get("Content-Digest"), "sha-256=:") {
			t.Errorf("download%s: trailers %v, want Row-Count %d and a digest", tt.query, tr, n)
		}
	}
	for _, q := range []string{"?format=csv", "?columns=q", "?bom=1", "?since=-1"} {
		if code, body, _ := get(t, tb+"/download"+q, ""); code != 400 {
			t.Errorf("download%s: %d %s, want 400", q, code, body)
		}
	}
	// One store: the table is a v1 dataset too, exported in v1's dialect.
	if code, body, _ := get(t, srv.URL+"/v1/datasets/t/export?format=csv&columns=note&limit=1", ""); code != 200 || body != "id,note\r\n1,\"a \"\"b\"\", c\"\r\n" {
		t.Errorf("v1 export of the table: %d %q", code, body)
	}
}

// TestSecondShapeFaultsAndAuth checks that the faults and the auth of the fake apply to the second
// shape: a dropped row is dropped from its download, and its key header is a token.
func TestSecondShapeFaultsAndAuth(t *testing.T) {
	srv := fake.Start(t, fake.Config{Tokens: []string{"k"}, Faults: fake.Faults{DropID: 2, NoGuard: true}})
	tb := srv.URL + "/api/tables/t"
	if code, _, _ := get(t, tb+"/download", ""); code != 401 {
		t.Errorf("no key: %d, want 401", code)
	}
	if code, _, _ := get(t, tb+"/download", "k"); code != 404 {
		t.Errorf("with the key, no table yet: %d, want 404", code)
	}
	for _, tt := range []struct{ path, body string }{
		{"", `{"fields":[{"field":"note","kind":"text"}]}`},
		{"/rows", `[{"id":1,"note":"=a"},{"id":2,"note":"b"}]`},
	} {
		req, _ := http.NewRequest(http.MethodPost, tb+tt.path, strings.NewReader(tt.body))
		req.Header.Set("X-Api-Key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d", tt.path, resp.StatusCode)
		}
	}
	if code, body, tr := get(t, tb+"/download", "k"); code != 200 || body != "\"id\",\"note\"\n\"1\",\"=a\"\n" || tr.Get("Row-Count") != "1" {
		t.Errorf("faulty download: %d %q %v", code, body, tr)
	}
}
