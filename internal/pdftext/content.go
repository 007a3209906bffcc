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
	in := &interpreter{
		fonts: fonts,
		gs:    graphics{ctm: identity, font: &fontDecoder{codeLen: 1}},
		tm:    identity,
		tlm:   identity,
	}
	for {
		tok, err := lx.token()
		if errors.Is(err, io.EOF) {
			return in.runs, nil
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
			in.operands = append(in.operands, v)
			continue
		}
		if op == "BI" {
			// The image's data is not PDF syntax: only the lexer can step over it.
			if err := lx.skipInlineImage(); err != nil {
				return nil, err
			}
		} else if err := in.operator(op); err != nil {
			return nil, err
		}
		in.operands = in.operands[:0]
	}
}

// interpreter is the state of a content stream being run: the graphics state with its saved
// copies, the text matrices, the pending operands, and the runs shown so far.
type interpreter struct {
	fonts    map[string]*fontDecoder
	gs       graphics
	stack    []graphics
	operands []any
	runs     []run
	tm, tlm  matrix
	open     bool // the last run may still be extended (no repositioning since)
}

// operator applies op to the operands before it. Operators that neither place nor show text
// change nothing: they do not matter to where text is.
func (in *interpreter) operator(op keyword) error {
	n := len(in.operands)
	switch op {
	case "q":
		if len(in.stack) >= maxSaves {
			return errors.New("graphics state stack too deep")
		}
		in.stack = append(in.stack, in.gs)
	case "Q":
		if len(in.stack) > 0 {
			in.gs, in.stack = in.stack[len(in.stack)-1], in.stack[:len(in.stack)-1]
		}
	case "cm":
		if n == 6 {
			in.gs.ctm = in.mat().mul(in.gs.ctm)
		}
	case "BT":
		in.tm, in.tlm, in.open = identity, identity, false
	case "ET":
		in.open = false
	case "Tf":
		if f, ok := in.fonts[string(nameAt(in.operands, 0))]; ok && n == 2 {
			in.gs.font = f
		} else if n == 2 {
			in.gs.font = &fontDecoder{codeLen: 1}
		}
	case "TL":
		in.gs.leading = in.num(0)
	case "Td":
		in.newLine(in.num(0), in.num(1))
	case "TD":
		in.gs.leading = -in.num(1)
		in.newLine(in.num(0), in.num(1))
	case "Tm":
		if n == 6 {
			in.tlm = in.mat()
			in.tm, in.open = in.tlm, false
		}
	case "T*":
		in.newLine(0, -in.gs.leading)
	case "Tj":
		if s, ok := stringAt(in.operands, 0); ok && n == 1 {
			in.show(s)
		}
	case "'", "\"":
		in.newLine(0, -in.gs.leading)
		if s, ok := stringAt(in.operands, n-1); ok {
			in.show(s)
		}
	case "TJ":
		if n == 1 {
			in.showArray()
		}
	}
	return nil
}

// num is operand i as a number, 0 when it is missing or no number: a malformed operator
// still leaves the text readable.
func (in *interpreter) num(i int) float64 {
	if i < len(in.operands) {
		if f, ok := in.operands[i].(float64); ok {
			return f
		}
	}
	return 0
}

// mat is the six operands as a matrix.
func (in *interpreter) mat() matrix {
	return matrix{in.num(0), in.num(1), in.num(2), in.num(3), in.num(4), in.num(5)}
}

// show adds s as shown text: to the open run, so that a line shown piece by piece stays one
// run, or as a new run at the text position in default user space.
func (in *interpreter) show(s string) {
	u := in.gs.font.decode([]byte(s))
	if in.open && len(in.runs) > 0 {
		in.runs[len(in.runs)-1].text = append(in.runs[len(in.runs)-1].text, u...)
		return
	}
	pos := in.tm.mul(in.gs.ctm)
	in.runs = append(in.runs, run{x: finite(pos[4]), y: finite(pos[5]), text: u})
	in.open = true
}

// showArray shows TJ's array: its strings, and a space for a wide gap between them.
func (in *interpreter) showArray() {
	items, ok := in.operands[0].(array)
	if !ok {
		return
	}
	for _, it := range items {
		switch it := it.(type) {
		case string:
			in.show(it)
		case float64:
			if it < -250 && in.open {
				in.runs[len(in.runs)-1].text = append(in.runs[len(in.runs)-1].text, ' ') // a wide gap reads as a space
			}
		}
	}
}

// newLine moves to the start of the next line, offset by (tx, ty) from the current one; the
// next text shown starts a run of its own.
func (in *interpreter) newLine(tx, ty float64) {
	in.tlm = matrix{1, 0, 0, 1, tx, ty}.mul(in.tlm)
	in.tm, in.open = in.tlm, false
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
