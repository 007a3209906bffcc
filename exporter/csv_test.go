package exporter

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// nastyStrings are string cells that CSV quoting and the formula guard must get right.
var nastyStrings = []string{
	"plain",
	"",
	"comma, inside",
	`quote " inside`,
	`"quoted"`,
	`""`,
	"line\nfeed",
	"carriage\rreturn",
	"crlf\r\ninside",
	"ends with crlf\r\n",
	"\r\n",
	"a,b\r\n\"c\"\n,",
	"Unicode: naïve café Ωμέγα Привет 中文 עברית",
	"emoji 😀🎉👩‍👩‍👧",
	"=SUM(A1:A9)",
	`=HYPERLINK("http://example.com","x")`,
	"+1",
	"-2",
	"@x",
	"\tTab-leading",
	"\rCR-leading",
	"\r",
	"'leading quote",
	"''two leading quotes",
	"'",
	"=",
	"-",
	" leading space",
	"trailing space ",
	"mid=dle+of-text@",
	"\x01 control and \x7f delete",
}

// nastyRecords has every nasty string in both string columns and negative numbers in the typed
// columns, which the guard must leave alone.
func nastyRecords() []testRecord {
	n := len(nastyStrings)
	recs := make([]testRecord, 0, 2*n)
	for i := range 2 * n {
		r := plainRecord(uint64(i + 1))
		r.Symbol = nastyStrings[i%n]
		r.Note = nastyStrings[(i*7+3)%n]
		if i%2 == 1 {
			r.Qty = -int64(i)
			r.Price = fmt.Sprintf("-%d.%02d", i, i)
		}
		recs = append(recs, r)
	}
	return recs
}

// guardedPrefix is the documented rule: which string cells get a leading '.
func guardedPrefix(s string) bool {
	return s != "" && strings.ContainsRune("=+-@\t\r'", rune(s[0]))
}

// csvText is what encoding/csv makes of a quoted field: it reads the CRLF of a line break inside
// quotes as LF (the raw bytes are checked separately).
func csvText(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

func TestCSVNastyRoundTrip(t *testing.T) {
	ts := newTestServer(t)
	recs := nastyRecords()
	ts.createDataset(t, "nasty", testSchema)
	// Half by batch, half one by one.
	half := len(recs) / 2
	ts.ingest(t, "nasty", ndjson(recs[:half]))
	for _, r := range recs[half:] {
		resp, body := ts.do(t, http.MethodPost, "/v1/datasets/nasty/records", r.JSON(), "Content-Type", "application/json")
		assertStatus(t, resp, body, http.StatusOK)
	}

	resp, body := ts.exportCSV(t, "nasty", "")
	if got := resp.Trailer.Get("Export-Rows"); got != strconv.Itoa(len(recs)) {
		t.Errorf("Export-Rows %q, want %d", got, len(recs))
	}
	if !bytes.HasPrefix(body, []byte(strings.Join(testHeader, ",")+"\r\n")) {
		t.Errorf("body does not start with the header line: %q", body[:min(len(body), 80)])
	}
	rows := parseCSV(t, body)
	if len(rows) != len(recs)+1 {
		t.Fatalf("%d rows, want %d", len(rows)-1, len(recs))
	}
	if !slices.Equal(rows[0], testHeader) {
		t.Errorf("header %q", rows[0])
	}
	for i, r := range recs {
		row := rows[i+1]
		// The guard is applied exactly where documented, and inverting it gives the value back.
		for _, c := range []struct {
			col  int
			sent string
		}{{1, r.Symbol}, {6, r.Note}} {
			want := csvText(r.Symbol)
			if c.col == 6 {
				want = csvText(r.Note)
			}
			if guardedPrefix(c.sent) != strings.HasPrefix(row[c.col], "'"+want[:min(1, len(want))]) && c.sent != "" {
				t.Errorf("row %d col %s: %q guarded wrongly as %q", r.ID, testHeader[c.col], c.sent, row[c.col])
			}
			if guardedPrefix(c.sent) && row[c.col] != "'"+want {
				t.Errorf("row %d col %s: %q exported as %q, want the guard", r.ID, testHeader[c.col], c.sent, row[c.col])
			}
			if got := unguard(row[c.col]); got != want {
				t.Errorf("row %d col %s: %q after inverting the guard, want %q", r.ID, testHeader[c.col], got, want)
			}
		}
		want := r.cells()
		for _, c := range []int{0, 2, 3, 4, 5} {
			if row[c] != want[c] {
				t.Errorf("row %d col %s: %q, want %q (typed cells are never altered)", r.ID, testHeader[c], row[c], want[c])
			}
		}
	}
	// Raw bytes: CRLF inside a quoted field is kept as sent, negative numbers are not guarded, and
	// a guarded field that needs quotes has the ' inside the quotes.
	for _, raw := range []string{
		"\"crlf\r\ninside\"",
		"\"ends with crlf\r\n\"",
		"\"'\rCR-leading\"",
		",'=SUM(A1:A9),",
		",\"'=HYPERLINK(\"\"http://example.com\"\",\"\"x\"\")\",",
		",-1,-1.01,",
	} {
		if !bytes.Contains(body, []byte(raw)) {
			t.Errorf("body lacks %q", raw)
		}
	}
	if bytes.Contains(body, []byte(",'-1,")) || bytes.Contains(body, []byte(",'-1.01,")) {
		t.Errorf("a negative number was guarded")
	}
}

func TestCSVExportOptions(t *testing.T) {
	ts := newTestServer(t)
	recs := plainRecords(1, 30)
	recs[4].Note = "=danger"
	ts.seedTestDataset(t, "opts", recs)
	resp, all := ts.exportCSV(t, "opts", "")
	cd := resp.Header.Get("Content-Disposition")
	if typ, params, err := mime.ParseMediaType(cd); err != nil || typ != "attachment" || params["filename"] != "opts.csv" {
		t.Errorf("Content-Disposition %q", cd)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", resp.Header)
	}
	assertRows(t, parseCSV(t, all), recs)

	t.Run("bom", func(t *testing.T) {
		for _, v := range []string{"1", "true"} {
			_, body := ts.exportCSV(t, "opts", "&bom="+v) // exportCSV checks the digest covers the BOM
			if !bytes.Equal(body, append([]byte{0xEF, 0xBB, 0xBF}, all...)) {
				t.Errorf("bom=%s: body is not the BOM followed by the plain export", v)
			}
		}
		for _, v := range []string{"0", "false"} {
			if _, body := ts.exportCSV(t, "opts", "&bom="+v); !bytes.Equal(body, all) {
				t.Errorf("bom=%s changed the export", v)
			}
		}
	})

	tests := []struct {
		name   string
		query  string
		header []string
		ids    []int // the ids expected, in order
		cols   []int // indexes into testRecord.cells after id
	}{
		{"columns subset reordered", "&columns=note,qty", []string{"id", "note", "qty"}, span(1, 30), []int{6, 2}},
		{"one column", "&columns=open", []string{"id", "open"}, span(1, 30), []int{5}},
		{"all columns reversed", "&columns=note,open,ts,price,qty,symbol", []string{"id", "note", "open", "ts", "price", "qty", "symbol"}, span(1, 30), []int{6, 5, 4, 3, 2, 1}},
		{"after", "&after=25", testHeader, span(26, 30), []int{1, 2, 3, 4, 5, 6}},
		{"after zero", "&after=0", testHeader, span(1, 30), []int{1, 2, 3, 4, 5, 6}},
		{"after the last id", "&after=30", testHeader, nil, nil},
		{"after beyond", "&after=9223372036854775807", testHeader, nil, nil},
		{"limit", "&limit=3", testHeader, span(1, 3), []int{1, 2, 3, 4, 5, 6}},
		{"limit zero", "&limit=0", testHeader, nil, nil},
		{"limit beyond", "&limit=1000", testHeader, span(1, 30), []int{1, 2, 3, 4, 5, 6}},
		{"after and limit", "&after=4&limit=3&columns=note", []string{"id", "note"}, span(5, 7), []int{6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.exportCSV(t, "opts", tt.query)
			rows := parseCSV(t, body)
			if !slices.Equal(rows[0], tt.header) {
				t.Errorf("header %q, want %q", rows[0], tt.header)
			}
			if got := resp.Trailer.Get("Export-Rows"); got != strconv.Itoa(len(tt.ids)) {
				t.Errorf("Export-Rows %q, want %d", got, len(tt.ids))
			}
			if len(rows)-1 != len(tt.ids) {
				t.Fatalf("%d rows, want %d", len(rows)-1, len(tt.ids))
			}
			for i, id := range tt.ids {
				want := []string{strconv.Itoa(id)}
				for _, c := range tt.cols {
					cell := recs[id-1].cells()[c]
					if c == 6 && guardedPrefix(cell) {
						cell = "'" + cell
					}
					want = append(want, cell)
				}
				if !slices.Equal(rows[i+1], want) {
					t.Errorf("row %d = %q, want %q", i+1, rows[i+1], want)
				}
			}
			if len(tt.ids) == 0 && !bytes.Equal(body, []byte(strings.Join(tt.header, ",")+"\r\n")) {
				t.Errorf("empty export %q is not just the header line", body)
			}
		})
	}
}

func span(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestExportRequestErrors(t *testing.T) {
	ts := newTestServer(t)
	ts.seedTestDataset(t, "trades", plainRecords(1, 3))
	tests := []struct {
		name    string
		path    string
		status  int
		code    string
		message string
	}{
		{"no query", "/v1/datasets/trades/export", 400, "invalid_query", "format is required"},
		{"empty format", "/v1/datasets/trades/export?format=", 400, "invalid_query", "format is required"},
		{"unknown format", "/v1/datasets/trades/export?format=xlsx", 400, "invalid_query", `format "xlsx"`},
		{"format case", "/v1/datasets/trades/export?format=CSV", 400, "invalid_query", `format "CSV"`},
		{"unknown parameter", "/v1/datasets/trades/export?format=csv&offset=3", 400, "invalid_query", `unknown query parameter "offset"`},
		{"parameter case", "/v1/datasets/trades/export?Format=csv", 400, "invalid_query", `unknown query parameter "Format"`},
		{"repeated parameter", "/v1/datasets/trades/export?format=csv&format=csv", 400, "invalid_query", `"format" given 2 times`},
		{"repeated limit", "/v1/datasets/trades/export?format=csv&limit=1&limit=2", 400, "invalid_query", `"limit" given 2 times`},
		{"malformed escape", "/v1/datasets/trades/export?format=csv&columns=%zz", 400, "invalid_query", "malformed query"},
		{"semicolon", "/v1/datasets/trades/export?format=csv;limit=1", 400, "invalid_query", "malformed query"},
		{"empty columns", "/v1/datasets/trades/export?format=csv&columns=", 400, "invalid_query", "columns is empty"},
		{"unknown column", "/v1/datasets/trades/export?format=csv&columns=qty,nope", 400, "invalid_query", `no column "nope"`},
		{"duplicate column", "/v1/datasets/trades/export?format=csv&columns=qty,note,qty", 400, "invalid_query", `"qty" listed twice`},
		{"id column", "/v1/datasets/trades/export?format=csv&columns=id,qty", 400, "invalid_query", "id is always the first column"},
		{"trailing comma in columns", "/v1/datasets/trades/export?format=csv&columns=qty,", 400, "invalid_query", `no column ""`},
		{"space in columns", "/v1/datasets/trades/export?format=csv&columns=qty,%20note", 400, "invalid_query", `no column " note"`},
		{"pdf unknown column", "/v1/datasets/trades/export?format=pdf&columns=nope", 400, "invalid_query", `no column "nope"`},
		{"negative limit", "/v1/datasets/trades/export?format=csv&limit=-1", 400, "invalid_query", `limit "-1"`},
		{"fractional limit", "/v1/datasets/trades/export?format=csv&limit=1.5", 400, "invalid_query", `limit "1.5"`},
		{"empty limit", "/v1/datasets/trades/export?format=csv&limit=", 400, "invalid_query", `limit ""`},
		{"huge limit", "/v1/datasets/trades/export?format=csv&limit=99999999999999999999", 400, "invalid_query", "limit"},
		{"negative after", "/v1/datasets/trades/export?format=csv&after=-1", 400, "invalid_query", `after "-1"`},
		{"word after", "/v1/datasets/trades/export?format=csv&after=last", 400, "invalid_query", `after "last"`},
		{"after 2^63", "/v1/datasets/trades/export?format=csv&after=9223372036854775808", 400, "invalid_query", "after"},
		{"bad bom", "/v1/datasets/trades/export?format=csv&bom=yes", 400, "invalid_query", `bom "yes"`},
		{"bom on pdf", "/v1/datasets/trades/export?format=pdf&bom=1", 400, "invalid_query", "format=csv only"},
		{"unknown dataset", "/v1/datasets/nope/export?format=csv", 404, "dataset_not_found", "nope"},
		{"unknown dataset pdf", "/v1/datasets/nope/export?format=pdf", 404, "dataset_not_found", "nope"},
		{"invalid dataset name", "/v1/datasets/No.Pe/export?format=csv", 400, "invalid_name", "must match"},
	}
	before := ts.metric(t, "exporter_exports_total", "format", "csv", "outcome", "client_error")
	csvErrors := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do(t, http.MethodGet, tt.path, nil)
			e := assertAPIError(t, resp, body, tt.status, tt.code)
			if !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("message %q does not mention %q", e.Error.Message, tt.message)
			}
			if bytes.HasPrefix(body, []byte("id,")) || bytes.HasPrefix(body, []byte("%PDF")) {
				t.Errorf("an export body was sent: %q", body)
			}
		})
		if strings.Contains(tt.path, "format=csv") && !strings.Contains(tt.path, "format=csv&format=csv") &&
			!strings.Contains(tt.path, "%zz") && !strings.Contains(tt.path, ";") {
			csvErrors++
		}
	}
	if got := ts.metric(t, "exporter_exports_total", "format", "csv", "outcome", "client_error") - before; got != float64(csvErrors) {
		t.Errorf("exports{csv,client_error} rose by %v, want %d", got, csvErrors)
	}
	if got := ts.metric(t, "exporter_exports_total", "format", "csv", "outcome", "ok"); got != 0 {
		t.Errorf("exports{csv,ok} = %v after only bad requests", got)
	}
}

// appendID counts up in place and agrees with strconv wherever ids jump or gain a digit.
func TestAppendID(t *testing.T) {
	var id []byte
	var prev uint64
	for _, n := range []uint64{1, 8, 98, 997, 5, 9999, 1<<63 - 3} {
		for m := n; m < n+4; m++ {
			id, prev = appendID(id, prev, m), m
			if want := strconv.FormatUint(m, 10); string(id) != want {
				t.Fatalf("after %d: %q, want %q", m, id, want)
			}
		}
	}
}
