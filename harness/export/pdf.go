package export

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/exportatscale/exportatscale/internal/pdftext"
)

// PDFReport is the full verification of one PDF export.
type PDFReport struct {
	Fetch
	Integrity
	Media Media

	Valid   bool   // pdfcpu read and validated the document
	Invalid string // pdfcpu's complaint when not Valid

	Pages int // pages in the document
	// PagesForRows is the pages the expected rows need at the document's own rows per page (the
	// most any page carries): the count the document's pagination implies, to compare with Pages.
	PagesForRows int
	RowsPerPage  int  // the most rows any page carries
	Footers      int  // pages with exactly one "Page N of M" footer that names that page and the page count
	PageMismatch bool // PagesForRows, Footers or a footer's M disagree with Pages

	TableHeaderMissing int // pages without the table's header row

	IDs        int // data rows found
	Missing    int // expected ids absent
	Duplicates int // ids found more than once
	Unexpected int // ids found that were not expected
	OutOfOrder int // ids not greater than the one before, across pages

	Examples []string
	Text     []pdftext.Page `json:"-"` // the extracted text, for diagnostics
}

// Failure classifies the export like CSVReport.Failure; "parse_error" here means an invalid
// document or one whose pages, footers or header are wrong.
func (r PDFReport) Failure() string {
	return failure(r.Fetch, r.Integrity, r.Media, !r.Valid || r.PageMismatch || r.TableHeaderMissing > 0,
		r.Missing+r.Duplicates+r.Unexpected+r.OutOfOrder > 0)
}

// PDF fetches exp as a PDF and verifies it completely, once the body has been received.
func (c *Client) PDF(ctx context.Context, exp *Expected) PDFReport {
	return c.Get(ctx, PDF, exp).PDF()
}

// PDF reads the rest of the body of a PDF export and verifies it completely.
func (p *Pending) PDF() PDFReport { return p.Receive().PDF() }

// PDF verifies a received PDF export completely: its content headers, the document, and its
// Content-Digest and Export-Rows against the body.
func (rec *Received) PDF() PDFReport {
	if rec.Status != http.StatusOK {
		return PDFReport{Fetch: rec.Fetch}
	}
	r := PDFReport{Fetch: rec.Fetch, Media: checkMedia(rec.Header, PDF)}
	if !rec.Complete {
		r.Integrity = rec.integrity(0)
		r.Examples = append(r.Examples, "body cut short: "+rec.Err)
		r.Invalid, r.Missing = "body cut short", rec.exp.Rows()
		return r
	}
	r.verify(rec.body, rec.exp)
	r.Integrity = rec.integrity(r.IDs)
	for _, s := range slices.Concat(r.Media.Problems, r.Integrity.Problems) {
		r.Examples = limitedList(r.Examples, maxExamples, s)
	}
	return r
}

// VerifyPDF checks a PDF document (already received) against exp: validity, pages, footers,
// header on every page and every id once in order. Fetch and Integrity are left empty.
func VerifyPDF(doc []byte, exp *Expected) PDFReport {
	var r PDFReport
	r.verify(doc, exp)
	return r
}

var footerRE = regexp.MustCompile(`^Page (\d+) of (\d+)$`)

func (r *PDFReport) problem(format string, args ...any) {
	r.Examples = limitedList(r.Examples, maxExamples, fmt.Sprintf(format, args...))
}

// pdfcpu keeps its configuration in a directory unless told not to; the harness wants no files.
var disableConfigDir = sync.OnceFunc(api.DisableConfigDir)

// verify reads doc and checks it page by page against exp, then checks what only the whole
// document shows: the ids never found and the page count.
func (r *PDFReport) verify(doc []byte, exp *Expected) {
	// A malformed document from an exporter is an invalid PDF, never a crash of the run.
	defer func() {
		if v := recover(); v != nil {
			r.Valid, r.Invalid, r.PageMismatch = false, fmt.Sprintf("reading the document panicked: %v", v), true
			r.problem("invalid PDF: %s", r.Invalid)
			r.Missing = exp.Rows()
		}
	}()
	pages, ok := r.read(doc, exp)
	if !ok {
		return
	}
	ids := idOrder{seen: make([]int, len(exp.IDs)), last: int64(-1 << 63)}
	firstPageRows := 0
	for n, page := range pages {
		rows := r.checkPage(n, page, exp, &ids)
		if n == 0 {
			firstPageRows = rows
		}
		r.RowsPerPage = max(r.RowsPerPage, rows)
	}
	for i, k := range ids.seen {
		if k == 0 {
			r.Missing++
			r.problem("id %d missing", exp.IDs[i])
		}
	}
	r.checkPageCount(exp, firstPageRows)
}

// read validates doc with pdfcpu and extracts its text. A document that fails either has none
// of exp's rows: ok is false and the report says why.
func (r *PDFReport) read(doc []byte, exp *Expected) (pages []pdftext.Page, ok bool) {
	disableConfigDir()
	conf := model.NewDefaultConfiguration()
	conf.Cmd = model.VALIDATE
	ctx, err := api.ReadContext(bytes.NewReader(doc), conf)
	if err == nil {
		err = api.ValidateContext(ctx)
	}
	if err != nil {
		r.Invalid = err.Error()
		r.problem("invalid PDF: %v", err)
		r.PageMismatch = true
		r.Missing = exp.Rows()
		return nil, false
	}
	r.Valid = true
	r.Pages = ctx.PageCount
	pages, err = pdftext.Extract(doc)
	if err != nil {
		r.problem("text extraction: %v", err)
		r.PageMismatch = true
		r.Missing = exp.Rows()
		return nil, false
	}
	r.Text = pages
	return pages, true
}

// idOrder is what the ids found so far tell the ones after them, across pages: how often each
// expected id was seen, and the last id.
type idOrder struct {
	seen []int // by index in Expected.IDs
	last int64
}

// checkPage checks page n (from 0): one right footer, the header row, and every row below the
// header. It returns how many rows the page carries.
func (r *PDFReport) checkPage(n int, page pdftext.Page, exp *Expected, ids *idOrder) (rows int) {
	footers, wrongFooters := 0, 0
	headerAt := slices.IndexFunc(page.Lines, func(l []string) bool { return headerLine(l, exp.Header) })
	for k, line := range page.Lines {
		if len(line) == 0 || k <= headerAt {
			continue // rows sit below the header; above it is the title
		}
		if m := footerRE.FindStringSubmatch(strings.TrimSpace(strings.Join(line, " "))); m != nil {
			if m[1] == strconv.Itoa(n+1) && m[2] == strconv.Itoa(r.Pages) {
				footers++
			} else {
				wrongFooters++
				r.problem("page %d of %d has footer %q", n+1, r.Pages, m[0])
			}
			continue
		}
		id, ok := leadingID(line[0])
		if !ok {
			continue // text that is not a row
		}
		rows++
		r.checkID(n, id, exp, ids)
	}
	if footers == 1 && wrongFooters == 0 {
		r.Footers++
	} else if footers+wrongFooters == 0 {
		r.problem("page %d has no \"Page N of M\" footer", n+1)
	}
	if headerAt < 0 {
		r.TableHeaderMissing++
		r.problem("page %d has no header row", n+1)
	}
	return rows
}

// checkID counts id, the next row found on page n, as unexpected, repeated or out of order.
func (r *PDFReport) checkID(n int, id int64, exp *Expected, ids *idOrder) {
	r.IDs++
	if i, known := exp.index[id]; !known {
		r.Unexpected++
		r.problem("page %d: unexpected id %d", n+1, id)
	} else if ids.seen[i]++; ids.seen[i] == 2 {
		r.Duplicates++
		r.problem("page %d: id %d repeated", n+1, id)
	}
	if id <= ids.last {
		r.OutOfOrder++
		r.problem("page %d: id %d after %d", n+1, id, ids.last)
	}
	ids.last = id
}

// checkPageCount compares the pages and right footers with the pages exp's rows need: the first
// page may hold fewer rows (it carries the title), every later page but the last is full.
func (r *PDFReport) checkPageCount(exp *Expected, firstPageRows int) {
	r.PagesForRows = 1
	if rest := exp.Rows() - firstPageRows; rest > 0 && r.RowsPerPage > 0 {
		r.PagesForRows += (rest + r.RowsPerPage - 1) / r.RowsPerPage
	}
	if r.PagesForRows != r.Pages || r.Footers != r.Pages {
		r.PageMismatch = true
		r.problem("%d pages, %d with a right footer, %d expected for %d rows at %d per page",
			r.Pages, r.Footers, r.PagesForRows, exp.Rows(), r.RowsPerPage)
	}
}

// headerLine reports whether a line is the header row: one cell per column name, each the name or
// the name cut short with "…".
func headerLine(line, header []string) bool {
	if len(line) != len(header) {
		return false
	}
	for i, cell := range line {
		cell = strings.TrimSpace(cell)
		if cell == header[i] {
			continue
		}
		cut, ok := strings.CutSuffix(cell, "…")
		if !ok || !strings.HasPrefix(header[i], cut) {
			return false
		}
	}
	return true
}

// leadingID reads a row's id from its first cell: digits only, or digits then a space when the
// exporter wrote the whole row as one text run.
func leadingID(cell string) (int64, bool) {
	cell = strings.TrimSpace(cell)
	if i := strings.IndexByte(cell, ' '); i > 0 {
		cell = cell[:i]
	}
	if cell == "" || strings.Trim(cell, "0123456789") != "" {
		return 0, false
	}
	id, err := strconv.ParseInt(cell, 10, 64)
	return id, err == nil
}
