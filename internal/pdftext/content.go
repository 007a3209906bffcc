package pdftext

import (
	"cmp"
	"errors"
	"io"
	"math"
	"slices"
	"unicode/utf16"
)

// run is one piece of shown text at its starting position in default user space.
type run struct {
	x, y float64
	text []uint16 // UTF-16 code units, decoded at the end so surrogate pairs survive
}

// layout groups runs into lines by baseline (within a point of the line's first) and orders them.
func layout(runs []run) Page {
	slices.SortStableFunc(runs, func(a, b run) int { return cmp.Compare(b.y, a.y) })
	var p Page
	var lines [][]run
	for _, r := range runs {
		if n := len(lines); n > 0 && lines[n-1][0].y-r.y <= 1 {
			lines[n-1] = append(lines[n-1], r)
			continue
		}
		lines = append(lines, []run{r})
	}
	for _, line := range lines {
		slices.SortStableFunc(line, func(a, b run) int { return cmp.Compare(a.x, b.x) })
		texts := make([]string, len(line))
		for i, r := range line {
			texts[i] = string(utf16.Decode(r.text))
		}
		p.Lines = append(p.Lines, texts)
	}
	return p
}

// matrix is a PDF transformation matrix [a b c d e f].
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n (apply m, then n).
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

// graphics is the part of the graphics state text extraction needs.
type graphics struct {
	ctm     matrix
	font    *fontDecoder
	leading float64
}

// finite returns v, or 0 for an infinity or NaN, so that positions always order.
func finite(v float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0
	}
	return v
}

// interpret runs a content stream far enough to know which text is shown where.
func interpret(content []byte, fonts map[string]*fontDecoder) ([]run, error) {
	lx := &lexer{b: content}
	gs := graphics{ctm: identity, font: &fontDecoder{codeLen: 1}}
	var (
		stack    []graphics
		operands []any
		runs     []run
		tm, tlm  = identity, identity
		open     bool // the last run may still be extended (no repositioning since)
	)
	num := func(i int) float64 {
		if i < len(operands) {
			if f, ok := operands[i].(float64); ok {
				return f
			}
		}
		return 0
	}
	mat := func() matrix { return matrix{num(0), num(1), num(2), num(3), num(4), num(5)} }
	show := func(s string) {
		u := gs.font.decode([]byte(s))
		if open && len(runs) > 0 {
			runs[len(runs)-1].text = append(runs[len(runs)-1].text, u...)
			return
		}
		pos := tm.mul(gs.ctm)
		runs = append(runs, run{x: finite(pos[4]), y: finite(pos[5]), text: u})
		open = true
	}
	newLine := func(tx, ty float64) {
		tlm = matrix{1, 0, 0, 1, tx, ty}.mul(tlm)
		tm, open = tlm, false
	}
	for {
		tok, err := lx.token()
		if errors.Is(err, io.EOF) {
			return runs, nil
		}
		if err != nil {
			return nil, err
		}
		op, isOp := tok.(keyword)
		if !isOp {
			v, err := lx.value(tok, 0)
			if err != nil {
				return nil, err
			}
			operands = append(operands, v)
			continue
		}
		n := len(operands)
		switch op {
		case "q":
			if len(stack) >= maxSaves {
				return nil, errors.New("graphics state stack too deep")
			}
			stack = append(stack, gs)
		case "Q":
			if len(stack) > 0 {
				gs, stack = stack[len(stack)-1], stack[:len(stack)-1]
			}
		case "cm":
			if n == 6 {
				gs.ctm = mat().mul(gs.ctm)
			}
		case "BT":
			tm, tlm, open = identity, identity, false
		case "ET":
			open = false
		case "Tf":
			if f, ok := fonts[string(nameAt(operands, 0))]; ok && n == 2 {
				gs.font = f
			} else if n == 2 {
				gs.font = &fontDecoder{codeLen: 1}
			}
		case "TL":
			gs.leading = num(0)
		case "Td":
			newLine(num(0), num(1))
		case "TD":
			gs.leading = -num(1)
			newLine(num(0), num(1))
		case "Tm":
			if n == 6 {
				tlm = mat()
				tm, open = tlm, false
			}
		case "T*":
			newLine(0, -gs.leading)
		case "Tj":
			if s, ok := stringAt(operands, 0); ok && n == 1 {
				show(s)
			}
		case "'", "\"":
			newLine(0, -gs.leading)
			if s, ok := stringAt(operands, n-1); ok {
				show(s)
			}
		case "TJ":
			if n != 1 {
				break
			}
			if items, ok := operands[0].(array); ok {
				for _, it := range items {
					switch it := it.(type) {
					case string:
						show(it)
					case float64:
						if it < -250 && open {
							runs[len(runs)-1].text = append(runs[len(runs)-1].text, ' ') // a wide gap reads as a space
						}
					}
				}
			}
		case "BI":
			if err := lx.skipInlineImage(); err != nil {
				return nil, err
			}
		}
		operands = operands[:0]
	}
}

func stringAt(operands []any, i int) (string, bool) {
	if i < 0 || i >= len(operands) {
		return "", false
	}
	s, ok := operands[i].(string)
	return s, ok
}

func nameAt(operands []any, i int) name {
	if i < 0 || i >= len(operands) {
		return ""
	}
	s, _ := operands[i].(name)
	return s
}

// skipInlineImage skips from after BI past the image data and its EI.
func (l *lexer) skipInlineImage() error {
	for {
		t, err := l.object(0)
		if errors.Is(err, io.EOF) {
			return errors.New("inline image without ID")
		}
		if err != nil {
			return err
		}
		if t == keyword("ID") {
			break
		}
	}
	for i := l.pos + 1; i+2 <= len(l.b); i++ {
		if l.b[i] == 'E' && l.b[i+1] == 'I' && isSpace(l.b[i-1]) && (i+2 == len(l.b) || isSpace(l.b[i+2])) {
			l.pos = i + 2
			return nil
		}
	}
	return errors.New("inline image without EI")
}
