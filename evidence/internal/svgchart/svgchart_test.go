package svgchart

import (
	"strings"
	"testing"

	"gonum.org/v1/plot/vg/draw"
)

func TestDraw(t *testing.T) {
	svg, err := Draw(Width, Height, func(draw.Canvas) {})
	if err != nil || !strings.HasPrefix(string(svg), `<svg role="img" `) {
		t.Errorf("Draw = %.60q, %v; want an <svg> element labelled as an image", svg, err)
	}
	svg, err = Draw(Width, Height, func(draw.Canvas) { panic("no ticks") })
	if svg != "" || err == nil || err.Error() != "could not be drawn: no ticks" {
		t.Errorf("Draw of a panicking plot = %q, %v", svg, err)
	}
}
