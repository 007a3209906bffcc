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

// pdfTable is what one PDF export shows.
type pdfTable struct {
	title   string
	header  []string
	types   []Type // of each column after id
	created time.Time
}

// columnWeights give each type its share of the page width.
var columnWeights = map[Type]float64{TypeString: 2.2, TypeInt: 1.1, TypeDecimal: 1.5, TypeTimestamp: 2.3, TypeBool: 0.9}

// renderPDF writes the table to w, calling scan to walk the rows; it returns the rows drawn.
func renderPDF(w io.Writer, t pdfTable, scan func(row func(id uint64, cells [][]byte) error) error) (int64, error) {
	pdf := fpdf.New("L", "mm", "A4", "")
	pdf.SetCompression(true)
	pdf.SetCreationDate(t.created)
	pdf.SetModificationDate(t.created)
	pdf.SetProducer("Export@Scale exporter", false)
	pdf.SetTitle(t.title, true)
	pdf.AddUTF8FontFromBytes(pdfFont, "", goregular.TTF)
	pdf.AddUTF8FontFromBytes(pdfFont, "B", gobold.TTF)
	pdf.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	pdf.SetAutoPageBreak(false, pdfFooterGap)
	pdf.SetCellMargin(pdfCellMargin)
	pdf.AliasNbPages("{nb}")

	pageW, pageH := pdf.GetPageSize()
	widths := make([]float64, len(t.header))
	total := 1.0 // id
	for _, ty := range t.types {
		total += columnWeights[ty]
	}
	unit := (pageW - 2*pdfMargin) / total
	widths[0] = unit
	for i, ty := range t.types {
		widths[i+1] = unit * columnWeights[ty]
	}
	align := make([]string, len(t.header))
	align[0] = "R"
	for i, ty := range t.types {
		if ty == TypeInt || ty == TypeDecimal {
			align[i+1] = "R"
		} else {
			align[i+1] = "L"
		}
	}

	pdf.SetHeaderFunc(func() {
		pdf.SetFont(pdfFont, "B", pdfTitleSize)
		pdf.CellFormat(0, 6, t.title, "", 1, "L", false, 0, "")
		pdf.SetFont(pdfFont, "B", pdfFontSize)
		pdf.SetFillColor(225, 225, 225)
		for i, h := range t.header {
			pdf.CellFormat(widths[i], pdfRowHeight+0.6, fitText(pdf, h, widths[i]), "B", 0, align[i], true, 0, "")
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
	bottom := pageH - pdfFooterGap
	pdf.SetFillColor(245, 245, 245)
	var rows int64
	err := scan(func(id uint64, cells [][]byte) error {
		if pdf.GetY()+pdfRowHeight > bottom {
			pdf.AddPage()
			pdf.SetFillColor(245, 245, 245)
		}
		if rows%2 == 1 {
			x := pdf.GetX()
			pdf.CellFormat(pageW-2*pdfMargin, pdfRowHeight, "", "", 0, "", true, 0, "")
			pdf.SetX(x)
		}
		pdf.CellFormat(widths[0], pdfRowHeight, fmt.Sprint(id), "", 0, "R", false, 0, "")
		for i, c := range cells {
			pdf.CellFormat(widths[i+1], pdfRowHeight, fitText(pdf, cellLine(c), widths[i+1]), "", 0, align[i+1], false, 0, "")
		}
		pdf.Ln(-1)
		rows++
		return pdf.Error()
	})
	if err != nil {
		return rows, err
	}
	if rows == 0 {
		pdf.CellFormat(0, pdfRowHeight, "(no rows)", "", 1, "L", false, 0, "")
	}
	return rows, pdf.Output(w)
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
