package export

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Page is the text of one PDF page: lines from top to bottom, each line's text runs from left to
// right. A run is the text of one show-text sequence, which for a table is one cell.
type Page struct {
	Lines [][]string
}

// run is one piece of shown text at its starting position in default user space.
type run struct {
	x, y float64
	text []uint16 // UTF-16 code units, decoded at the end so surrogate pairs survive
}

// extractText returns the text of every page of a PDF read by pdfcpu. Text is decoded through each
// font's ToUnicode CMap (bfchar and bfrange entries), which is how a UTF-8 TrueType font embedded
// by fpdf (Identity-H, two-byte codes) can be read back; fonts without one fall back to WinAnsi for
// simple fonts and to UTF-16 for two-byte fonts.
func extractText(ctx *model.Context) ([]Page, error) {
	fonts := map[int]*fontDecoder{} // by object number, shared across pages
	pages := make([]Page, 0, ctx.PageCount)
	for n := 1; n <= ctx.PageCount; n++ {
		d, _, inh, err := ctx.PageDict(n, false)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", n, err)
		}
		content, err := ctx.PageContent(d, n)
		if err != nil && !errors.Is(err, model.ErrNoContent) {
			return nil, fmt.Errorf("page %d content: %w", n, err)
		}
		res := inh.Resources
		if o, ok := d.Find("Resources"); ok {
			if rd, err := ctx.DereferenceDict(o); err == nil && rd != nil {
				res = rd
			}
		}
		decoders, err := pageFonts(ctx, res, fonts)
		if err != nil {
			return nil, fmt.Errorf("page %d fonts: %w", n, err)
		}
		runs, err := interpret(content, decoders)
		if err != nil {
			return nil, fmt.Errorf("page %d content: %w", n, err)
		}
		pages = append(pages, layout(runs))
	}
	return pages, nil
}

// layout groups runs into lines by baseline (within a point) and orders them.
func layout(runs []run) Page {
	slices.SortStableFunc(runs, func(a, b run) int {
		if math.Abs(a.y-b.y) > 1 {
			return cmp.Compare(b.y, a.y)
		}
		return cmp.Compare(a.x, b.x)
	})
	var p Page
	lineY := math.Inf(1)
	for _, r := range runs {
		if math.Abs(r.y-lineY) > 1 {
			p.Lines = append(p.Lines, nil)
			lineY = r.y
		}
		last := len(p.Lines) - 1
		p.Lines[last] = append(p.Lines[last], string(utf16.Decode(r.text)))
	}
	return p
}

// pageFonts returns a decoder for every font resource name of a page.
func pageFonts(ctx *model.Context, res types.Dict, cache map[int]*fontDecoder) (map[string]*fontDecoder, error) {
	out := map[string]*fontDecoder{}
	if res == nil {
		return out, nil
	}
	o, ok := res.Find("Font")
	if !ok {
		return out, nil
	}
	fd, err := ctx.DereferenceDict(o)
	if err != nil || fd == nil {
		return out, err
	}
	for name, ref := range fd {
		key := -1
		if ir, ok := ref.(types.IndirectRef); ok {
			key = ir.ObjectNumber.Value()
			if dec, ok := cache[key]; ok {
				out[name] = dec
				continue
			}
		}
		font, err := ctx.DereferenceDict(ref)
		if err != nil || font == nil {
			return nil, fmt.Errorf("font %s: %v", name, err)
		}
		dec, err := newFontDecoder(ctx, font)
		if err != nil {
			return nil, fmt.Errorf("font %s: %w", name, err)
		}
		if key >= 0 {
			cache[key] = dec
		}
		out[name] = dec
	}
	return out, nil
}

// fontDecoder turns the bytes of a shown string into UTF-16 code units.
type fontDecoder struct {
	codeLen int // bytes per character code
	cmap    *toUnicode
}

func newFontDecoder(ctx *model.Context, font types.Dict) (*fontDecoder, error) {
	dec := &fontDecoder{codeLen: 1}
	if st := font.NameEntry("Subtype"); st != nil && *st == "Type0" {
		dec.codeLen = 2
	}
	o, ok := font.Find("ToUnicode")
	if !ok {
		return dec, nil
	}
	sd, _, err := ctx.DereferenceStreamDict(o)
	if err != nil || sd == nil {
		return dec, err
	}
	if err := sd.Decode(); err != nil {
		return nil, fmt.Errorf("ToUnicode stream: %w", err)
	}
	cm, err := parseToUnicode(sd.Content)
	if err != nil {
		return nil, fmt.Errorf("ToUnicode: %w", err)
	}
	dec.cmap = cm
	if cm.codeLen > 0 {
		dec.codeLen = cm.codeLen
	}
	return dec, nil
}

func (f *fontDecoder) decode(b []byte) []uint16 {
	var out []uint16
	for i := 0; i+f.codeLen <= len(b); i += f.codeLen {
		code := uint32(0)
		for _, c := range b[i : i+f.codeLen] {
			code = code<<8 | uint32(c)
		}
		if f.cmap != nil {
			if u, ok := f.cmap.lookup(code); ok {
				out = append(out, u...)
				continue
			}
		}
		if f.codeLen == 1 {
			out = append(out, uint16(winAnsi(byte(code))))
		} else {
			out = append(out, uint16(code))
		}
	}
	return out
}

// winAnsi maps a WinAnsiEncoding byte to its rune (approximately: the 0x80-0x9F block as in
// Windows-1252, the rest as Latin-1).
func winAnsi(b byte) rune {
	const block = "€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ"
	if b >= 0x80 && b <= 0x9F {
		return []rune(block)[b-0x80]
	}
	return rune(b)
}

// toUnicode is a parsed ToUnicode CMap.
type toUnicode struct {
	codeLen int
	chars   map[uint32][]uint16
	ranges  []cmapRange
}

type cmapRange struct {
	lo, hi uint32
	base   []uint16   // destination of lo; later codes increment its last unit
	list   [][]uint16 // or one destination per code
}

func (t *toUnicode) lookup(code uint32) ([]uint16, bool) {
	if u, ok := t.chars[code]; ok {
		return u, true
	}
	for _, r := range t.ranges {
		if code < r.lo || code > r.hi {
			continue
		}
		off := code - r.lo
		if r.list != nil {
			if int(off) < len(r.list) {
				return r.list[off], true
			}
			return nil, false
		}
		u := slices.Clone(r.base)
		if len(u) > 0 {
			u[len(u)-1] += uint16(off)
		}
		return u, true
	}
	return nil, false
}

// parseToUnicode reads the codespace, bfchar and bfrange sections of a CMap program.
func parseToUnicode(b []byte) (*toUnicode, error) {
	t := &toUnicode{chars: map[uint32][]uint16{}}
	lx := &lexer{b: b}
	var operands []token
	for {
		tok, err := lx.next()
		if err != nil {
			return nil, err
		}
		if tok.kind == tokEOF {
			return t, nil
		}
		if tok.kind != tokKeyword {
			operands = append(operands, tok)
			continue
		}
		switch tok.s {
		case "endcodespacerange":
			for _, o := range operands {
				if o.kind == tokString && len(o.s) > t.codeLen {
					t.codeLen = len(o.s)
				}
			}
		case "endbfchar":
			for i := 0; i+1 < len(operands); i += 2 {
				src, dst := operands[i], operands[i+1]
				if src.kind == tokString && dst.kind == tokString {
					t.chars[codeOf(src.s)] = utf16BE(dst.s)
				}
			}
		case "endbfrange":
			for i := 0; i+2 < len(operands); i += 3 {
				lo, hi, dst := operands[i], operands[i+1], operands[i+2]
				if lo.kind != tokString || hi.kind != tokString {
					continue
				}
				r := cmapRange{lo: codeOf(lo.s), hi: codeOf(hi.s)}
				switch dst.kind {
				case tokString:
					r.base = utf16BE(dst.s)
				case tokArray:
					for _, d := range dst.items {
						r.list = append(r.list, utf16BE(d.s))
					}
				default:
					continue
				}
				t.ranges = append(t.ranges, r)
			}
		}
		operands = operands[:0]
	}
}

func codeOf(s string) uint32 {
	var c uint32
	for i := 0; i < len(s); i++ {
		c = c<<8 | uint32(s[i])
	}
	return c
}

func utf16BE(s string) []uint16 {
	u := make([]uint16, 0, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		u = append(u, uint16(s[i])<<8|uint16(s[i+1]))
	}
	return u
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

// interpret runs a content stream far enough to know which text is shown where.
func interpret(content []byte, fonts map[string]*fontDecoder) ([]run, error) {
	lx := &lexer{b: content}
	gs := graphics{ctm: identity}
	var (
		stack    []graphics
		operands []token
		runs     []run
		tm, tlm  = identity, identity
		open     bool // the last run may still be extended (no repositioning since)
	)
	num := func(i int) float64 {
		if i < len(operands) && operands[i].kind == tokNumber {
			return operands[i].num
		}
		return 0
	}
	show := func(b []byte) {
		if gs.font == nil {
			gs.font = &fontDecoder{codeLen: 1}
		}
		u := gs.font.decode(b)
		if open && len(runs) > 0 {
			runs[len(runs)-1].text = append(runs[len(runs)-1].text, u...)
			return
		}
		pos := tm.mul(gs.ctm)
		runs = append(runs, run{x: pos[4], y: pos[5], text: u})
		open = true
	}
	newLine := func(tx, ty float64) {
		tlm = matrix{1, 0, 0, 1, tx, ty}.mul(tlm)
		tm, open = tlm, false
	}
	for {
		tok, err := lx.next()
		if err != nil {
			return nil, err
		}
		if tok.kind == tokEOF {
			return runs, nil
		}
		if tok.kind != tokKeyword {
			operands = append(operands, tok)
			continue
		}
		n := len(operands)
		switch tok.s {
		case "q":
			stack = append(stack, gs)
		case "Q":
			if len(stack) > 0 {
				gs, stack = stack[len(stack)-1], stack[:len(stack)-1]
			}
		case "cm":
			if n == 6 {
				gs.ctm = matrix{num(0), num(1), num(2), num(3), num(4), num(5)}.mul(gs.ctm)
			}
		case "BT":
			tm, tlm, open = identity, identity, false
		case "ET":
			open = false
		case "Tf":
			if n == 2 && operands[0].kind == tokName {
				gs.font = fonts[operands[0].s]
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
				tlm = matrix{num(0), num(1), num(2), num(3), num(4), num(5)}
				tm, open = tlm, false
			}
		case "T*":
			newLine(0, -gs.leading)
		case "Tj":
			if n == 1 && operands[0].kind == tokString {
				show([]byte(operands[0].s))
			}
		case "'", "\"":
			newLine(0, -gs.leading)
			if n > 0 && operands[n-1].kind == tokString {
				show([]byte(operands[n-1].s))
			}
		case "TJ":
			if n == 1 && operands[0].kind == tokArray {
				for _, it := range operands[0].items {
					switch {
					case it.kind == tokString:
						show([]byte(it.s))
					case it.kind == tokNumber && it.num < -250 && open:
						runs[len(runs)-1].text = append(runs[len(runs)-1].text, ' ') // a wide gap reads as a space
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

// Lexer for content streams and CMaps (ISO 32000-1, 7.2 and 7.3).

type tokKind int

const (
	tokEOF tokKind = iota
	tokNumber
	tokString // literal or hex string, as bytes
	tokName   // without the slash
	tokArray
	tokDict // contents not kept
	tokKeyword
)

type token struct {
	kind  tokKind
	s     string
	num   float64
	items []token
}

type lexer struct {
	b   []byte
	pos int
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool { return strings.IndexByte("()<>[]{}/%", c) >= 0 }

func (l *lexer) skipSpace() {
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		switch {
		case isSpace(c):
			l.pos++
		case c == '%':
			for l.pos < len(l.b) && l.b[l.pos] != '\n' && l.b[l.pos] != '\r' {
				l.pos++
			}
		default:
			return
		}
	}
}

func (l *lexer) next() (token, error) {
	l.skipSpace()
	if l.pos >= len(l.b) {
		return token{kind: tokEOF}, nil
	}
	c := l.b[l.pos]
	switch {
	case c == '(':
		l.pos++
		return l.literal()
	case c == '<' && l.pos+1 < len(l.b) && l.b[l.pos+1] == '<':
		l.pos += 2
		for {
			l.skipSpace()
			if l.pos+1 < len(l.b) && l.b[l.pos] == '>' && l.b[l.pos+1] == '>' {
				l.pos += 2
				return token{kind: tokDict}, nil
			}
			t, err := l.next()
			if err != nil {
				return t, err
			}
			if t.kind == tokEOF {
				return t, errors.New("unterminated dictionary")
			}
		}
	case c == '<':
		l.pos++
		return l.hex()
	case c == '[':
		l.pos++
		arr := token{kind: tokArray}
		for {
			l.skipSpace()
			if l.pos < len(l.b) && l.b[l.pos] == ']' {
				l.pos++
				return arr, nil
			}
			t, err := l.next()
			if err != nil {
				return t, err
			}
			if t.kind == tokEOF {
				return t, errors.New("unterminated array")
			}
			arr.items = append(arr.items, t)
		}
	case c == '/':
		l.pos++
		start := l.pos
		for l.pos < len(l.b) && !isSpace(l.b[l.pos]) && !isDelim(l.b[l.pos]) {
			l.pos++
		}
		return token{kind: tokName, s: unescapeName(string(l.b[start:l.pos]))}, nil
	case c == ')' || c == '>' || c == ']' || c == '{' || c == '}':
		l.pos++
		return token{kind: tokKeyword, s: string(c)}, nil
	}
	start := l.pos
	for l.pos < len(l.b) && !isSpace(l.b[l.pos]) && !isDelim(l.b[l.pos]) {
		l.pos++
	}
	word := string(l.b[start:l.pos])
	if f, err := strconv.ParseFloat(word, 64); err == nil && strings.IndexAny(word[:1], "+-.0123456789") == 0 {
		return token{kind: tokNumber, num: f}, nil
	}
	return token{kind: tokKeyword, s: word}, nil
}

func unescapeName(s string) string {
	if !strings.Contains(s, "#") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// literal reads a (string) after its opening parenthesis.
func (l *lexer) literal() (token, error) {
	var out []byte
	depth := 1
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return token{kind: tokString, s: string(out)}, nil
			}
		case '\\':
			if l.pos >= len(l.b) {
				return token{}, errors.New("unterminated string")
			}
			e := l.b[l.pos]
			l.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r': // a line continuation
				if l.pos < len(l.b) && l.b[l.pos] == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && l.pos < len(l.b) && l.b[l.pos] >= '0' && l.b[l.pos] <= '7'; k++ {
						v = v*8 + int(l.b[l.pos]-'0')
						l.pos++
					}
					c = byte(v)
				} else {
					c = e // \( \) \\ and unknown escapes stand for themselves
				}
			}
		}
		out = append(out, c)
	}
	return token{}, errors.New("unterminated string")
}

// hex reads a <hex string> after its opening bracket.
func (l *lexer) hex() (token, error) {
	end := bytes.IndexByte(l.b[l.pos:], '>')
	if end < 0 {
		return token{}, errors.New("unterminated hex string")
	}
	var digits []byte
	for _, c := range l.b[l.pos : l.pos+end] {
		if !isSpace(c) {
			digits = append(digits, c)
		}
	}
	l.pos += end + 1
	if len(digits)%2 == 1 {
		digits = append(digits, '0')
	}
	out := make([]byte, len(digits)/2)
	for i := range out {
		v, err := strconv.ParseUint(string(digits[2*i:2*i+2]), 16, 8)
		if err != nil {
			return token{}, fmt.Errorf("bad hex string: %w", err)
		}
		out[i] = byte(v)
	}
	return token{kind: tokString, s: string(out)}, nil
}

// skipInlineImage skips from after BI past the image data and its EI.
func (l *lexer) skipInlineImage() error {
	for {
		t, err := l.next()
		if err != nil {
			return err
		}
		if t.kind == tokEOF {
			return errors.New("inline image without ID")
		}
		if t.kind == tokKeyword && t.s == "ID" {
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
