package pdftext

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// The objects of ISO 32000-1 §7.3 as parsed here: nil (null), bool, float64 (every number),
// string (the bytes of a literal or hex string), name, keyword (an operator in a content stream),
// ref, array, dict and *stream.
type (
	name    string
	keyword string
	ref     struct{ num int }
	array   []any
	dict    map[name]any
	stream  struct {
		dict dict
		raw  []byte // as stored, filters not applied
	}
)

// delim is the token of an opening or closing bracket: '[', ']', '<' for "<<" and '>' for ">>".
type delim byte

// Limits that bound the work a malformed or hostile document can cause.
const (
	maxDepth       = 32                 // nesting of arrays and dictionaries, and of the page tree
	maxStreamBytes = 64 << 20           // a decoded stream
	maxDocBytes    = 4 * maxStreamBytes // all streams decoded for one document
	maxRefHops     = 8                  // a reference resolving to a reference…
	maxSaves       = 4096               // graphics states saved (q) and not restored
)

var errDeep = errors.New("nesting too deep")

// lexer reads tokens and objects from PDF syntax (ISO 32000-1 §7.2, §7.3).
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

// word reads a run of regular characters.
func (l *lexer) word() string {
	start := l.pos
	for l.pos < len(l.b) && !isSpace(l.b[l.pos]) && !isDelim(l.b[l.pos]) {
		l.pos++
	}
	return string(l.b[start:l.pos])
}

// token reads one token: a delim, or a value that is not an array or dictionary. It returns
// io.EOF at the end of the input.
func (l *lexer) token() (any, error) {
	l.skipSpace()
	if l.pos >= len(l.b) {
		return nil, io.EOF
	}
	c := l.b[l.pos]
	double := l.pos+1 < len(l.b) && l.b[l.pos+1] == c
	switch {
	case c == '(':
		l.pos++
		return l.literal()
	case c == '<' && double, c == '>' && double:
		l.pos += 2
		return delim(c), nil
	case c == '<':
		l.pos++
		return l.hex()
	case c == '[' || c == ']':
		l.pos++
		return delim(c), nil
	case c == '/':
		l.pos++
		return name(unescapeName(l.word())), nil
	case c == '{' || c == '}':
		l.pos++
		return keyword(c), nil
	case c == ')' || c == '>':
		return nil, fmt.Errorf("unexpected %q at offset %d", c, l.pos)
	}
	w := l.word()
	switch w {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	if isNumber(w) {
		f, err := strconv.ParseFloat(w, 64)
		if err != nil {
			return nil, fmt.Errorf("number %.20q: %w", w, err)
		}
		return f, nil
	}
	return keyword(w), nil
}

// isNumber reports whether w has the shape of a PDF number: a sign, digits and at most one point.
func isNumber(w string) bool {
	if w != "" && (w[0] == '+' || w[0] == '-') {
		w = w[1:]
	}
	digits, points := 0, 0
	for i := 0; i < len(w); i++ {
		switch {
		case w[i] >= '0' && w[i] <= '9':
			digits++
		case w[i] == '.':
			points++
		default:
			return false
		}
	}
	return digits > 0 && points <= 1
}

// object reads one complete value, arrays and dictionaries included; keywords are values too.
func (l *lexer) object(depth int) (any, error) {
	t, err := l.token()
	if err != nil {
		return nil, err
	}
	return l.value(t, depth)
}

// value completes the value that starts with token t.
func (l *lexer) value(t any, depth int) (any, error) {
	d, ok := t.(delim)
	if !ok {
		return t, nil
	}
	switch d {
	case '[':
		items, err := l.seq(']', depth+1)
		return array(items), err
	case '<':
		items, err := l.seq('>', depth+1)
		if err != nil {
			return nil, err
		}
		if len(items)%2 == 1 {
			return nil, errors.New("dictionary with a key and no value")
		}
		out := make(dict, len(items)/2)
		for i := 0; i < len(items); i += 2 {
			k, ok := items[i].(name)
			if !ok {
				return nil, fmt.Errorf("dictionary key %v is not a name", items[i])
			}
			out[k] = items[i+1]
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected %q", byte(d))
}

// seq reads the items of an array or dictionary up to its closing end, turning "n g R" into a
// ref.
func (l *lexer) seq(end delim, depth int) ([]any, error) {
	if depth > maxDepth {
		return nil, errDeep
	}
	var items []any
	for {
		t, err := l.token()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("unterminated array or dictionary")
		}
		if err != nil {
			return nil, err
		}
		if t == delim(end) {
			return items, nil
		}
		if t == keyword("R") && len(items) >= 2 {
			num, ok1 := objNum(items[len(items)-2])
			_, ok2 := objNum(items[len(items)-1])
			if ok1 && ok2 {
				items = append(items[:len(items)-2], ref{num})
				continue
			}
		}
		v, err := l.value(t, depth)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
}

// objNum returns v as an object or generation number.
func objNum(v any) (int, bool) {
	f, ok := v.(float64)
	if !ok || f < 0 || f > math.MaxInt32 || f != math.Trunc(f) {
		return 0, false
	}
	return int(f), true
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
func (l *lexer) literal() (string, error) {
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
				return string(out), nil
			}
		case '\\':
			if l.pos >= len(l.b) {
				return "", errors.New("unterminated string")
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
	return "", errors.New("unterminated string")
}

// hex reads a <hex string> after its opening bracket.
func (l *lexer) hex() (string, error) {
	end := bytes.IndexByte(l.b[l.pos:], '>')
	if end < 0 {
		return "", errors.New("unterminated hex string")
	}
	out, err := hexBytes(l.b[l.pos : l.pos+end])
	l.pos += end + 1
	return string(out), err
}

// hexBytes decodes hex digits, ignoring white space; a missing last digit is 0.
func hexBytes(b []byte) ([]byte, error) {
	out := make([]byte, 0, len(b)/2+1)
	var hi byte
	odd := false
	for _, c := range b {
		var v byte
		switch {
		case isSpace(c):
			continue
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return nil, fmt.Errorf("bad hex digit %q", c)
		}
		if odd {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		odd = !odd
	}
	if odd {
		out = append(out, hi<<4)
	}
	return out, nil
}
