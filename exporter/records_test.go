package exporter

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestIngestSingle(t *testing.T) {
	ts := newTestServer(t)
	ts.createDataset(t, "trades", testSchema)
	recs := plainRecords(1, 3)
	// application/json, with parameters, and no Content-Type at all are single mode.
	for i, ct := range []string{"application/json", "application/json; charset=utf-8", ""} {
		var hdr []string
		if ct != "" {
			hdr = []string{"Content-Type", ct}
		}
		resp, body := ts.do(t, http.MethodPost, "/v1/datasets/trades/records", recs[i].JSON(), hdr...)
		assertStatus(t, resp, body, http.StatusOK)
		assertAccepted(t, body, 1)
	}
	// Upsert: the same id again replaces the record.
	changed := recs[1]
	changed.Note, changed.Qty = "changed", 42
	resp, body := ts.do(t, http.MethodPost, "/v1/datasets/trades/records", changed.JSON())
	assertStatus(t, resp, body, http.StatusOK)
	recs[1] = changed

	_, csvBody := ts.exportCSV(t, "trades", "")
	assertRows(t, parseCSV(t, csvBody), recs)
	if got := ts.metric(t, "exporter_store_records", "dataset", "trades"); got != 3 {
		t.Errorf("store_records = %v, want 3", got)
	}
	if got := ts.metric(t, "exporter_ingest_records_total", "mode", "single", "outcome", "ok"); got != 4 {
		t.Errorf("ingest{single,ok} = %v, want 4", got)
	}
}

// assertRows compares parsed CSV rows (header first) with records, inverting the formula guard
// (and reading CRLF in a string as encoding/csv does).
func assertRows(t testing.TB, rows [][]string, recs []testRecord) {
	t.Helper()
	if len(rows) == 0 || !slices.Equal(rows[0], testHeader) {
		t.Fatalf("header %q, want %q", rows[:min(1, len(rows))], testHeader)
	}
	if len(rows)-1 != len(recs) {
		t.Fatalf("%d rows, want %d", len(rows)-1, len(recs))
	}
	for i, r := range recs {
		got := slices.Clone(rows[i+1])
		got[1], got[6] = unguard(got[1]), unguard(got[6])
		want := r.cells()
		want[1], want[6] = csvText(want[1]), csvText(want[6])
		if !slices.Equal(got, want) {
			t.Errorf("row %d = %q, want %q", i+1, got, want)
		}
	}
}

func TestIngestBatchUpsert(t *testing.T) {
	ts := newTestServer(t)
	ts.createDataset(t, "trades", testSchema)
	batch := ndjson(plainRecords(1, 50))
	ts.ingest(t, "trades", batch)
	_, first := ts.exportCSV(t, "trades", "")

	// Replaying the batch changes nothing.
	ts.ingest(t, "trades", batch)
	_, second := ts.exportCSV(t, "trades", "")
	if !bytes.Equal(first, second) {
		t.Errorf("export changed after replaying a batch")
	}
	rows := parseCSV(t, second)
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		if seen[row[0]] {
			t.Errorf("id %s exported twice", row[0])
		}
		seen[row[0]] = true
	}
	assertRows(t, rows, plainRecords(1, 50))
	if got := ts.metric(t, "exporter_store_records", "dataset", "trades"); got != 50 {
		t.Errorf("store_records = %v after a replay, want 50", got)
	}

	// An overlapping batch updates old ids, adds new ones, and keeps the order by id; a duplicate id
	// inside one batch is stored once, last one wins; CRLF line ends and blank lines are fine.
	over := plainRecords(40, 60)
	for i := range over {
		over[i].Note = "v2"
	}
	dup := plainRecord(70)
	dup.Note = "first"
	last := dup
	last.Note = "last"
	b := append(ndjson(over), "\r\n  \n"...)
	b = append(append(b, dup.JSON()...), "\r\n"...)
	b = append(b, last.JSON()...) // no final newline
	resp, body := ts.do(t, http.MethodPost, "/v1/datasets/trades/records", b, "Content-Type", "application/x-ndjson")
	assertStatus(t, resp, body, http.StatusOK)
	assertAccepted(t, body, len(over)+2)

	want := append(plainRecords(1, 39), over...)
	want = append(want, last)
	_, body = ts.exportCSV(t, "trades", "")
	assertRows(t, parseCSV(t, body), want)
	if got := ts.metric(t, "exporter_store_records", "dataset", "trades"); got != float64(len(want)) {
		t.Errorf("store_records = %v, want %d", got, len(want))
	}
}

func TestIngestBatchAtomic(t *testing.T) {
	ts := newTestServer(t)
	ts.createDataset(t, "trades", testSchema)
	ts.ingest(t, "trades", ndjson(plainRecords(1, 5)))
	_, before := ts.exportCSV(t, "trades", "")

	for _, badLine := range []int{1, 2, 7, 10} {
		t.Run(fmt.Sprintf("line %d", badLine), func(t *testing.T) {
			// Ten lines: updates of ids 1-5 and new ids 6-10, one of them bad. Line 3 is blank and
			// still counts.
			var b bytes.Buffer
			id := uint64(1)
			for n := 1; n <= 10; n++ {
				switch {
				case n == badLine:
					fmt.Fprintf(&b, `{"id":%d,"symbol":"X","qty":"not a number","price":"1","ts":"2026-01-01T00:00:00Z","open":true,"note":""}`+"\n", id)
					id++
				case n == 3:
					b.WriteString("\n")
				default:
					r := plainRecord(id)
					r.Note = "overwritten"
					b.Write(r.JSON())
					b.WriteString("\n")
					id++
				}
			}
			resp, body := ts.do(t, http.MethodPost, "/v1/datasets/trades/records", b.Bytes(), "Content-Type", "application/x-ndjson")
			e := assertAPIError(t, resp, body, http.StatusBadRequest, "invalid_record")
			if !strings.Contains(e.Error.Message, fmt.Sprintf("line %d:", badLine)) || e.Error.Line != badLine {
				t.Errorf("error %+v does not name line %d", e.Error, badLine)
			}
			if !bytes.Contains(body, []byte(`"line":`+strconv.Itoa(badLine))) {
				t.Errorf("body %s lacks \"line\":%d", body, badLine)
			}
			if !strings.Contains(e.Error.Message, `"qty"`) {
				t.Errorf("message %q does not name the field", e.Error.Message)
			}
			_, after := ts.exportCSV(t, "trades", "")
			if !bytes.Equal(before, after) {
				t.Errorf("a rejected batch changed the dataset:\n%s", after)
			}
		})
	}
	if got := ts.metric(t, "exporter_store_records", "dataset", "trades"); got != 5 {
		t.Errorf("store_records = %v, want 5", got)
	}
	if got := ts.metric(t, "exporter_ingest_records_total", "mode", "batch", "outcome", "client_error"); got != 40 {
		t.Errorf("ingest{batch,client_error} = %v, want 40 (4 batches of 10 lines)", got)
	}
}

// badRecords are records that must be refused, each with a substring of the message.
var badRecords = []struct {
	name    string
	record  string
	message string
}{
	{"malformed", `{"id":1,"symbol":"A",`, "unexpected end of input"},
	{"unquoted key", `{id:1}`, "unexpected"},
	{"single quotes", `{'id':1}`, "unexpected"},
	{"trailing comma", `{"id":1,"symbol":"A","qty":1,"price":"1","ts":"2026-01-01T00:00:00Z","open":true,"note":"",}`, "unexpected"},
	{"not an object", `[1,2]`, "want a JSON object"},
	{"a string", `"record"`, "unexpected"},
	{"two objects on a line", okRecord(1) + okRecord(2), "after the object"},
	{"trailing garbage", okRecord(1) + ` x`, "after the object"},
	{"missing id", `{"symbol":"A","qty":1,"price":"1","ts":"2026-01-01T00:00:00Z","open":true,"note":""}`, `missing field "id"`},
	{"id zero", withField(1, "id", "0"), "positive integer"},
	{"id negative", withField(1, "id", "-3"), "positive integer"},
	{"id fraction", withField(1, "id", "1.5"), "positive integer"},
	{"id 1.0", withField(1, "id", "1.0"), "positive integer"},
	{"id exponent", withField(1, "id", "1e3"), "positive integer"},
	{"id string", withField(1, "id", `"7"`), "positive integer"},
	{"id 2^63", withField(1, "id", "9223372036854775808"), "positive integer"},
	{"id null", withField(1, "id", "null"), "positive integer"},
	{"id leading zero", withField(1, "id", "07"), "positive integer"},
	{"int leading zero", withField(1, "qty", "07"), "unexpected"},
	{"duplicate id", `{"id":1,` + okRecord(2)[1:], `duplicate field "id"`},
	{"duplicate field", `{"note":"x",` + okRecord(2)[1:], `duplicate field "note"`},
	{"unknown field", `{"extra":1,` + okRecord(2)[1:], `unknown field "extra"`},
	{"missing field", `{"id":1,"symbol":"A","qty":1,"price":"1","ts":"2026-01-01T00:00:00Z","open":true}`, `missing field "note"`},
	{"null value", withField(1, "note", "null"), `field "note": null is not allowed`},
	{"nested object", withField(1, "note", `{"a":1}`), "nested objects"},
	{"nested array", withField(1, "qty", `[1]`), "nested objects"},
	{"int as string", withField(1, "qty", `"5"`), `field "qty": want an integer`},
	{"int fraction", withField(1, "qty", `1.5`), `field "qty": want a 64-bit integer`},
	{"int exponent", withField(1, "qty", `1e2`), `field "qty": want a 64-bit integer`},
	{"int overflow", withField(1, "qty", `9223372036854775808`), `field "qty": want a 64-bit integer`},
	{"int underflow", withField(1, "qty", `-9223372036854775809`), `field "qty": want a 64-bit integer`},
	{"int bool", withField(1, "qty", `true`), `field "qty": want an integer`},
	{"decimal exponent", withField(1, "price", `1.5e3`), `field "price": want a decimal`},
	{"decimal exponent string", withField(1, "price", `"1E3"`), `field "price": want a decimal`},
	{"decimal plus", withField(1, "price", `"+1.5"`), `field "price": want a decimal`},
	{"decimal bare dot", withField(1, "price", `".5"`), `field "price": want a decimal`},
	{"decimal trailing dot", withField(1, "price", `"5."`), `field "price": want a decimal`},
	{"decimal comma", withField(1, "price", `"1,5"`), `field "price": want a decimal`},
	{"decimal spaces", withField(1, "price", `" 1.5"`), `field "price": want a decimal`},
	{"decimal empty", withField(1, "price", `""`), `field "price": want a decimal`},
	{"decimal NaN", withField(1, "price", `"NaN"`), `field "price": want a decimal`},
	{"decimal too long", withField(1, "price", `"`+strings.Repeat("9", 65)+`"`), `field "price": want a decimal`},
	{"decimal bool", withField(1, "price", `false`), `field "price": want a decimal number or string`},
	{"bad timestamp", withField(1, "ts", `"yesterday"`), `field "ts": want an RFC 3339 timestamp`},
	{"timestamp without zone", withField(1, "ts", `"2026-01-02T03:04:05"`), `field "ts": want an RFC 3339 timestamp`},
	{"timestamp date only", withField(1, "ts", `"2026-01-02"`), `field "ts": want an RFC 3339 timestamp`},
	{"timestamp with space", withField(1, "ts", `"2026-01-02 03:04:05Z"`), `field "ts": want an RFC 3339 timestamp`},
	{"timestamp day 30 of February", withField(1, "ts", `"2026-02-30T00:00:00Z"`), `field "ts": want an RFC 3339 timestamp`},
	{"timestamp hour 24", withField(1, "ts", `"2026-01-02T24:00:00Z"`), `field "ts": want an RFC 3339 timestamp`},
	{"timestamp number", withField(1, "ts", `1767322800`), `field "ts": want an RFC 3339 timestamp string`},
	{"timestamp past year 9999 in UTC", withField(1, "ts", `"9999-12-31T23:30:00-01:00"`), `field "ts"`},
	{"timestamp before year 0 in UTC", withField(1, "ts", `"0000-01-01T00:30:00+01:00"`), `field "ts"`},
	{"bool as string", withField(1, "open", `"true"`), `field "open": want true or false`},
	{"bool as number", withField(1, "open", `1`), `field "open": want true or false`},
	{"bool capitalised", withField(1, "open", `True`), "unexpected"},
	{"string as number", withField(1, "note", `5`), `field "note": want a string`},
	{"string as bool", withField(1, "note", `false`), `field "note": want a string`},
	{"string with U+0000", withField(1, "note", `"a\u0000b"`), `field "note": U+0000 is not allowed in a string`},
	{"invalid UTF-8 in a string", withField(1, "note", "\"caf\xe9\""), "invalid UTF-8"},
	{"invalid UTF-8 0xff", withField(1, "note", "\"\xff\""), "invalid UTF-8"},
	{"UTF-8 surrogate", withField(1, "note", "\"\xed\xa0\x80\""), "invalid UTF-8"},
	{"overlong UTF-8", withField(1, "note", "\"\xc0\xaf\""), "invalid UTF-8"},
	{"invalid UTF-8 in a key", `{"` + "\xff" + `":1,` + okRecord(2)[1:], "invalid UTF-8"},
	{"invalid byte outside strings", "\xff" + okRecord(1), "unexpected byte 0xff"},
	{"raw control character", withField(1, "note", "\"a\x01b\""), "control character"},
	{"raw newline in single mode", withField(1, "note", "\"a\nb\""), "control character"},
	{"invalid escape", withField(1, "note", `"a\xb"`), `invalid escape \x`},
	{"short unicode escape", withField(1, "note", `"\u12"`), "escape"},
	{"lone high surrogate", withField(1, "note", `"\ud800"`), "surrogate"},
	{"lone low surrogate", withField(1, "note", `"\udc00x"`), "surrogate"},
	{"unterminated string", `{"id":1,"note":"abc`, "unterminated string"},
	{"empty", ``, "unexpected end of input"},
}

// okRecord is a valid record of testSchema as JSON.
func okRecord(id uint64) string { return string(plainRecord(id).JSON()) }

// withField is okRecord(id) with field's JSON value replaced by raw.
func withField(id uint64, field, raw string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(okRecord(id)), &m); err != nil {
		panic(err)
	}
	var b strings.Builder
	b.WriteString("{")
	for i, k := range testHeader {
		if i > 0 {
			b.WriteString(",")
		}
		v := string(m[k])
		if k == field {
			v = raw
		}
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	b.WriteString("}")
	return b.String()
}

func TestIngestBadRecords(t *testing.T) {
	ts := newTestServer(t)
	ts.createDataset(t, "trades", testSchema)
	ts.ingest(t, "trades", ndjson(plainRecords(1, 2)))
	_, before := ts.exportCSV(t, "trades", "")

	for _, tt := range badRecords {
		t.Run(tt.name, func(t *testing.T) {
			// Single mode.
			resp, body := ts.do(t, http.MethodPost, "/v1/datasets/trades/records", []byte(tt.record), "Content-Type", "application/json")
			e := assertAPIError(t, resp, body, http.StatusBadRequest, "invalid_record")
			if !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("single: message %q does not mention %q", e.Error.Message, tt.message)
			}
			if tt.name == "empty" || tt.name == "raw newline in single mode" {
				return // a blank batch and a line break are batch matters of their own
			}
			// Batch mode: as line 2 after a good line.
			batch := okRecord(3) + "\n" + tt.record + "\n" + okRecord(4) + "\n"
			resp, body = ts.do(t, http.MethodPost, "/v1/datasets/trades/records", []byte(batch), "Content-Type", "application/x-ndjson")
			e = assertAPIError(t, resp, body, http.StatusBadRequest, "invalid_record")
			if e.Error.Line != 2 || !strings.HasPrefix(e.Error.Message, "line 2: ") || !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("batch: error %+v, want line 2 and a message mentioning %q", e.Error, tt.message)
			}
		})
	}
	_, after := ts.exportCSV(t, "trades", "")
	if !bytes.Equal(before, after) {
		t.Errorf("refused records changed the dataset:\n%s", after)
	}
}

func TestIngestRequestErrors(t *testing.T) {
	ts := newTestServer(t, withConfig(func(c *Config) { c.MaxBodyBytes = 1024 }))
	ts.createDataset(t, "trades", testSchema)
	ndjsonCT := []string{"Content-Type", "application/x-ndjson"}

	// A record padded to exactly the body limit is accepted; one byte more is 413.
	exact := func(n int) []byte {
		r := plainRecord(1)
		r.Note = ""
		pad := n - len(r.JSON())
		r.Note = strings.Repeat("x", pad)
		return r.JSON()
	}
	resp, body := ts.do(t, http.MethodPost, "/v1/datasets/trades/records", exact(1024))
	assertStatus(t, resp, body, http.StatusOK)

	tests := []struct {
		name   string
		path   string
		body   []byte
		header []string
		status int
		code   string
	}{
		{"oversize single", "/v1/datasets/trades/records", exact(1025), nil, 413, "too_large"},
		{"oversize batch", "/v1/datasets/trades/records", ndjson(plainRecords(1, 20)), ndjsonCT, 413, "too_large"},
		{"text/plain", "/v1/datasets/trades/records", []byte(okRecord(1)), []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"form", "/v1/datasets/trades/records", []byte(okRecord(1)), []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"malformed content type", "/v1/datasets/trades/records", []byte(okRecord(1)), []string{"Content-Type", "application/json; ==="}, 415, "unsupported_media_type"},
		{"json-seq", "/v1/datasets/trades/records", []byte(okRecord(1)), []string{"Content-Type", "application/json-seq"}, 415, "unsupported_media_type"},
		{"unknown dataset", "/v1/datasets/nope/records", []byte(okRecord(1)), nil, 404, "dataset_not_found"},
		{"unknown dataset batch", "/v1/datasets/nope/records", []byte(okRecord(1)), ndjsonCT, 404, "dataset_not_found"},
		{"invalid dataset name", "/v1/datasets/No_Pe/records", []byte(okRecord(1)), nil, 400, "invalid_name"},
		{"blank batch", "/v1/datasets/trades/records", []byte("\n \r\n\n"), ndjsonCT, 400, "invalid_record"},
		{"empty batch", "/v1/datasets/trades/records", []byte{}, ndjsonCT, 400, "invalid_record"},
		{"array batch", "/v1/datasets/trades/records", []byte("[" + okRecord(1) + "]"), ndjsonCT, 400, "invalid_record"},
		{"pretty-printed JSON as a batch", "/v1/datasets/trades/records", []byte("{\n\"id\": 1\n}"), ndjsonCT, 400, "invalid_record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do(t, http.MethodPost, tt.path, tt.body, tt.header...)
			assertAPIError(t, resp, body, tt.status, tt.code)
		})
	}
	if got := ts.metric(t, "exporter_requests_rejected_total", "reason", "too_large"); got != 2 {
		t.Errorf("rejected{too_large} = %v, want 2", got)
	}
	if got := ts.metric(t, "exporter_store_records", "dataset", "trades"); got != 1 {
		t.Errorf("store_records = %v, want 1", got)
	}
}

// BenchmarkDecodeCells splits a stored record shaped like exporter/bench's trades into its cells.
func BenchmarkDecodeCells(b *testing.B) {
	var v []byte
	for _, c := range []string{"2026-01-13T02:15:07.123Z", "ACC-004211", "INITECH", "BUY", "-42", "1234.5678",
		"-51849.98", "EUR", "FILLED", "false", "partial fill; remainder cancelled"} {
		v = binary.AppendUvarint(v, uint64(len(c)))
		v = append(v, c...)
	}
	var cells [][]byte
	for b.Loop() {
		var err error
		if cells, err = DecodeCells(cells, v, 11); err != nil {
			b.Fatal(err)
		}
	}
}
