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

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/exportatscale/exportatscale/internal/pdftext"
)

func init() {
	// pdfcpu would otherwise write its configuration under the user's config directory.
	model.ConfigPath = "disable"
}

// pdfPage is the text of one page, as lines of text runs from top to bottom. A line is the text
// shown at one baseline: the title, the header row, a table row or the footer; a run is a cell.
type pdfPage [][]string

// pdfText validates a PDF with pdfcpu and extracts the text of every page with internal/pdftext,
// the extractor the harness reads exports with.
func pdfText(t testing.TB, doc []byte) []pdfPage {
	t.Helper()
	if err := api.Validate(bytes.NewReader(doc), model.NewDefaultConfiguration()); err != nil {
		t.Fatalf("the PDF does not validate: %v", err)
	}
	n, err := api.PageCount(bytes.NewReader(doc), model.NewDefaultConfiguration())
	if err != nil {
		t.Fatalf("page count: %v", err)
	}
	text, err := pdftext.Extract(doc)
	if err != nil {
		t.Fatalf("text extraction: %v", err)
	}
	if len(text) != n {
		t.Fatalf("text of %d pages, pdfcpu counts %d", len(text), n)
	}
	pages := make([]pdfPage, n)
	for i, p := range text {
		pages[i] = p.Lines
	}
	return pages
}

// pdfRecords are records with long notes of mixed scripts, emoji included.
func pdfRecords(n int) []testRecord {
	recs := plainRecords(1, uint64(n))
	for i := range recs {
		recs[i].Symbol = []string{"ACME", "Ωμέγα", "Привет", "naïve,\"q\"", "=SUM(A1)", "😀 smile"}[i%6]
		recs[i].Note = fmt.Sprintf("row %d: %s", recs[i].ID, strings.Repeat("long note with commas, \"quotes\", line\nbreaks, tabs\tand Unicode ÄÖÜ ß € — ", 3))
	}
	return recs
}

// pdfExport exports name as PDF and checks the headers every PDF export must carry.
func (ts *testServer) pdfExport(t testing.TB, name, query string, wantRows int) ([]byte, []pdfPage) {
	t.Helper()
	resp, body := ts.do(t, http.MethodGet, "/v1/datasets/"+name+"/export?format=pdf"+query, nil)
	assertStatus(t, resp, body, http.StatusOK)
	if !bytes.HasPrefix(body, []byte("%PDF-")) {
		t.Fatalf("body is not a PDF: %q", body[:min(20, len(body))])
	}
	h := resp.Header
	if h.Get("Content-Type") != "application/pdf" {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}
	if got := h.Get("Content-Length"); got != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length %q, body %d bytes", got, len(body))
	}
	if got, want := h.Get("Content-Digest"), contentDigest(body); got != want {
		t.Errorf("Content-Digest %q, want %q", got, want)
	}
	if got := h.Get("Export-Rows"); got != strconv.Itoa(wantRows) {
		t.Errorf("Export-Rows %q, want %d", got, wantRows)
	}
	if _, p, err := mime.ParseMediaType(h.Get("Content-Disposition")); err != nil || p["filename"] != name+".pdf" {
		t.Errorf("Content-Disposition %q", h.Get("Content-Disposition"))
	}
	return body, pdfText(t, body)
}

// checkPDFPages checks the layout of every page: the title, the header row, rows of ids in order
// (from firstID on), and the footer; it returns the rows on each page.
func checkPDFPages(t testing.TB, pages []pdfPage, title string, header []string, ids []uint64) []int {
	t.Helper()
	var perPage []int
	next := 0
	for i, p := range pages {
		if len(p) < 3 {
			t.Fatalf("page %d has %d lines: %q", i+1, len(p), p)
		}
		if got := strings.Join(p[0], ""); !strings.HasPrefix(got, title) {
			t.Errorf("page %d title %q, want it to start with %q", i+1, got, title)
		}
		if !slices.Equal(p[1], header) {
			t.Errorf("page %d header %q, want %q", i+1, p[1], header)
		}
		footer := fmt.Sprintf("Page %d of %d", i+1, len(pages))
		if got := strings.Join(p[len(p)-1], ""); got != footer {
			t.Errorf("page %d footer %q, want %q", i+1, got, footer)
		}
		rows := p[2 : len(p)-1]
		perPage = append(perPage, len(rows))
		for _, row := range rows {
			if len(ids) == 0 && len(row) == 1 && row[0] == "(no rows)" {
				continue
			}
			if next >= len(ids) {
				t.Fatalf("page %d: more rows than the %d expected: %q", i+1, len(ids), row)
			}
			if row[0] != strconv.FormatUint(ids[next], 10) {
				t.Fatalf("page %d: row %q, want id %d next", i+1, row, ids[next])
			}
			next++
		}
	}
	if next != len(ids) {
		t.Errorf("%d ids found, want %d", next, len(ids))
	}
	return perPage
}

func TestPDFExport(t *testing.T) {
	ts := newTestServer(t)
	const n = 500
	recs := pdfRecords(n)
	ts.seedTestDataset(t, "trades", recs)
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	_, pages := ts.pdfExport(t, "trades", "", n)
	perPage := checkPDFPages(t, pages, "trades — 500 rows — exported ", testHeader, ids)

	// Every page but the last holds the same number of rows; the page count follows from it.
	rowsPerPage := perPage[0]
	if rowsPerPage < 20 || rowsPerPage > 60 {
		t.Fatalf("%d rows on page 1 of an A4 landscape table; the layout is off", rowsPerPage)
	}
	for i, got := range perPage[:len(perPage)-1] {
		if got != rowsPerPage {
			t.Errorf("page %d holds %d rows, page 1 %d", i+1, got, rowsPerPage)
		}
	}
	if want := (n + rowsPerPage - 1) / rowsPerPage; len(pages) != want {
		t.Errorf("%d pages for %d rows at %d a page, want %d", len(pages), n, rowsPerPage, want)
	}

	// Cells: one line each; short text as is, long text cut with "…", line breaks and tabs as spaces.
	row := pages[0][2+3] // id 4
	if len(row) != len(testHeader) {
		t.Fatalf("row %q has %d cells, want %d", row, len(row), len(testHeader))
	}
	want := recs[3].cells()
	for c := range 6 {
		if row[c] != want[c] {
			t.Errorf("cell %s = %q, want %q", testHeader[c], row[c], want[c])
		}
	}
	note := row[6]
	flat := strings.NewReplacer("\n", " ", "\t", " ").Replace(recs[3].Note)
	if !strings.HasSuffix(note, "…") || !strings.HasPrefix(flat, strings.TrimSuffix(note, "…")) {
		t.Errorf("long note shown as %q, want a cut prefix of %q ending with …", note, flat)
	}

	// Page counts for other sizes follow from the same rows per page.
	for _, size := range []int{1, rowsPerPage - 1, rowsPerPage, rowsPerPage + 1, 2*rowsPerPage + 1} {
		t.Run(fmt.Sprintf("limit %d", size), func(t *testing.T) {
			_, pages := ts.pdfExport(t, "trades", fmt.Sprintf("&limit=%d", size), size)
			checkPDFPages(t, pages, fmt.Sprintf("trades — %d rows — ", size), testHeader, ids[:size])
			if want := (size + rowsPerPage - 1) / rowsPerPage; len(pages) != want {
				t.Errorf("%d pages for %d rows, want %d", len(pages), size, want)
			}
		})
	}
	t.Run("after and columns", func(t *testing.T) {
		_, pages := ts.pdfExport(t, "trades", "&after=450&columns=qty,symbol", 50)
		checkPDFPages(t, pages, "trades — 50 rows — ", []string{"id", "qty", "symbol"}, ids[450:])
		if row := pages[0][2]; !slices.Equal(row, []string{"451", recs[450].cells()[2], recs[450].Symbol}) {
			t.Errorf("first row %q", row)
		}
	})
	t.Run("no rows", func(t *testing.T) {
		_, pages := ts.pdfExport(t, "trades", "&after=500", 0)
		checkPDFPages(t, pages, "trades — 0 rows — ", testHeader, nil)
		if len(pages) != 1 || !slices.Equal(pages[0][2], []string{"(no rows)"}) {
			t.Errorf("empty PDF %q", pages)
		}
	})
}

// TestPDFExportNonBMPText: fpdf's UTF-8 fonts stop at U+FFFF; a cell with an emoji must still
// export (the rune shows as U+FFFD), never fail the request.
func TestPDFExportNonBMPText(t *testing.T) {
	ts := newTestServer(t)
	recs := plainRecords(1, 3)
	recs[1].Note = "smile 😀 and 𝄞"
	recs[2].Symbol = "🎉"
	ts.seedTestDataset(t, "emoji", recs)
	_, pages := ts.pdfExport(t, "emoji", "", 3)
	checkPDFPages(t, pages, "emoji — 3 rows", testHeader, []uint64{1, 2, 3})
	if got := pages[0][3][6]; got != "smile \uFFFD and \uFFFD" {
		t.Errorf("note shown as %q", got)
	}
	if got := pages[0][4][1]; got != "\uFFFD" {
		t.Errorf("symbol shown as %q", got)
	}
}

func TestPDFRowCap(t *testing.T) {
	ts := newTestServer(t, withConfig(func(c *Config) { c.PDFMaxRows = 40 }))
	ts.seedTestDataset(t, "trades", plainRecords(1, 41))
	tooMany := []string{"", "&limit=41", "&after=0", "&after=0&limit=100"}
	for _, q := range tooMany {
		resp, body := ts.do(t, http.MethodGet, "/v1/datasets/trades/export?format=pdf"+q, nil)
		e := assertAPIError(t, resp, body, http.StatusRequestEntityTooLarge, "too_large")
		if !strings.Contains(e.Error.Message, "format=csv") || !strings.Contains(e.Error.Message, "40") {
			t.Errorf("413 message %q should name the cap and point to CSV", e.Error.Message)
		}
		if bytes.Contains(body, []byte("%PDF")) || resp.Header.Get("Content-Digest") != "" || resp.Header.Get("Export-Rows") != "" {
			t.Errorf("413 carries PDF bytes or export headers: %v %q", resp.Header, body)
		}
	}
	// Within the cap by limit or after, the export goes through.
	ts.pdfExport(t, "trades", "&limit=40", 40)
	ts.pdfExport(t, "trades", "&after=1", 40)
	ts.pdfExport(t, "trades", "&after=30&limit=5", 5)
	if got := ts.metric(t, "exporter_requests_rejected_total", "reason", "too_large"); got != float64(len(tooMany)) {
		t.Errorf("rejected{too_large} = %v, want %d", got, len(tooMany))
	}
	if got := ts.metric(t, "exporter_exports_total", "format", "pdf", "outcome", "client_error"); got != float64(len(tooMany)) {
		t.Errorf("exports{pdf,client_error} = %v, want %d", got, len(tooMany))
	}
	// CSV has no cap.
	resp, body := ts.exportCSV(t, "trades", "")
	if resp.Trailer.Get("Export-Rows") != "41" {
		t.Errorf("CSV export of %d bytes has Export-Rows %q", len(body), resp.Trailer.Get("Export-Rows"))
	}
}
