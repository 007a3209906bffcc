package exporter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The ingest path parses flat JSON objects with this small strict scanner instead of encoding/json:
// a record is one level of string/number/bool values, and the scanner keeps number text exactly as
// written (decimals must not pass through float64), rejects invalid UTF-8 instead of replacing it,
// rejects duplicate keys, and does not allocate for strings without escapes. FuzzParseNDJSON checks it
// against encoding/json.

type jsonKind uint8

const (
	kindString jsonKind = iota + 1
	kindNumber
	kindBool
	kindNull
)

func (k jsonKind) String() string {
	switch k {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "a boolean"
	case kindNull:
		return "null"
	}
	return "nothing"
}

// jsonValue is one scalar: text is the unescaped string, or the number/literal as written.
type jsonValue struct {
	kind jsonKind
	text []byte
}

type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", s.i+1, fmt.Sprintf(format, args...))
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) unexpected() error {
	if s.i >= len(s.b) {
		return s.errorf("unexpected end of input")
	}
	c := s.b[s.i]
	if c < 0x20 || c >= 0x7f {
		return s.errorf("unexpected byte 0x%02x", c)
	}
	return s.errorf("unexpected %q", c)
}

// object scans one flat JSON object, calling fn for each member, and requires nothing but
// whitespace after it.
func (s *jsonScanner) object(fn func(key []byte, v jsonValue) error) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		if s.i < len(s.b) && s.b[s.i] == '[' {
			return s.errorf("want a JSON object, got an array")
		}
		return s.unexpected()
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
	} else {
		for {
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return s.unexpected()
			}
			key, err := s.str()
			if err != nil {
				return err
			}
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return s.unexpected()
			}
			s.i++
			s.ws()
			v, err := s.value()
			if err != nil {
				return err
			}
			if err := fn(key, v); err != nil {
				return err
			}
			s.ws()
			if s.i < len(s.b) && s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.i < len(s.b) && s.b[s.i] == '}' {
				s.i++
				break
			}
			return s.unexpected()
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return s.errorf("unexpected data after the object")
	}
	return nil
}

func (s *jsonScanner) value() (jsonValue, error) {
	if s.i >= len(s.b) {
		return jsonValue{}, s.unexpected()
	}
	switch c := s.b[s.i]; {
	case c == '"':
		t, err := s.str()
		return jsonValue{kindString, t}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true", kindBool)
	case c == 'f':
		return s.literal("false", kindBool)
	case c == 'n':
		return s.literal("null", kindNull)
	case c == '{' || c == '[':
		return jsonValue{}, s.errorf("nested objects and arrays are not allowed in a record")
	}
	return jsonValue{}, s.unexpected()
}

func (s *jsonScanner) literal(lit string, k jsonKind) (jsonValue, error) {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return jsonValue{}, s.unexpected()
	}
	v := jsonValue{k, s.b[s.i : s.i+len(lit)]}
	s.i += len(lit)
	return v, nil
}

func (s *jsonScanner) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

func (s *jsonScanner) number() (jsonValue, error) {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if s.digits() == 0 {
		return jsonValue{}, s.unexpected()
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return jsonValue{}, s.unexpected()
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return jsonValue{}, s.unexpected()
		}
	}
	return jsonValue{kindNumber, s.b[start:s.i]}, nil
}

// str scans a string starting at the opening quote. Without escapes the result aliases the input.
func (s *jsonScanner) str() ([]byte, error) {
	s.i++ // opening quote
	start := s.i
	var out []byte // nil until the first escape
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if out == nil {
				return s.b[start : s.i-1], nil
			}
			return out, nil
		case c < 0x20:
			return nil, s.errorf("control character 0x%02x in a string must be escaped", c)
		case c == '\\':
			if out == nil {
				out = append(make([]byte, 0, s.i-start+16), s.b[start:s.i]...)
			}
			r, err := s.escape()
			if err != nil {
				return nil, err
			}
			out = utf8.AppendRune(out, r)
		case c < utf8.RuneSelf:
			s.i++
			if out != nil {
				out = append(out, c)
			}
		default:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, s.errorf("invalid UTF-8")
			}
			if out != nil {
				out = append(out, s.b[s.i:s.i+size]...)
			}
			s.i += size
		}
	}
	return nil, s.errorf("unterminated string")
}

func (s *jsonScanner) escape() (rune, error) {
	if s.i+1 >= len(s.b) {
		s.i = len(s.b)
		return 0, s.unexpected()
	}
	c := s.b[s.i+1]
	s.i += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := s.hex4()
		if err != nil {
			return 0, err
		}
		if utf16.IsSurrogate(r) {
			if r >= 0xdc00 || s.i+1 >= len(s.b) || s.b[s.i] != '\\' || s.b[s.i+1] != 'u' {
				return 0, s.errorf("unpaired UTF-16 surrogate in \\u escape")
			}
			s.i += 2
			r2, err := s.hex4()
			if err != nil {
				return 0, err
			}
			if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
				return 0, s.errorf("unpaired UTF-16 surrogate in \\u escape")
			}
		}
		return r, nil
	}
	s.i--
	return 0, s.errorf("invalid escape \\%c", c)
}

func (s *jsonScanner) hex4() (rune, error) {
	if len(s.b)-s.i < 4 {
		return 0, s.errorf("short \\u escape")
	}
	n, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	if err != nil {
		return 0, s.errorf("invalid \\u escape")
	}
	s.i += 4
	return rune(n), nil
}

// recordParser turns one JSON object into an id and the stored encoding of its cells (see
// encodeCells). It is reused across the lines of a batch; it is not safe for concurrent use.
type recordParser struct {
	schema Schema
	vals   []jsonValue
	have   []bool
}

func newRecordParser(s Schema) *recordParser {
	return &recordParser{schema: s, vals: make([]jsonValue, len(s.Columns)), have: make([]bool, len(s.Columns))}
}

var errNoID = errors.New(`missing field "id"`)

// parse appends the stored encoding of the record in line to dst.
func (p *recordParser) parse(dst, line []byte) (id uint64, out []byte, err error) {
	clear(p.have)
	var haveID bool
	sc := jsonScanner{b: line}
	err = sc.object(func(key []byte, v jsonValue) error {
		if string(key) == "id" {
			if haveID {
				return fmt.Errorf(`duplicate field "id"`)
			}
			haveID = true
			if v.kind != kindNumber {
				return fmt.Errorf(`field "id": want a positive integer, got %s`, v.kind)
			}
			n, err := strconv.ParseUint(string(v.text), 10, 63)
			if err != nil || n == 0 {
				return fmt.Errorf(`field "id": want a positive integer below 2^63, got %s`, truncate(v.text))
			}
			id = n
			return nil
		}
		i := p.schema.index(string(key))
		if i < 0 {
			return fmt.Errorf("unknown field %q", truncate(key))
		}
		if p.have[i] {
			return fmt.Errorf("duplicate field %q", key)
		}
		p.have[i], p.vals[i] = true, v
		return nil
	})
	if err != nil {
		return 0, dst, err
	}
	if !haveID {
		return 0, dst, errNoID
	}
	for i, c := range p.schema.Columns {
		if !p.have[i] {
			return 0, dst, fmt.Errorf("missing field %q", c.Name)
		}
	}
	out = dst
	var cell []byte
	for i, c := range p.schema.Columns {
		if p.vals[i].kind == kindNull {
			return 0, dst, fmt.Errorf("field %q: null is not allowed", c.Name)
		}
		cell, err = cellText(cell[:0], c.Type, p.vals[i])
		if err != nil {
			return 0, dst, fmt.Errorf("field %q: %w", c.Name, err)
		}
		out = binary.AppendUvarint(out, uint64(len(cell)))
		out = append(out, cell...)
	}
	return id, out, nil
}

// DecodeCells splits a stored value (Record.Value) into its cells, reusing cells. The cells alias v. A cell shorter
// than 128 bytes, nearly every one, has a length of one byte, read here without binary.Uvarint.
func DecodeCells(cells [][]byte, v []byte, n int) ([][]byte, error) {
	if cap(cells) < n {
		cells = make([][]byte, n)
	}
	cells = cells[:n]
	for i := range cells {
		if len(v) == 0 {
			return cells[:i], ErrCorrupt
		}
		l, k := uint64(v[0]), 1
		if l >= 0x80 {
			if l, k = binary.Uvarint(v); k <= 0 {
				return cells[:i], ErrCorrupt
			}
		}
		if uint64(len(v)-k) < l {
			return cells[:i], ErrCorrupt
		}
		cells[i] = v[k : k+int(l)]
		v = v[k+int(l):]
	}
	if len(v) != 0 {
		return cells, ErrCorrupt
	}
	return cells, nil
}

// ErrCorrupt is a stored record that does not decode as its schema says: a bug or a damaged store.
var ErrCorrupt = errors.New("stored record does not match its schema")
