package fake

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
)

// writeCSV streams the CSV body in dialect dl with its digest and row count as trailers, and with
// the faults that corrupt a CSV export: rows cut short, dropped, duplicated, wrong, unguarded or
// misquoted.
func (s *Server) writeCSV(w http.ResponseWriter, out *counter, d *dataset, q exportQuery, header []string, n int, dl csvDialect) (int, error) {
	f := s.cfg.Faults
	w.Header().Set("Trailer", "Content-Digest, "+dl.rows)
	body := newCSVBody(w, out, f.BufferExports)
	line := appendHeader(nil, header, q.bom, dl.quoteAll) // one rendered record, reused
	_ = body.put(append(line, dl.lineEnd...))
	if !f.BufferExports {
		if err := body.bw.Flush(); err != nil {
			return 0, err
		}
		_ = out.rc.Flush()
	}
	written := 0
	for r := range s.rowsOf(d, q.after, n) {
		if f.TruncateAfter > 0 && written == f.TruncateAfter {
			return written, body.finish() // no trailers: the client must see a cut-short export
		}
		if r.id == f.DropID {
			continue
		}
		line = appendRecord(line[:0], r, d, q, f, dl)
		times := 1
		if r.id == f.DuplicateID {
			times = 2
		}
		for range times {
			if err := body.put(line); err != nil {
				return written, err
			}
			written++
		}
	}
	if err := body.finish(); err != nil {
		return written, err
	}
	w.Header().Set("Content-Digest", out.digest())
	w.Header().Set(dl.rows, strconv.Itoa(written))
	return written, nil
}

// csvBody takes the body's text. Healthy, it streams to the client as rows are rendered. With
// BufferExports it keeps every line, as a naive exporter would, and the response starts only
// once the whole body has been joined in memory.
type csvBody struct {
	w      http.ResponseWriter
	bw     *bufio.Writer
	buffer bool
	held   []string
}

// newCSVBody starts the response at once unless buffer holds it back until finish.
func newCSVBody(w http.ResponseWriter, out *counter, buffer bool) *csvBody {
	b := &csvBody{w: w, bw: bufio.NewWriterSize(out, 32<<10), buffer: buffer}
	if !buffer {
		w.WriteHeader(http.StatusOK)
	}
	return b
}

// put takes text, which the caller may reuse once put returns.
func (b *csvBody) put(text []byte) error {
	if b.buffer {
		b.held = append(b.held, string(text))
		return nil
	}
	_, err := b.bw.Write(text)
	return err
}

// finish sends what is held back, if anything, and flushes.
func (b *csvBody) finish() error {
	if b.buffer {
		b.w.WriteHeader(http.StatusOK)
		if _, err := b.bw.WriteString(strings.Join(b.held, "")); err != nil {
			return err
		}
	}
	return b.bw.Flush()
}

// appendHeader appends the header record, without its line end, after the byte order mark if
// bom asks for one, every field quoted when quoteAll.
func appendHeader(line []byte, header []string, bom, quoteAll bool) []byte {
	if bom {
		line = append(line, "\uFEFF"...)
	}
	for i, h := range header {
		if i > 0 {
			line = append(line, ',')
		}
		line = appendField(line, h, false, quoteAll, false)
	}
	return line
}

// appendRecord appends r's record in dialect dl with its line end: the id, then the columns q asks
// for, with the faults that corrupt a record (a wrong last value, no guard, no quoting).
func appendRecord(line []byte, r row, d *dataset, q exportQuery, f Faults, dl csvDialect) []byte {
	line = appendField(line, strconv.FormatInt(r.id, 10), false, dl.quoteAll, false)
	for j, ci := range q.columns {
		cell := r.cells[ci]
		if r.id == f.WrongValueID && j == len(q.columns)-1 {
			cell += "x"
		}
		str := d.columns[ci].Type == "string"
		line = appendField(append(line, ','), cell, str && !f.NoGuard, dl.quoteAll, r.id == f.MisquoteID)
	}
	return append(line, dl.lineEnd...)
}

// appendField appends one field, guarded (for string cells) and quoted per RFC 4180 (always with
// quoteAll), to b. misquote skips quoting.
func appendField(b []byte, cell string, guard, quoteAll, misquote bool) []byte {
	guarded := guard && cell != "" && strings.ContainsRune("=+-@\t\r'", rune(cell[0]))
	quote := !misquote && (quoteAll || strings.ContainsAny(cell, ",\"\r\n"))
	if quote {
		b = append(b, '"')
	}
	if guarded {
		b = append(b, '\'')
	}
	if !quote {
		return append(b, cell...)
	}
	for len(cell) > 0 {
		i := strings.IndexByte(cell, '"')
		if i < 0 {
			b = append(b, cell...)
			break
		}
		b = append(b, cell[:i+1]...)
		b = append(b, '"')
		cell = cell[i+1:]
	}
	return append(b, '"')
}
