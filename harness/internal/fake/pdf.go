package fake

import (
	"fmt"
	"io"
	"strings"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/goregular"
)

// Table is what WritePDF lays out: a title line on the first page, the header row on every page,
// one line per row (long text truncated with "…"), and a "Page N of M" footer.
type Table struct {
	Title    string
	Header   []string
	Rows     [][]string // each row id first, like the header
	DropPage int        // a fault: leave out this page (1-based); the footers still count it
}

// Page geometry in millimetres: A4 landscape.
const (
	pageW, pageH = 297.0, 210.0
	margin       = 10.0
	titleH       = 8.0
	rowH         = 4.5
	footerH      = 8.0
	idW          = 16.0
)

// RowsPerPage returns how many rows fit on the first page (under the title) and on later pages.
func RowsPerPage() (first, later int) {
	body := pageH - 2*margin - footerH - rowH // minus the header row
	return int((body - titleH) / rowH), int(body / rowH)
}

// WritePDF renders t with fpdf and the Go regular TrueType font, as the contract describes the
// exporter's PDF.
func WritePDF(w io.Writer, t Table) error {
	pdf := fpdf.New("L", "mm", "A4", "")
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetMargins(margin, margin, margin)
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AliasNbPages("{nb}")
	pdf.SetFillColor(225, 225, 225)

	first, later := RowsPerPage()
	var pages [][][]string
	rows := t.Rows
	for capacity := first; len(rows) > 0 || len(pages) == 0; capacity = later {
		n := min(capacity, len(rows))
		pages = append(pages, rows[:n])
		rows = rows[n:]
	}
	widths := make([]float64, len(t.Header))
	if len(widths) > 0 {
		widths[0] = idW
		for i := 1; i < len(widths); i++ {
			widths[i] = (pageW - 2*margin - idW) / float64(len(widths)-1)
		}
	}
	total := "{nb}"
	if t.DropPage > 0 {
		total = fmt.Sprint(len(pages))
	}
	for p, pageRows := range pages {
		if p+1 == t.DropPage {
			continue
		}
		pdf.AddPage()
		if p == 0 {
			pdf.SetFont("go", "", 11)
			pdf.CellFormat(0, titleH, fit(pdf, t.Title, pageW-2*margin), "", 1, "L", false, 0, "")
		}
		pdf.SetFont("go", "", 7)
		for i, h := range t.Header {
			pdf.CellFormat(widths[i], rowH, fit(pdf, h, widths[i]), "B", 0, "L", true, 0, "")
		}
		pdf.Ln(rowH)
		for _, r := range pageRows {
			for i, cell := range r {
				if i < len(widths) {
					pdf.CellFormat(widths[i], rowH, fit(pdf, cell, widths[i]), "", 0, "L", false, 0, "")
				}
			}
			pdf.Ln(rowH)
		}
		pdf.SetY(pageH - margin - footerH)
		pdf.CellFormat(0, footerH, fmt.Sprintf("Page %d of %s", p+1, total), "", 0, "C", false, 0, "")
	}
	return pdf.Output(w)
}

// fit makes text one line no wider than width (less padding), ending in "…" when it was cut.
func fit(pdf *fpdf.Fpdf, text string, width float64) string {
	text = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, text)
	width -= 2 * pdf.GetCellMargin()
	if pdf.GetStringWidth(text) <= width {
		return text
	}
	runes := []rune(text)
	for n := len(runes) - 1; n > 0; n-- {
		if s := string(runes[:n]) + "…"; pdf.GetStringWidth(s) <= width {
			return s
		}
	}
	return "…"
}
