package fake

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
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
	var rows []row
	if d != nil && err == nil {
		for id, cells := range d.rows {
			if id > q.after {
				rows = append(rows, row{id, cells})
			}
		}
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
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.id, b.id) })
	if q.limit >= 0 && len(rows) > q.limit {
		rows = rows[:q.limit]
	}
	sem := s.csvSem
	if format == "pdf" {
		sem = s.pdfSem
		if len(rows) > s.cfg.PDFMaxRows {
			s.metrics.rejected.WithLabelValues("too_large").Inc()
			counted("client_error")
			writeError(w, http.StatusRequestEntityTooLarge, "too_large",
				fmt.Sprintf("%d rows is over the PDF limit of %d; use format=csv", len(rows), s.cfg.PDFMaxRows))
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
	if n := s.cfg.Faults.ErrorEvery; n > 0 && s.exports.Add(1)%int64(n) == 0 {
		counted("server_error")
		writeError(w, http.StatusInternalServerError, "internal", "injected failure")
		return
	}
	s.metrics.inFlight.WithLabelValues(format).Inc()
	defer s.metrics.inFlight.WithLabelValues(format).Dec()

	header := []string{"id"}
	for _, i := range q.columns {
		header = append(header, d.columns[i].Name)
	}
	out := &counter{w: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout, sum: sha256.New(),
		onFirst: func() { s.metrics.firstByte.WithLabelValues(format).Observe(time.Since(start).Seconds()) }}
	var written int
	if format == "csv" {
		written, err = s.writeCSV(w, out, d, q, header, rows)
	} else {
		written, err = s.writePDF(w, out, d, q, name, header, rows)
	}
	outcome := "ok"
	switch {
	case errors.Is(err, errInternal):
		outcome = "server_error"
	case err != nil:
		outcome = "aborted"
	}
	counted(outcome)
	s.metrics.rows.WithLabelValues(format).Add(float64(written + s.cfg.Faults.RowsSkew))
	s.metrics.bytes.WithLabelValues(format).Add(float64(out.n))
}

// counter is the response body: it hashes and counts what reached the client and puts a write
// deadline on every write, so a stalled reader is cut off.
type counter struct {
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
	sum     hash.Hash
	n       int64
	onFirst func()
}

func (c *counter) Write(p []byte) (int, error) {
	if c.n == 0 && len(p) > 0 && c.onFirst != nil {
		c.onFirst()
	}
	_ = c.rc.SetWriteDeadline(time.Now().Add(c.timeout))
	n, err := c.w.Write(p)
	c.sum.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func (c *counter) digest() string {
	return "sha-256=:" + base64.StdEncoding.EncodeToString(c.sum.Sum(nil)) + ":"
}

func (s *Server) writeCSV(w http.ResponseWriter, out *counter, d *dataset, q exportQuery, header []string, rows []row) (int, error) {
	f := s.cfg.Faults
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Trailer", "Content-Digest, Export-Rows")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(out, 32<<10)
	if q.bom {
		_, _ = bw.WriteString("\uFEFF")
	}
	line := make([]string, len(header))
	for i, h := range header {
		line[i] = csvField(h, false, false)
	}
	_, _ = bw.WriteString(strings.Join(line, ",") + "\r\n")
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	_ = out.rc.Flush()
	written := 0
	for _, r := range rows {
		if f.TruncateAfter > 0 && written == f.TruncateAfter {
			return written, bw.Flush() // no trailers: the client must see a cut-short export
		}
		if r.id == f.DropID {
			continue
		}
		line[0] = strconv.FormatInt(r.id, 10)
		for j, ci := range q.columns {
			cell := r.cells[ci]
			if r.id == f.WrongValueID && j == len(q.columns)-1 {
				cell += "x"
			}
			str := d.columns[ci].Type == "string"
			line[j+1] = csvField(cell, str && !f.NoGuard, r.id == f.MisquoteID)
		}
		text := strings.Join(line, ",") + "\r\n"
		times := 1
		if r.id == f.DuplicateID {
			times = 2
		}
		for range times {
			if _, err := bw.WriteString(text); err != nil {
				return written, err
			}
			written++
		}
	}
	if err := bw.Flush(); err != nil {
		return written, err
	}
	w.Header().Set("Content-Digest", out.digest())
	w.Header().Set("Export-Rows", strconv.Itoa(written))
	return written, nil
}

// csvField guards (for string cells) and quotes one field per RFC 4180. misquote skips quoting.
func csvField(cell string, guard, misquote bool) string {
	if guard && cell != "" && strings.ContainsRune("=+-@\t\r'", rune(cell[0])) {
		cell = "'" + cell
	}
	if misquote || !strings.ContainsAny(cell, ",\"\r\n") {
		return cell
	}
	return `"` + strings.ReplaceAll(cell, `"`, `""`) + `"`
}

func (s *Server) writePDF(w http.ResponseWriter, out *counter, d *dataset, q exportQuery, name string, header []string, rows []row) (int, error) {
	table := Table{
		Title:    fmt.Sprintf("%s — %d rows — exported %s", name, len(rows), time.Now().UTC().Format(time.RFC3339)),
		Header:   header,
		DropPage: s.cfg.Faults.PDFDropPage,
	}
	for _, r := range rows {
		cells := []string{strconv.FormatInt(r.id, 10)}
		for _, ci := range q.columns {
			cells = append(cells, r.cells[ci])
		}
		table.Rows = append(table.Rows, cells)
	}
	var buf bytes.Buffer
	if err := WritePDF(&buf, table); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return 0, fmt.Errorf("%w: %v", errInternal, err)
	}
	sum := sha256.Sum256(buf.Bytes())
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Header().Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
	w.Header().Set("Export-Rows", strconv.Itoa(len(rows)))
	w.WriteHeader(http.StatusOK)
	_, err := out.Write(buf.Bytes())
	return len(rows), err
}
