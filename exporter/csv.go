package exporter

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"time"
)

// streamWriter buffers an export body, hashes it, and hands it to the client in chunks of
// chunkSize, each under a write deadline: a client that stops reading for writeTimeout makes the next
// chunk fail, and the export is cut off.
type streamWriter struct {
	w          http.ResponseWriter
	rc         *http.ResponseController
	timeout    time.Duration
	buf        []byte
	sum        hash.Hash
	n          int64
	onFirst    func()
	wroteFirst bool
}

const chunkSize = 64 << 10

func newStreamWriter(w http.ResponseWriter, timeout time.Duration, onFirst func()) *streamWriter {
	return &streamWriter{w: w, rc: http.NewResponseController(w), timeout: timeout,
		buf: make([]byte, 0, chunkSize+4096), sum: sha256.New(), onFirst: onFirst}
}

// errClientGone marks a failed write to the client: a stalled reader past the deadline or a dropped
// connection.
var errClientGone = errors.New("client stopped reading")

func (s *streamWriter) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	if len(s.buf) >= chunkSize {
		return len(p), s.Flush()
	}
	return len(p), nil
}

// Flush sends what is buffered and pushes it to the network.
func (s *streamWriter) Flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	if !s.wroteFirst {
		s.wroteFirst = true
		if s.onFirst != nil {
			s.onFirst()
		}
	}
	if s.timeout > 0 {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout)) // unsupported writers just have no deadline
	}
	n, err := s.w.Write(s.buf)
	s.sum.Write(s.buf[:n])
	s.n += int64(n)
	s.buf = s.buf[:0]
	if err == nil {
		err = s.rc.Flush()
	}
	if err != nil {
		return errors.Join(errClientGone, err)
	}
	return nil
}

// digest is the RFC 9530 Content-Digest field value of everything written so far.
func (s *streamWriter) digest() string {
	return "sha-256=:" + base64.StdEncoding.EncodeToString(s.sum.Sum(nil)) + ":"
}

// csvNeedsQuote marks the bytes that force a field into quotes (RFC 4180).
var csvNeedsQuote = [256]bool{',': true, '"': true, '\r': true, '\n': true}

// csvGuarded marks the first bytes that get the formula-injection guard on string cells: a
// spreadsheet would read =, +, -, @ (and tab or CR before them) as the start of a formula. A leading
// ' is guarded too, so the rule is invertible: drop one leading ' from any string cell that has one.
var csvGuarded = [256]bool{'=': true, '+': true, '-': true, '@': true, '\t': true, '\r': true, '\'': true}

// writeCSVHeader writes the optional BOM and the header row.
func writeCSVHeader(w *streamWriter, header []string, bom bool) error {
	var line []byte
	if bom {
		line = append(line, 0xEF, 0xBB, 0xBF)
	}
	for i, h := range header {
		if i > 0 {
			line = append(line, ',')
		}
		line = appendField(line, []byte(h), false)
	}
	line = append(line, '\r', '\n')
	_, err := w.Write(line)
	return err
}

// appendField appends one field, guarded and quoted as needed.
func appendField(dst, cell []byte, guard bool) []byte {
	guard = guard && len(cell) > 0 && csvGuarded[cell[0]]
	quote := false
	for _, b := range cell {
		if csvNeedsQuote[b] {
			quote = true
			break
		}
	}
	if !quote {
		if guard {
			dst = append(dst, '\'')
		}
		return append(dst, cell...)
	}
	dst = append(dst, '"')
	if guard {
		dst = append(dst, '\'')
	}
	for _, b := range cell {
		if b == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, b)
	}
	return append(dst, '"')
}

// writeCSVRow appends one row, the id then the selected cells, straight into the chunk buffer.
func (s *streamWriter) writeCSVRow(strCols []bool, id uint64, cells [][]byte) error {
	b := strconv.AppendUint(s.buf, id, 10)
	for i, cell := range cells {
		b = append(b, ',')
		b = appendField(b, cell, strCols[i])
	}
	s.buf = append(b, '\r', '\n')
	if len(s.buf) >= chunkSize {
		return s.Flush()
	}
	return nil
}
