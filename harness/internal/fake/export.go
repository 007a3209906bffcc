package fake

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// errInternal marks an export that failed on the server's side.
var errInternal = errors.New("internal error")

// exportQuery is a parsed export request.
type exportQuery struct {
	format  string
	columns []int // indexes into the dataset columns
	after   int64
	limit   int
	bom     bool
}

func (d *dataset) parseQuery(r *http.Request) (exportQuery, error) {
	q := exportQuery{limit: -1}
	for k := range r.URL.Query() {
		if !slices.Contains([]string{"format", "columns", "after", "limit", "bom"}, k) {
			return q, fmt.Errorf("unknown parameter %q", k)
		}
	}
	v := r.URL.Query()
	q.format = v.Get("format")
	if q.format != "csv" && q.format != "pdf" {
		return q, fmt.Errorf("format must be csv or pdf")
	}
	if cols := v.Get("columns"); cols != "" {
		for _, name := range strings.Split(cols, ",") {
			i := slices.IndexFunc(d.columns, func(c column) bool { return c.Name == name })
			if i < 0 {
				return q, fmt.Errorf("unknown column %q", name)
			}
			q.columns = append(q.columns, i)
		}
	} else {
		for i := range d.columns {
			q.columns = append(q.columns, i)
		}
	}
	var err error
	if a := v.Get("after"); a != "" {
		if q.after, err = strconv.ParseInt(a, 10, 64); err != nil || q.after < 0 {
			return q, fmt.Errorf("after must be a non-negative integer")
		}
	}
	if l := v.Get("limit"); l != "" {
		if q.limit, err = strconv.Atoi(l); err != nil || q.limit < 0 {
			return q, fmt.Errorf("limit must be a non-negative integer")
		}
	}
	switch v.Get("bom") {
	case "", "0":
	case "1":
		q.bom = true
	default:
		return q, fmt.Errorf("bom must be 0 or 1")
	}
	return q, nil
}

type row struct {
	id    int64
	cells []string // all dataset columns
}

// pageRows is how many rows an export reads from the store at a time.
const pageRows = 1024

// rowsOf yields the first n rows of d with ids greater than after, in id order. It reads the
// store a page at a time, under its lock, so an export holds one page rather than the dataset.
func (s *Server) rowsOf(d *dataset, after int64, n int) iter.Seq[row] {
	return func(yield func(row) bool) {
		page := make([]row, 0, min(n, pageRows))
		for n > 0 {
			page = page[:0]
			s.mu.RLock()
			for i := d.firstAfter(after); i < len(d.ids) && len(page) < min(n, pageRows); i++ {
				page = append(page, row{d.ids[i], d.rows[d.ids[i]]})
			}
			s.mu.RUnlock()
			if len(page) == 0 {
				return
			}
			for _, r := range page {
				if !yield(r) {
					return
				}
			}
			n -= len(page)
			after = page[len(page)-1].id
		}
	}
}

func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := r.PathValue("name")
	s.mu.RLock()
	d := s.datasets[name]
	var (
		q   exportQuery
		err error
	)
	if d != nil {
		q, err = d.parseQuery(r)
	}
	n := 0 // rows to export
	if d != nil && err == nil {
		n = len(d.ids) - d.firstAfter(q.after)
	}
	s.mu.RUnlock()
	format := r.URL.Query().Get("format")
	// An export with a known format counts from here on, whatever its outcome; refusals by auth,
	// rate limit and capacity do not.
	counted := func(outcome string) {
		s.metrics.exports.WithLabelValues(format, outcome).Inc()
		s.metrics.duration.WithLabelValues(format).Observe(time.Since(start).Seconds())
	}
	if d == nil || err != nil {
		if format == "csv" || format == "pdf" {
			counted("client_error")
		}
		if d == nil {
			writeError(w, http.StatusNotFound, "not_found", "no dataset "+name)
		} else {
			writeError(w, http.StatusBadRequest, "invalid_query", err.Error())
		}
		return
	}
	if q.limit >= 0 && n > q.limit {
		n = q.limit
	}
	sem := s.csvSem
	if format == "pdf" {
		sem = s.pdfSem
		if n > s.cfg.PDFMaxRows {
			s.metrics.rejected.WithLabelValues("too_large").Inc()
			counted("client_error")
			writeError(w, http.StatusRequestEntityTooLarge, "too_large",
				fmt.Sprintf("%d rows is over the PDF limit of %d; use format=csv", n, s.cfg.PDFMaxRows))
			return
		}
	}
	if sem != nil {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		default:
			s.metrics.rejected.WithLabelValues("saturated").Inc()
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "saturated", "too many "+format+" exports in flight")
			return
		}
	}
	f := s.cfg.Faults
	nth := s.exports.Add(1)
	if n := f.ErrorEvery; n > 0 && nth%int64(n) == 0 {
		counted("server_error")
		writeError(w, http.StatusInternalServerError, "internal", "injected failure")
		return
	}
	hold := f.FirstByteDelay
	if n := f.DelayEvery; n > 0 && nth%int64(n) == 0 {
		hold += f.DelayBy
	}
	if hold > 0 {
		select {
		case <-time.After(hold):
		case <-r.Context().Done():
		}
	}
	if f.IgnoreColumns {
		q.columns = q.columns[:0]
		for i := range d.columns {
			q.columns = append(q.columns, i)
		}
	}
	s.metrics.inFlight.WithLabelValues(format).Inc()
	defer s.metrics.inFlight.WithLabelValues(format).Dec()

	header := []string{"id"}
	for _, i := range q.columns {
		header = append(header, d.columns[i].Name)
	}
	out := &counter{w: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout, sum: sha256.New(),
		onFirst: func() { s.metrics.firstByte.WithLabelValues(format).Observe(time.Since(start).Seconds()) }}
	if f.StreamRate > 0 {
		out.limit = rate.NewLimiter(rate.Limit(f.StreamRate), throttleChunk)
	}
	if n := f.PanicEvery; n > 0 && nth%int64(n) == 0 {
		out.panicAfter = 1 // the first write goes out, then the handler panics
	}
	ctype := map[string]string{"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}[format]
	if f.ContentType != "" {
		ctype = f.ContentType
	}
	w.Header().Set("Content-Type", ctype)
	if !f.NoDisposition {
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+"."+format+`"`)
	}
	var written int
	if format == "csv" {
		written, err = s.writeCSV(w, out, d, q, header, n)
	} else {
		written, err = s.writePDF(w, out, d, q, name, header, n)
	}
	outcome := "ok"
	switch {
	case errors.Is(err, errInternal):
		outcome = "server_error"
	case err != nil:
		outcome = "aborted"
	}
	counted(outcome)
	if outcome == "ok" || f.CountFailedRows {
		s.metrics.rows.WithLabelValues(format).Add(float64(written + f.RowsSkew))
		s.metrics.bytes.WithLabelValues(format).Add(float64(out.n))
	}
}

// throttleChunk is the largest write a throttled body makes at once.
const throttleChunk = 16 << 10

// counter is the response body: it hashes and counts what reached the client and puts a write
// deadline on every write, so a stalled reader is cut off.
type counter struct {
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
	sum     hash.Hash
	n       int64
	onFirst func()
	limit   *rate.Limiter // Faults.StreamRate: paces the writes
	// panicAfter > 0 panics once that many writes went out (Faults.PanicEvery).
	panicAfter, writes int
}

func (c *counter) Write(p []byte) (int, error) {
	if c.panicAfter > 0 && c.writes == c.panicAfter {
		panic(fmt.Sprintf("fake: injected panic after %d bytes", c.n))
	}
	c.writes++
	if c.n == 0 && len(p) > 0 && c.onFirst != nil {
		c.onFirst()
	}
	if c.limit != nil {
		written := 0
		for written < len(p) {
			chunk := p[written:min(len(p), written+throttleChunk)]
			_ = c.limit.WaitN(context.Background(), len(chunk))
			n, err := c.write(chunk)
			written += n
			if err != nil {
				return written, err
			}
		}
		return written, nil
	}
	return c.write(p)
}

func (c *counter) write(p []byte) (int, error) {
	_ = c.rc.SetWriteDeadline(time.Now().Add(c.timeout))
	n, err := c.w.Write(p)
	c.sum.Write(p[:n])
	c.n += int64(n)
	if err == nil {
		_ = c.rc.Flush() // paced or not, a write reaches the client now
	}
	return n, err
}

func (c *counter) digest() string {
	return "sha-256=:" + base64.StdEncoding.EncodeToString(c.sum.Sum(nil)) + ":"
}

func (s *Server) writeCSV(w http.ResponseWriter, out *counter, d *dataset, q exportQuery, header []string, n int) (int, error) {
	f := s.cfg.Faults
	w.Header().Set("Trailer", "Content-Digest, Export-Rows")
	bw := bufio.NewWriterSize(out, 32<<10)
	// put takes the body's text. Healthy, it streams to the client as rows are rendered. With
	// BufferExports it keeps every line, as a naive exporter would, and the response starts only
	// once the whole body has been joined in memory.
	var held []string
	put := func(text []byte) error {
		_, err := bw.Write(text)
		return err
	}
	if f.BufferExports {
		put = func(text []byte) error {
			held = append(held, string(text))
			return nil
		}
	} else {
		w.WriteHeader(http.StatusOK)
	}
	finish := func() error {
		if f.BufferExports {
			w.WriteHeader(http.StatusOK)
			if _, err := bw.WriteString(strings.Join(held, "")); err != nil {
				return err
			}
		}
		return bw.Flush()
	}
	var line []byte // one rendered record, reused
	if q.bom {
		line = append(line, "\uFEFF"...)
	}
	for i, h := range header {
		if i > 0 {
			line = append(line, ',')
		}
		line = appendField(line, h, false, false)
	}
	_ = put(append(line, "\r\n"...))
	if !f.BufferExports {
		if err := bw.Flush(); err != nil {
			return 0, err
		}
		_ = out.rc.Flush()
	}
	written := 0
	for r := range s.rowsOf(d, q.after, n) {
		if f.TruncateAfter > 0 && written == f.TruncateAfter {
			return written, finish() // no trailers: the client must see a cut-short export
		}
		if r.id == f.DropID {
			continue
		}
		line = strconv.AppendInt(line[:0], r.id, 10)
		for j, ci := range q.columns {
			cell := r.cells[ci]
			if r.id == f.WrongValueID && j == len(q.columns)-1 {
				cell += "x"
			}
			str := d.columns[ci].Type == "string"
			line = appendField(append(line, ','), cell, str && !f.NoGuard, r.id == f.MisquoteID)
		}
		line = append(line, "\r\n"...)
		times := 1
		if r.id == f.DuplicateID {
			times = 2
		}
		for range times {
			if err := put(line); err != nil {
				return written, err
			}
			written++
		}
	}
	if err := finish(); err != nil {
		return written, err
	}
	w.Header().Set("Content-Digest", out.digest())
	w.Header().Set("Export-Rows", strconv.Itoa(written))
	return written, nil
}

// appendField appends one field, guarded (for string cells) and quoted per RFC 4180, to b.
// misquote skips quoting.
func appendField(b []byte, cell string, guard, misquote bool) []byte {
	guarded := guard && cell != "" && strings.ContainsRune("=+-@\t\r'", rune(cell[0]))
	quote := !misquote && strings.ContainsAny(cell, ",\"\r\n")
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

func (s *Server) writePDF(w http.ResponseWriter, out *counter, d *dataset, q exportQuery, name string, header []string, n int) (int, error) {
	table := Table{
		Header:   header,
		DropPage: s.cfg.Faults.PDFDropPage,
	}
	for r := range s.rowsOf(d, q.after, n) {
		cells := []string{strconv.FormatInt(r.id, 10)}
		for _, ci := range q.columns {
			cells = append(cells, r.cells[ci])
		}
		table.Rows = append(table.Rows, cells)
	}
	table.Title = fmt.Sprintf("%s — %d rows — exported %s", name, len(table.Rows), time.Now().UTC().Format(time.RFC3339))
	var buf bytes.Buffer
	if err := WritePDF(&buf, table); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return 0, fmt.Errorf("%w: %v", errInternal, err)
	}
	sum := sha256.Sum256(buf.Bytes())
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Header().Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
	w.Header().Set("Export-Rows", strconv.Itoa(len(table.Rows)))
	w.WriteHeader(http.StatusOK)
	_, err := out.Write(buf.Bytes())
	return len(table.Rows), err
}
