// Package csvenc encodes records as CSV (RFC 4180) for spreadsheets: CRLF line ends, quotes only
// where a field needs them, an optional UTF-8 byte order mark, and the formula-injection guard
// (OWASP) on string cells.
//
// The guard: a string cell that starts with =, +, -, @, tab or CR would be read by a spreadsheet as
// the start of a formula, so it is written with a ' in front. A cell that starts with ' gets one as
// well, which makes the rule invertible: to read a string cell back, drop one leading ' if it has
// one. Cells of other columns (numbers, timestamps, booleans) are never altered, so -5 stays -5.
//
// Cells are bytes, written as they are: the encoder neither checks nor changes their encoding.
package csvenc

import (
	"bytes"
	"encoding/binary"
	"io"
)

// bufSize is how much a Writer collects before it writes to its io.Writer, about 64 KiB (the
// exporter's stream gathers these writes into chunks of its own).
const bufSize = 64 << 10

// needsQuote marks the bytes that force a field into quotes (RFC 4180), with 1: OR-ing the marks of
// a cell's bytes tells whether it needs quotes without a branch per byte.
var needsQuote = [256]uint8{',': 1, '"': 1, '\r': 1, '\n': 1}

// guarded marks the first bytes of a string cell that get the formula guard.
var guarded = [256]bool{'=': true, '+': true, '-': true, '@': true, '\t': true, '\r': true, '\'': true}

// Writer writes CSV records to an io.Writer. It buffers: call Close (or Flush) when done, and check
// its error. After a failed write to the io.Writer, every call returns that error.
type Writer struct {
	// BOM starts the output with a UTF-8 byte order mark, which Excel needs to read UTF-8. Set it
	// before the first Write.
	BOM bool
	// Strings marks the columns that hold strings: Strings[i] puts cell i of every record under the
	// formula guard. Columns past its end are not guarded.
	Strings []bool
	// Plain marks the columns whose cells never hold a byte that forces quotes: Plain[i] has cell i
	// of every record copied as it is, neither looked at nor guarded. It is for the cells whose
	// text the caller made itself (numbers, timestamps, booleans in a canonical form); a cell of a
	// plain column that does hold a comma, a quote, CR or LF makes the output wrong.
	Plain []bool

	w       io.Writer
	buf     []byte
	started bool
	err     error
}

// New returns a Writer that writes to w.
func New(w io.Writer) *Writer {
	return &Writer{w: w, buf: make([]byte, 0, bufSize+4096)}
}

// Write writes one record: its cells, quoted and guarded as needed, separated by commas and ended
// by CRLF. The cells are copied; Write does not keep them.
func (w *Writer) Write(record [][]byte) error {
	if w.err != nil {
		return w.err
	}
	if !w.started {
		w.start()
	}
	b, strs, plain := w.buf, w.Strings, w.Plain
	for i, cell := range record {
		if i > 0 {
			b = append(b, ',')
		}
		if i < len(plain) && plain[i] {
			b = append(b, cell...)
			continue
		}
		// Most cells need no quotes: copy them (after the guard's ' where it is due) and look at
		// each byte once, without a call (a call per cell cost a third more in BenchmarkWrite);
		// the rare cell that does need quotes is written again. Eight bytes at a time first (see
		// needsQuotes): every quoting byte is below '-', and most words have no such byte.
		at := len(b)
		guard := i < len(strs) && strs[i] && len(cell) > 0 && guarded[cell[0]]
		if guard {
			b = append(b, '\'')
		}
		b = append(b, cell...)
		var q uint64
		c := cell
		for ; len(c) >= 8; c = c[8:] {
			if x := binary.LittleEndian.Uint64(c); hasLess(x, '-') != 0 {
				q |= hasZero(x^(','*ones)) | hasZero(x^('"'*ones)) | hasZero(x^('\r'*ones)) | hasZero(x^('\n'*ones))
			}
		}
		for _, c := range c {
			q |= uint64(needsQuote[c])
		}
		if q != 0 {
			b = appendQuoted(b[:at], cell, guard)
		}
	}
	return w.end(b)
}

// end ends the record built on w's buffer b, and writes what is buffered once it is full.
func (w *Writer) end(b []byte) error {
	if w.err != nil {
		return w.err
	}
	w.buf = append(b, '\r', '\n')
	if len(w.buf) >= bufSize {
		return w.Flush()
	}
	return nil
}

// start writes what comes before the first record.
func (w *Writer) start() {
	w.started = true
	if w.BOM {
		w.buf = append(w.buf, 0xEF, 0xBB, 0xBF)
	}
}

// Flush writes what is buffered to the io.Writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if !w.started {
		w.start()
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, w.err = w.w.Write(w.buf)
	w.buf = w.buf[:0]
	return w.err
}

// Close flushes the Writer and returns the first error it met. It does not close the io.Writer.
func (w *Writer) Close() error { return w.Flush() }

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// needsQuotes reports whether cell holds a byte that forces quotes. It tests eight bytes at a time:
// x^(c*ones) has a zero byte where x has c, and (v-ones)&^v&highs is not 0 iff v has a zero byte.
func needsQuotes(cell []byte) bool {
	for len(cell) >= 8 {
		x := uint64(cell[0]) | uint64(cell[1])<<8 | uint64(cell[2])<<16 | uint64(cell[3])<<24 |
			uint64(cell[4])<<32 | uint64(cell[5])<<40 | uint64(cell[6])<<48 | uint64(cell[7])<<56
		if hasZero(x^(','*ones))|hasZero(x^('"'*ones))|hasZero(x^('\r'*ones))|hasZero(x^('\n'*ones)) != 0 {
			return true
		}
		cell = cell[8:]
	}
	var q uint8
	for _, b := range cell {
		q |= needsQuote[b]
	}
	return q != 0
}

// hasLess is not 0 iff a byte of v is below c (c <= 128).
func hasLess(v uint64, c byte) uint64 { return (v - uint64(c)*ones) &^ v & highs }

func hasZero(v uint64) uint64 { return (v - ones) &^ v & highs }

// appendQuoted appends cell in quotes, with the guard's ' first when guard is set. A cell that
// needs no quotes (only the guard) is appended without them.
func appendQuoted(dst, cell []byte, guard bool) []byte {
	quote := needsQuotes(cell)
	if quote {
		dst = append(dst, '"')
	}
	if guard {
		dst = append(dst, '\'')
	}
	if !quote {
		return append(dst, cell...)
	}
	for len(cell) > 0 {
		i := bytes.IndexByte(cell, '"')
		if i < 0 {
			dst = append(dst, cell...)
			break
		}
		dst = append(dst, cell[:i+1]...)
		dst = append(dst, '"')
		cell = cell[i+1:]
	}
	return append(dst, '"')
}
