package pdftext

import (
	"cmp"
	"errors"
	"io"
	"slices"
)

// fontDecoder turns the bytes of a shown string into UTF-16 code units.
type fontDecoder struct {
	codeLen int // bytes per character code, 1 to 4
	cmap    *toUnicode
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
	codeLen int // from the codespace ranges; 0 if none
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
	// The range that starts last at or before code; ranges do not overlap in a valid CMap.
	k, found := slices.BinarySearchFunc(t.ranges, code, func(r cmapRange, c uint32) int { return cmp.Compare(r.lo, c) })
	if !found {
		k--
	}
	if k < 0 || code > t.ranges[k].hi {
		return nil, false
	}
	r := t.ranges[k]
	off := code - r.lo
	if r.list != nil {
		if uint64(off) < uint64(len(r.list)) {
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

// parseToUnicode reads the codespace, bfchar and bfrange sections of a CMap program (Adobe
// Technical Note #5411).
func parseToUnicode(b []byte) (*toUnicode, error) {
	t := &toUnicode{chars: map[uint32][]uint16{}}
	lx := &lexer{b: b}
	var operands []any
	for {
		tok, err := lx.object(0)
		if errors.Is(err, io.EOF) {
			slices.SortStableFunc(t.ranges, func(a, b cmapRange) int { return cmp.Compare(a.lo, b.lo) })
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		op, isOp := tok.(keyword)
		if !isOp {
			operands = append(operands, tok)
			continue
		}
		switch op {
		case "endcodespacerange":
			for _, o := range operands {
				if s, ok := o.(string); ok && len(s) > t.codeLen && len(s) <= 4 {
					t.codeLen = len(s)
				}
			}
		case "endbfchar":
			for i := 0; i+1 < len(operands); i += 2 {
				src, ok1 := operands[i].(string)
				dst, ok2 := operands[i+1].(string)
				if ok1 && ok2 && len(src) <= 4 {
					t.chars[codeOf(src)] = utf16BE(dst)
				}
			}
		case "endbfrange":
			for i := 0; i+2 < len(operands); i += 3 {
				lo, ok1 := operands[i].(string)
				hi, ok2 := operands[i+1].(string)
				if !ok1 || !ok2 || len(lo) > 4 || len(hi) > 4 {
					continue
				}
				r := cmapRange{lo: codeOf(lo), hi: codeOf(hi)}
				switch dst := operands[i+2].(type) {
				case string:
					r.base = utf16BE(dst)
				case array:
					for _, d := range dst {
						s, _ := d.(string)
						r.list = append(r.list, utf16BE(s))
					}
					if r.list == nil {
						continue
					}
				default:
					continue
				}
				if r.lo <= r.hi {
					t.ranges = append(t.ranges, r)
				}
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
