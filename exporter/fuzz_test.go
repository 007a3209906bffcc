package exporter

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/exportatscale/exportatscale/internal/contract"
)

// fuzzSchema has a column of every type.
var fuzzSchema = Schema{Columns: []Column{
	{"s", TypeString}, {"i", TypeInt}, {"d", TypeDecimal}, {"t", TypeTimestamp}, {"b", TypeBool},
}}

func FuzzParseNDJSON(f *testing.F) {
	good := `{"id":1,"s":"x","i":-5,"d":"12.3400","t":"2026-01-02T03:04:05+01:00","b":true}`
	for _, seed := range []string{
		good,
		good + "\n",
		good + "\r\n" + `{"id":2,"s":"","i":0,"d":1.50,"t":"2026-01-02T03:04:05.123456789Z","b":false}` + "\n\n",
		"\n\n" + good + "\n   \n" + good,
		`{"b":true,"t":"2026-01-02T03:04:05Z","d":-0.5,"i":9223372036854775807,"s":"=SUM(A1)","id":9223372036854775807}`,
		`{"id":3,"s":"\u00e9\ud83d\ude00\n\t\"\\\/\u0000","i":-9223372036854775808,"d":"0","t":"0001-01-01T00:00:00Z","b":false}`,
		`{"id":4,"s":"comma, \"quote\"","i":1,"d":"1","t":"2026-01-02T03:04:05-07:30","b":true}`,
		`{"id":5,"s":"naïve 😀","i":1,"d":"1","t":"2026-01-02T03:04:05Z","b":true}`,
		// Bad ones.
		``, "\n", `{}`, `[]`, `null`, `{"id":1}`, `{"id":0,"s":"","i":0,"d":"0","t":"2026-01-02T03:04:05Z","b":true}`,
		`{"id":1,"s":"x","i":1e3,"d":"1","t":"2026-01-02T03:04:05Z","b":true}`,
		`{"id":1,"s":"x","i":1,"d":1e3,"t":"2026-01-02T03:04:05Z","b":true}`,
		`{"id":1,"s":"x","i":1,"d":"1","t":"2026-01-02 03:04:05","b":true}`,
		`{"id":1,"s":null,"i":1,"d":"1","t":"2026-01-02T03:04:05Z","b":true}`,
		`{"id":1,"s":{"a":1},"i":1,"d":"1","t":"2026-01-02T03:04:05Z","b":true}`,
		"{\"id\":1,\"s\":\"\xff\",\"i\":1,\"d\":\"1\",\"t\":\"2026-01-02T03:04:05Z\",\"b\":true}",
		`{"id":1,"s":"\ud800","i":1,"d":"1","t":"2026-01-02T03:04:05Z","b":true}`,
		`{"id":1,"id":2,"s":"x","i":1,"d":"1","t":"2026-01-02T03:04:05Z","b":true}`,
		`{"id":1,"s":"x","i":1,"d":"1","t":"2026-01-02T03:04:05Z","b":true,"x":1}`,
		`{"id":1,"s":"x","i":1,"d":"1","t":"2026-01-02T03:04:05Z","b":true}{}`,
		`{"id":1,"s":"x","i":1,"d":"1","t":"9999-12-31T23:30:00-01:00","b":true}`,
		good + "\n" + `{"id":2,`,
		"\v" + good, "\u00a0\n" + good, good + "\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, err := parseRecords(fuzzSchema, body, true)
		if err != nil {
			if ae := errorResponse(err); ae.Status < 400 || ae.Status > 499 || ae.Code == "" || ae.Message == "" {
				t.Fatalf("error %#v answers %+v, not a 4xx error", err, ae)
			}
			if recs != nil {
				t.Fatalf("records returned with an error")
			}
			return
		}
		// Every line the parser took as a record is valid JSON, and each one became a record.
		var lines [][]byte
		for _, line := range bytes.Split(body, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 {
				lines = append(lines, line)
			}
		}
		if len(recs) != len(lines) || len(recs) == 0 {
			t.Fatalf("%d records from %d non-blank lines", len(recs), len(lines))
		}
		for i, line := range lines {
			if !json.Valid(line) {
				t.Fatalf("accepted line %d is not valid JSON: %q", i+1, line)
			}
			checkFuzzRecord(t, line, recs[i])
		}
	})
}

// checkFuzzRecord checks an accepted record against encoding/json's reading of its line and the
// canonical text of every type.
func checkFuzzRecord(t *testing.T, line []byte, rec Record) {
	t.Helper()
	cells, err := DecodeCells(nil, rec.Value, len(fuzzSchema.Columns))
	if err != nil || len(cells) != len(fuzzSchema.Columns) {
		t.Fatalf("stored value of %q does not decode: %v", line, err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("encoding/json refuses accepted line %q: %v", line, err)
	}
	if len(m) != len(fuzzSchema.Columns)+1 {
		t.Fatalf("accepted line %q has %d fields", line, len(m))
	}
	if id, ok := m["id"].(json.Number); !ok || id.String() != strconv.FormatUint(rec.ID, 10) || rec.ID == 0 || rec.ID >= 1<<63 {
		t.Fatalf("id %d from %q", rec.ID, line)
	}
	// What the CSV export trusts (csvenc's Plain): a typed cell never holds a byte that would
	// need quotes.
	for i, c := range fuzzSchema.Columns {
		if c.Type != TypeString && bytes.ContainsAny(cells[i], ",\"\r\n") {
			t.Fatalf("the %s cell %q of %q would need quotes in a CSV record", c.Type, cells[i], line)
		}
	}
	for i, c := range fuzzSchema.Columns {
		cell := string(cells[i])
		switch c.Type {
		case TypeString:
			if s, ok := m[c.Name].(string); !ok || s != cell || !utf8.ValidString(cell) {
				t.Fatalf("string %q stored as %q", m[c.Name], cell)
			}
		case TypeInt:
			n, err := strconv.ParseInt(cell, 10, 64)
			if err != nil || strconv.FormatInt(n, 10) != cell {
				t.Fatalf("int cell %q", cell)
			}
		case TypeDecimal:
			if !contract.DecimalText.MatchString(cell) || len(cell) > 64 || cell != string(jsonText(m[c.Name])) {
				t.Fatalf("decimal %v stored as %q", m[c.Name], cell)
			}
		case TypeTimestamp:
			ts, err := time.Parse(time.RFC3339Nano, cell)
			in, _ := m[c.Name].(string)
			orig, err2 := time.Parse(time.RFC3339Nano, in)
			if err != nil || err2 != nil || !ts.Equal(orig) || !strings.HasSuffix(cell, "Z") {
				t.Fatalf("timestamp %q stored as %q", in, cell)
			}
		case TypeBool:
			if b, ok := m[c.Name].(bool); !ok || strconv.FormatBool(b) != cell {
				t.Fatalf("bool %v stored as %q", m[c.Name], cell)
			}
		}
	}
}

func jsonText(v any) string {
	switch v := v.(type) {
	case json.Number:
		return v.String()
	case string:
		return v
	}
	return "\x00not a decimal"
}

func FuzzParseExportQuery(f *testing.F) {
	for _, seed := range []string{
		"format=csv", "format=pdf", "format=csv&bom=1", "format=csv&bom=0", "format=pdf&bom=1",
		"format=csv&columns=s,i&after=1&limit=2", "format=pdf&columns=b,t,d,i,s&limit=0",
		"format=csv&columns=id", "format=csv&columns=", "format=csv&columns=s,s", "format=csv&columns=s,,i",
		"format=csv&after=9223372036854775807", "format=csv&after=9223372036854775808", "format=csv&limit=-1",
		"format=csv&limit=99999999999999999999", "format=csv&format=pdf", "format=xml", "", "&", "=", "%zz",
		"format=csv;limit=1", "format=csv&x=1", "format=%63sv", "format=csv&columns=%C3%A9", "format=pdf&after=4",
	} {
		f.Add(seed)
	}
	ts := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseExportQuery(raw)
		if err == nil {
			if q.format != "csv" && q.format != "pdf" {
				t.Fatalf("format %q accepted", q.format)
			}
			if q.limit < -1 {
				t.Fatalf("limit %d accepted", q.limit)
			}
			if q.bom && q.format != "csv" {
				t.Fatalf("bom on %s accepted", q.format)
			}
			if q.after >= 1<<63 {
				t.Fatalf("after %d accepted", q.after)
			}
		}

		req := httptest.NewRequest(http.MethodGet, "/v1/datasets/fuzz/export", nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		ts.ServeHTTP(rec, req)
		resp := rec.Result()
		body := rec.Body.Bytes()
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("query %q: status %d: %s", raw, resp.StatusCode, body)
		case err != nil && resp.StatusCode != http.StatusBadRequest:
			t.Fatalf("query %q refused by parseExportQuery (%v) but answered %d", raw, err, resp.StatusCode)
		case resp.StatusCode >= 400:
			var e apiErrorBody
			if json.Unmarshal(body, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("query %q: %d without a JSON error: %q", raw, resp.StatusCode, body)
			}
		case resp.StatusCode == http.StatusOK:
			if resp.Header.Get("Content-Type") == "application/pdf" {
				if !bytes.HasPrefix(body, []byte("%PDF-")) || resp.Header.Get("Content-Digest") != contentDigest(body) {
					t.Fatalf("query %q: a broken PDF", raw)
				}
			} else if resp.Trailer.Get("Content-Digest") != contentDigest(body) || resp.Trailer.Get("Export-Rows") == "" {
				t.Fatalf("query %q: CSV without its trailers: %v", raw, resp.Trailer)
			}
		default:
			t.Fatalf("query %q: status %d", raw, resp.StatusCode)
		}
	})
}

// newFuzzServer is a Server with a small dataset "fuzz" of fuzzSchema, driven without a network.
func newFuzzServer(tb testing.TB) *Server {
	tb.Helper()
	store, err := openBolt(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	if _, err := store.PutSchema("fuzz", fuzzSchema); err != nil {
		tb.Fatal(err)
	}
	var batch []byte
	for id := 1; id <= 5; id++ {
		batch = append(batch, `{"id":`+strconv.Itoa(id*2)+`,"s":"=x, \"y\"\n","i":-`+strconv.Itoa(id)+
			`,"d":"1.50","t":"2026-01-02T03:04:05+01:00","b":true}`+"\n"...)
	}
	recs, err := parseRecords(fuzzSchema, batch, true)
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.Upsert("fuzz", recs, false); err != nil {
		tb.Fatal(err)
	}
	cfg := testConfig(tb.TempDir())
	cfg.PDFMaxRows = 4                                                        // some PDF exports are over the cap
	srv, err := NewServer(cfg, store, newCheckedLoggerAt(tb, slog.LevelWarn)) // not every request line

	if err != nil {
		tb.Fatal(err)
	}
	return srv
}
