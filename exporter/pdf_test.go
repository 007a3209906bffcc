package exporter

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

func init() {
	// pdfcpu would otherwise write its configuration under the user's config directory.
	model.ConfigPath = "disable"
}

// pdfPage is the text of one page, as lines of shown strings in content order. A line is the text
// shown at one baseline: the title, the header row, a table row or the footer.
type pdfPage [][]string

// pdfText validates a PDF with pdfcpu and extracts the text of every page from its decoded content
// streams. fpdf shows text of its UTF-8 fonts as UTF-16BE literal strings, one "BT x y Td (..) Tj ET"
// per cell.
func pdfText(t testing.TB, doc []byte) []pdfPage {
	t.Helper()
	if err := api.Validate(bytes.NewReader(doc), model.NewDefaultConfiguration()); err != nil {
		t.Fatalf("the PDF does not validate: %v", err)
	}
	n, err := api.PageCount(bytes.NewReader(doc), model.NewDefaultConfiguration())
	if err != nil {
		t.Fatalf("page count: %v", err)
	}
	pages := make([]pdfPage, n)
	err = api.ExtractContent(bytes.NewReader(doc), nil, func(r io.Reader, pageNr int) error {
		content, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if pageNr < 1 || pageNr > n {
			return fmt.Errorf("page %d of %d", pageNr, n)
		}
		pages[pageNr-1], err = contentLines(content)
		return err
	}, model.NewDefaultConfiguration())
	if err != nil {
		t.Fatalf("extract content: %v", err)
	}
	return pages
}

// contentLines tokenizes a content stream just enough to follow Td (for the baseline) and Tj/TJ
// (for the text).
func contentLines(c []byte) (pdfPage, error) {
	var (
		page     pdfPage
		operands []string
		strs     [][]byte
		y, lastY string
	)
	isDelim := func(b byte) bool { return strings.IndexByte("()<>[]{}/% \t\r\n\f\x00", b) >= 0 }
	for i := 0; i < len(c); {
		switch b := c[i]; {
		case b == ' ' || b == '\t' || b == '\r' || b == '\n' || b == '\f' || b == 0:
			i++
		case b == '%':
			for i < len(c) && c[i] != '\n' && c[i] != '\r' {
				i++
			}
		case b == '(':
			s, n, err := pdfLiteral(c[i:])
			if err != nil {
				return nil, err
			}
			strs = append(strs, s)
			i += n
		case b == '<' && i+1 < len(c) && c[i+1] != '<':
			end := bytes.IndexByte(c[i:], '>')
			if end < 0 {
				return nil, fmt.Errorf("unterminated hex string")
			}
			hex := strings.Join(strings.Fields(string(c[i+1:i+end])), "")
			if len(hex)%2 == 1 {
				hex += "0"
			}
			var s []byte
			for j := 0; j < len(hex); j += 2 {
				v, err := strconv.ParseUint(hex[j:j+2], 16, 8)
				if err != nil {
					return nil, fmt.Errorf("hex string: %w", err)
				}
				s = append(s, byte(v))
			}
			strs = append(strs, s)
			i += end + 1
		case b == '[' || b == ']':
			i++
		default:
			j := i + 1
			for j < len(c) && !isDelim(c[j]) {
				j++
			}
			tok := string(c[i:j])
			i = j
			if _, err := strconv.ParseFloat(tok, 64); err == nil {
				operands = append(operands, tok)
				continue
			}
			switch tok {
			case "Td", "TD":
				if len(operands) >= 2 {
					y = operands[len(operands)-1]
				}
			case "Tj", "TJ", "'", "\"":
				var text []byte
				for _, s := range strs {
					text = append(text, s...)
				}
				if y != lastY || len(page) == 0 {
					page = append(page, nil)
					lastY = y
				}
				page[len(page)-1] = append(page[len(page)-1], utf16BE(text))
			}
			operands, strs = operands[:0], strs[:0]
		}
	}
	return page, nil
}

// pdfLiteral reads a literal string (balanced parentheses, backslash escapes) at the start of c.
func pdfLiteral(c []byte) ([]byte, int, error) {
	var out []byte
	depth := 0
	for i := 0; i < len(c); i++ {
		switch b := c[i]; b {
		case '(':
			if depth > 0 {
				out = append(out, b)
			}
			depth++
		case ')':
			depth--
			if depth == 0 {
				return out, i + 1, nil
			}
			out = append(out, b)
		case '\\':
			i++
			if i >= len(c) {
				return nil, 0, fmt.Errorf("unterminated literal string")
			}
			switch e := c[i]; e {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case '\r', '\n':
				if e == '\r' && i+1 < len(c) && c[i+1] == '\n' {
					i++
				}
			default:
				if e >= '0' && e <= '7' {
					v := 0
					for k := 0; k < 3 && i < len(c) && c[i] >= '0' && c[i] <= '7'; k++ {
						v = v*8 + int(c[i]-'0')
						i++
					}
					i--
					out = append(out, byte(v))
				} else {
					out = append(out, e)
				}
			}
		default:
			out = append(out, b)
		}
	}
	return nil, 0, fmt.Errorf("unterminated literal string")
}

func utf16BE(b []byte) string {
	if len(b)%2 == 1 {
		return string(b) // not UTF-16: fpdf shows every string of its UTF-8 fonts as UTF-16BE
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u))
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
