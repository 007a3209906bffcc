// Package svgchart draws gonum/plot figures as SVG to inline in the evidence pages: EVIDENCE.html
// (package evidence/render) and the history page (package evidence/compare).
package svgchart

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The size of a chart of one plot.
const (
	Width  = 17 * vg.Centimeter
	Height = 7 * vg.Centimeter
)

// The colours the charts of both pages share; the verdict's green, red and grey are those of the
// pages' style sheets.
var (
	Blue     = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	Orange   = color.RGBA{R: 0xe3, G: 0x6c, B: 0x09, A: 0xff}
	Green    = color.RGBA{R: 0x1a, G: 0x7f, B: 0x37, A: 0xff}
	Red      = color.RGBA{R: 0xcf, G: 0x22, B: 0x2e, A: 0xff}
	Grey     = color.RGBA{R: 0x6e, G: 0x77, B: 0x81, A: 0xff}
	DarkGrey = color.RGBA{R: 0x57, G: 0x60, B: 0x6a, A: 0xff}
)

// Draw lets paint draw on a canvas of width w and height h and returns the canvas as an <svg>
// element, labelled as an image for assistive technology. What vgsvg writes before the element (an
// XML declaration and a comment) is left out: it has no place inside an HTML document.
//
// gonum/plot panics on data it cannot scale. Draw returns that as an error ("could not be drawn:
// …"), so that a page with such a chart is still written, saying why the chart is missing.
func Draw(w, h vg.Length, paint func(draw.Canvas)) (svg template.HTML, err error) {
	defer func() {
		if p := recover(); p != nil {
			svg, err = "", fmt.Errorf("could not be drawn: %v", p)
		}
	}()
	canvas := vgsvg.New(w, h)
	paint(draw.New(canvas))
	var b bytes.Buffer
	if _, err := canvas.WriteTo(&b); err != nil {
		return "", fmt.Errorf("could not be written: %w", err)
	}
	s := b.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return template.HTML(strings.Replace(s, "<svg ", `<svg role="img" `, 1)), nil
}
