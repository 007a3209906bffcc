package exporter

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

// PDF layout: A4 landscape, millimetres. Every row is exactly one line of rowHeight, so a row can
// never be split across pages: a page break is taken before a row that would not fit. Text longer
// than its column is cut and ends with "…"; line breaks and tabs in a cell print as spaces.
const (
	pdfMargin     = 10.0
	pdfFontSize   = 7.0
	pdfRowHeight  = 4.2
	pdfTitleSize  = 9.0
	pdfFooterGap  = 12.0
	pdfCellMargin = 0.8
	pdfFont       = "go"
)

// pdfFormat is a paginated PDF table, rendered whole before it is sent.
var pdfFormat = Format{
	Name:        "pdf",
	ContentType: "application/pdf",
	Ext:         "pdf",
	Capacity:    Document,
	New:         newPDFEncoder,
}

// columnWeights give each type its share of the page width.
var columnWeights = map[Type]float64{TypeString: 2.2, TypeInt: 1.1, TypeDecimal: 1.5, TypeTimestamp: 2.3, TypeBool: 0.9}

// pdfEncoder draws rows into a PDF document, written out by Close.
type pdfEncoder struct {
	w      io.Writer
	pdf    *fpdf.Fpdf
	widths []float64
	align  []string
	pageW  float64
	bottom float64
	rows   int64
}

// newPDFEncoder starts the document of t, to be written to w by Close: its title names the
// dataset, t.Rows and t.Created.
func newPDFEncoder(w io.Writer, t Table) Encoder {
	title := fmt.Sprintf("%s — %d rows — exported %s", t.Dataset, t.Rows, t.Created.UTC().Format(time.RFC3339))
	pdf := fpdf.New("L", "mm", "A4", "")
	pdf.SetCompression(true)
	pdf.SetCreationDate(t.Created)
	pdf.SetModificationDate(t.Created)
	pdf.SetProducer("Export@Scale exporter", false)
	pdf.SetTitle(title, true)
	pdf.AddUTF8FontFromBytes(pdfFont, "", goregular.TTF)
	pdf.AddUTF8FontFromBytes(pdfFont, "B", gobold.TTF)
	pdf.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	pdf.SetAutoPageBreak(false, pdfFooterGap)
	pdf.SetCellMargin(pdfCellMargin)
	pdf.AliasNbPages("{nb}")

	pageW, pageH := pdf.GetPageSize()
	e := &pdfEncoder{w: w, pdf: pdf, pageW: pageW, bottom: pageH - pdfFooterGap}
	e.layout(t.Types)
	pdf.SetHeaderFunc(func() {
		pdf.SetFont(pdfFont, "B", pdfTitleSize)
		pdf.CellFormat(0, 6, title, "", 1, "L", false, 0, "")
		pdf.SetFont(pdfFont, "B", pdfFontSize)
		pdf.SetFillColor(225, 225, 225)
		for i, h := range t.Header {
			pdf.CellFormat(e.widths[i], pdfRowHeight+0.6, fitText(pdf, h, e.widths[i]), "B", 0, e.align[i], true, 0, "")
		}
		pdf.Ln(-1)
		pdf.SetFont(pdfFont, "", pdfFontSize)
	})
	pdf.SetFooterFunc(func() {
		pdf.SetY(-pdfFooterGap + 3)
		pdf.SetFont(pdfFont, "", pdfFontSize)
		pdf.CellFormat(0, 5, fmt.Sprintf("Page %d of {nb}", pdf.PageNo()), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	pdf.SetFillColor(245, 245, 245)
	return e
}

// layout sets the width and alignment of the id column and of columns of types.
func (e *pdfEncoder) layout(types []Type) {
	e.widths = make([]float64, 1+len(types))
	total := 1.0 // id
	for _, ty := range types {
		total += columnWeights[ty]
	}
	unit := (e.pageW - 2*pdfMargin) / total
	e.widths[0] = unit
	for i, ty := range types {
		e.widths[i+1] = unit * columnWeights[ty]
	}
	e.align = make([]string, 1+len(types))
	e.align[0] = "R"
	for i, ty := range types {
		if ty == TypeInt || ty == TypeDecimal {
			e.align[i+1] = "R"
		} else {
			e.align[i+1] = "L"
		}
	}
}

// Encode draws one row: one line, on a new page if it would not fit, shaded every other row.
func (e *pdfEncoder) Encode(row [][]byte) error {
	pdf := e.pdf
	if pdf.GetY()+pdfRowHeight > e.bottom {
		pdf.AddPage()
		pdf.SetFillColor(245, 245, 245)
	}
	if e.rows%2 == 1 {
		x := pdf.GetX()
		pdf.CellFormat(e.pageW-2*pdfMargin, pdfRowHeight, "", "", 0, "", true, 0, "")
		pdf.SetX(x)
	}
	pdf.CellFormat(e.widths[0], pdfRowHeight, string(row[0]), "", 0, "R", false, 0, "")
	for i, c := range row[1:] {
		pdf.CellFormat(e.widths[i+1], pdfRowHeight, fitText(pdf, cellLine(c), e.widths[i+1]), "", 0, e.align[i+1], false, 0, "")
	}
	pdf.Ln(-1)
	e.rows++
	return pdf.Error()
}

// Close writes the document, with a "(no rows)" line if it has none.
func (e *pdfEncoder) Close() error {
	if e.pdf.Error() != nil {
		return e.pdf.Error()
	}
	if e.rows == 0 {
		e.pdf.CellFormat(0, pdfRowHeight, "(no rows)", "", 1, "L", false, 0, "")
	}
	return e.pdf.Output(e.w)
}

// cellLine returns a cell as one line of text: CR, LF and tab become spaces, invalid UTF-8 and runes
// past U+FFFF (emoji, say) become U+FFFD: fpdf's UTF-8 fonts cover the BMP only and panic past it.
// It allocates only when it has to change something.
func cellLine(c []byte) string {
	clean := utf8.Valid(c)
	for _, b := range c {
		if b == '\n' || b == '\r' || b == '\t' || b >= 0xF0 { // 0xF0: the first byte of a rune past U+FFFF
			clean = false
			break
		}
	}
	if clean {
		return string(c)
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n', r == '\r', r == '\t':
			return ' '
		case r > 0xFFFF:
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(string(c), "\uFFFD"))
}

// fitText cuts s so that it fits a column of width w, ending it with "…" when cut.
func fitText(pdf *fpdf.Fpdf, s string, w float64) string {
	room := w - 2*pdfCellMargin
	if pdf.GetStringWidth(s) <= room {
		return s
	}
	room -= pdf.GetStringWidth("…")
	// Drop runes from the end until the rest fits; binary search over rune boundaries.
	runes := []rune(s)
	lo, hi := 0, len(runes)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if pdf.GetStringWidth(string(runes[:mid])) <= room {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return strings.TrimRight(string(runes[:lo]), " ") + "…"
}
