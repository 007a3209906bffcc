package export

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// csvParser is a strict RFC 4180 reader that keeps every byte of a field, CR and LF inside quotes
// included. (encoding/csv turns a quoted CRLF into LF, which would hide a lossy exporter.) Its zero
// configuration reads the strict dialect: fields separated by commas, records ended by CRLF; a
// record ended by a bare LF is accepted but counted in badEnds. With lf set, records end in LF and
// one ended by CRLF is counted in badEnds instead.
//
// It scans the reader's buffer rather than reading byte by byte, and keeps a record's fields in
// one reused buffer: it is on the verification path of every export.
type csvParser struct {
	r       *bufio.Reader
	delim   byte // the field separator; ',' when 0
	lf      bool // records end in LF rather than CRLF
	line    int  // line of the record just read, 1-based
	next    int  // line the next record starts on
	badEnds int

	text   []byte   // the fields of the record just read, one after another
	ends   []int    // per field of the record just read: where it ends in text
	quoted []bool   // per field of the record just read: it was quoted
	fields []string // reused by strings
}

var newline = []byte{'\n'}

// isTransport reports whether err is a failure to read the body rather than a malformed body.
func isTransport(err error) bool {
	if err == nil {
		return false
	}
	var te *transportError
	return errors.As(err, &te)
}

// newCSVParser reads r in the delimiter and line end of d.
func newCSVParser(r *bufio.Reader, d Dialect) *csvParser {
	return &csvParser{r: r, delim: d.delimiter(), lf: d.LF}
}

// record reads the next record and returns its fields in a new slice; io.EOF at the end.
func (p *csvParser) record() ([]string, error) {
	if err := p.read(); err != nil {
		return nil, err
	}
	return append([]string(nil), p.strings()...), nil
}

// strings returns the fields of the record just read; the slice is reused by the next call.
func (p *csvParser) strings() []string {
	s := string(p.text)
	p.fields = p.fields[:0]
	start := 0
	for _, end := range p.ends {
		p.fields = append(p.fields, s[start:end])
		start = end
	}
	return p.fields
}

// read reads the next record into text, ends and quoted; io.EOF at the end.
func (p *csvParser) read() error {
	if p.next == 0 {
		p.next = 1
	}
	if p.delim == 0 {
		p.delim = ','
	}
	p.line = p.next
	p.text, p.ends, p.quoted = p.text[:0], p.ends[:0], p.quoted[:0]
	if _, err := p.r.Peek(1); errors.Is(err, io.EOF) {
		return io.EOF
	}
	for {
		end, err := p.field()
		if err != nil {
			return err
		}
		p.ends = append(p.ends, len(p.text))
		if end {
			return nil
		}
	}
}

// window returns the unread bytes in the reader's buffer, filling it first if it is empty.
func (p *csvParser) window() ([]byte, error) {
	if p.r.Buffered() == 0 {
		if _, err := p.r.Peek(1); err != nil {
			return nil, err
		}
	}
	w, _ := p.r.Peek(p.r.Buffered())
	return w, nil
}

// field reads one field and its terminator; end reports the end of the record.
func (p *csvParser) field() (end bool, err error) {
	w, err := p.window()
	if errors.Is(err, io.EOF) {
		p.quoted = append(p.quoted, false)
		return true, nil // the last record had no line end
	}
	if err != nil {
		return false, err
	}
	p.quoted = append(p.quoted, w[0] == '"')
	if w[0] == '"' {
		_, _ = p.r.Discard(1)
		return p.quotedField()
	}
	return p.bareField()
}

// bareField reads an unquoted field and its terminator.
func (p *csvParser) bareField() (end bool, err error) {
	for {
		w, err := p.window()
		if errors.Is(err, io.EOF) {
			return true, nil // the last record had no line end
		}
		if err != nil {
			return false, err
		}
		i := 0
		for i < len(w) && w[i] != p.delim && w[i] != '\r' && w[i] != '\n' && w[i] != '"' {
			i++
		}
		p.text = append(p.text, w[:i]...)
		if i == len(w) {
			_, _ = p.r.Discard(i)
			continue
		}
		c := w[i]
		_, _ = p.r.Discard(i + 1)
		if c == '"' {
			return false, errors.New("quote inside an unquoted field")
		}
		return p.terminator(c)
	}
}

// quotedField reads the rest of a quoted field, its opening quote read, and its terminator.
func (p *csvParser) quotedField() (end bool, err error) {
	for {
		w, err := p.window()
		if errors.Is(err, io.EOF) {
			return false, errors.New("quoted field not closed")
		}
		if err != nil {
			return false, err
		}
		i := bytes.IndexByte(w, '"')
		if i < 0 {
			i = len(w)
		}
		p.next += bytes.Count(w[:i], newline)
		p.text = append(p.text, w[:i]...)
		if i == len(w) {
			_, _ = p.r.Discard(i)
			continue
		}
		_, _ = p.r.Discard(i + 1)
		d, err := p.r.ReadByte()
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if d == '"' {
			p.text = append(p.text, '"')
			continue
		}
		end, err := p.terminator(d)
		if err != nil && !isTransport(err) {
			err = fmt.Errorf("%q after a closing quote", d)
		}
		return end, err
	}
}

// terminator consumes what follows a field: the delimiter, the line end, the other line end
// (counted in badEnds); anything else is an error.
func (p *csvParser) terminator(c byte) (end bool, err error) {
	switch c {
	case p.delim:
		return false, nil
	case '\n':
		if !p.lf {
			p.badEnds++
		}
		p.next++
		return true, nil
	case '\r':
		d, err := p.r.ReadByte()
		if err == nil && d == '\n' {
			if p.lf {
				p.badEnds++
			}
			p.next++
			return true, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		return false, fmt.Errorf("bare CR outside quotes")
	}
	return false, fmt.Errorf("unexpected %q", c)
}
