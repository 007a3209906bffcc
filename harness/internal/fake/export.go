package fake

import (
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

// parseQuery parses an export query in sh's parameter names.
func (d *dataset) parseQuery(r *http.Request, sh *shape) (exportQuery, error) {
	q := exportQuery{limit: -1, format: "csv"}
	names := slices.DeleteFunc([]string{sh.format, sh.columns, sh.after, sh.limit, sh.bom}, func(n string) bool { return n == "" })
	for k := range r.URL.Query() {
		if !slices.Contains(names, k) {
			return q, fmt.Errorf("unknown parameter %q", k)
		}
	}
	v := r.URL.Query()
	if sh.format != "" {
		q.format = v.Get(sh.format)
	}
	if q.format != "csv" && q.format != "pdf" {
		return q, fmt.Errorf("%s must be csv or pdf", sh.format)
	}
	if cols := v.Get(sh.columns); cols != "" {
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
	if a := v.Get(sh.after); a != "" {
		if q.after, err = strconv.ParseInt(a, 10, 64); err != nil || q.after < 0 {
			return q, fmt.Errorf("%s must be a non-negative integer", sh.after)
		}
	}
	if l := v.Get(sh.limit); l != "" {
		if q.limit, err = strconv.Atoi(l); err != nil || q.limit < 0 {
			return q, fmt.Errorf("%s must be a non-negative integer", sh.limit)
		}
	}
	switch v.Get(sh.bom) {
	case "", "0":
	case "1":
		q.bom = sh.bom != ""
	default:
		return q, fmt.Errorf("%s must be 0 or 1", sh.bom)
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

// export serves an export request the way the exporter does, step by step: it finds the dataset
// and parses the query, admits the export within the limits, applies the faults that strike
// before the body, then writes the body, all in shape sh.
func (s *Server) export(sh *shape) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e := &exportRun{s: s, sh: sh, w: w, start: time.Now(), name: r.PathValue("name"), format: "csv"}
		if sh.format != "" {
			e.format = r.URL.Query().Get(sh.format)
		}
		if !e.parse(r) {
			return
		}
		release, ok := e.admit()
		if !ok {
			return
		}
		defer release()
		if !e.injectFaults(r.Context()) {
			return
		}
		s.metrics.inFlight.WithLabelValues(e.format).Inc()
		defer s.metrics.inFlight.WithLabelValues(e.format).Dec()
		e.respond()
	}
}

// exportRun is one export request as it passes the steps of export.
type exportRun struct {
	s      *Server
	sh     *shape
	w      http.ResponseWriter
	start  time.Time
	name   string
	format string // as asked for, before the query is checked: the metrics' label
	d      *dataset
	q      exportQuery
	n      int   // rows to export
	nth    int64 // the export's number among those admitted, which Faults' …Every pick by
}

// counted records the export's outcome and duration. An export with a known format counts from
// parse on, whatever its outcome; refusals by auth, rate limit and capacity do not.
func (e *exportRun) counted(outcome string) {
	e.s.metrics.exports.WithLabelValues(e.format, outcome).Inc()
	e.s.metrics.duration.WithLabelValues(e.format).Observe(time.Since(e.start).Seconds())
}

// parse finds the dataset and parses the query under the store's lock, so that the row count
// is the dataset's as the query saw it, and answers a missing dataset or a bad query itself.
func (e *exportRun) parse(r *http.Request) bool {
	e.s.mu.RLock()
	e.d = e.s.datasets[e.name]
	var err error
	if e.d != nil {
		e.q, err = e.d.parseQuery(r, e.sh)
	}
	if e.d != nil && err == nil {
		e.n = len(e.d.ids) - e.d.firstAfter(e.q.after)
	}
	e.s.mu.RUnlock()
	if e.d == nil || err != nil {
		if e.format == "csv" || e.format == "pdf" {
			e.counted("client_error")
		}
		if e.d == nil {
			writeError(e.w, http.StatusNotFound, "not_found", "no dataset "+e.name)
		} else {
			writeError(e.w, http.StatusBadRequest, "invalid_query", err.Error())
		}
		return false
	}
	if e.q.limit >= 0 && e.n > e.q.limit {
		e.n = e.q.limit
	}
	return true
}

// admit applies the limits the exporter applies before any work: the PDF row limit, then the
// format's cap on exports in flight, whose slot the returned release frees.
func (e *exportRun) admit() (release func(), ok bool) {
	s := e.s
	sem := s.csvSem
	if e.format == "pdf" {
		sem = s.pdfSem
		if e.n > s.cfg.PDFMaxRows {
			s.metrics.rejected.WithLabelValues("too_large").Inc()
			e.counted("client_error")
			writeError(e.w, http.StatusRequestEntityTooLarge, "too_large",
				fmt.Sprintf("%d rows is over the PDF limit of %d; use format=csv", e.n, s.cfg.PDFMaxRows))
			return nil, false
		}
	}
	if sem == nil {
		return func() {}, true
	}
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, true
	default:
		s.metrics.rejected.WithLabelValues("saturated").Inc()
		e.w.Header().Set("Retry-After", "1")
		writeError(e.w, http.StatusServiceUnavailable, "saturated", "too many "+e.format+" exports in flight")
		return nil, false
	}
}

// injectFaults numbers the admitted export and applies the faults that strike before its body:
// an injected failure, a delay before the first byte, and ignoring the columns asked for. It
// reports whether the export goes on.
func (e *exportRun) injectFaults(ctx context.Context) bool {
	f := e.s.cfg.Faults
	e.nth = e.s.exports.Add(1)
	if n := f.ErrorEvery; n > 0 && e.nth%int64(n) == 0 {
		e.counted("server_error")
		writeError(e.w, http.StatusInternalServerError, "internal", "injected failure")
		return false
	}
	hold := f.FirstByteDelay
	if n := f.DelayEvery; n > 0 && e.nth%int64(n) == 0 {
		hold += f.DelayBy
	}
	if slots := e.s.slots; slots != nil { // in line for a slot, held through the delay only
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		case <-ctx.Done(): // the client left: the export goes on to fail as any abandoned one
		}
	}
	if hold > 0 {
		select {
		case <-time.After(hold):
		case <-ctx.Done():
		}
	}
	if f.IgnoreColumns {
		e.q.columns = e.q.columns[:0]
		for i := range e.d.columns {
			e.q.columns = append(e.q.columns, i)
		}
	}
	return true
}

// respond writes the headers and the body in the format asked for, then counts the outcome and,
// for an export that completed (or any, with CountFailedRows), its rows and bytes.
func (e *exportRun) respond() {
	f := e.s.cfg.Faults
	header := []string{"id"}
	for _, i := range e.q.columns {
		header = append(header, e.d.columns[i].Name)
	}
	out := e.body()
	ctype := map[string]string{"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}[e.format]
	if f.ContentType != "" {
		ctype = f.ContentType
	}
	e.w.Header().Set("Content-Type", ctype)
	if !f.NoDisposition {
		e.w.Header().Set("Content-Disposition", `attachment; filename="`+e.name+"."+e.format+`"`)
	}
	var written int
	var err error
	if e.format == "csv" {
		written, err = e.s.writeCSV(e.w, out, e.d, e.q, header, e.n, e.sh.dialect)
	} else {
		written, err = e.s.writePDF(e.w, out, e.d, e.q, e.name, header, e.n)
	}
	outcome := "ok"
	switch {
	case errors.Is(err, errInternal):
		outcome = "server_error"
	case err != nil:
		outcome = "aborted"
	}
	e.counted(outcome)
	e.s.leak(f.LeakPerExport)
	if outcome == "ok" || f.CountFailedRows {
		e.s.metrics.rows.WithLabelValues(e.format).Add(float64(written + f.RowsSkew))
		e.s.metrics.bytes.WithLabelValues(e.format).Add(float64(out.n))
	}
}

// body is the response body, timing the first byte, with the faults that act on the stream: a
// paced stream and a panic after the first write.
func (e *exportRun) body() *counter {
	f := e.s.cfg.Faults
	out := &counter{w: e.w, rc: http.NewResponseController(e.w), timeout: e.s.cfg.WriteTimeout, sum: sha256.New(),
		onFirst: func() { e.s.metrics.firstByte.WithLabelValues(e.format).Observe(time.Since(e.start).Seconds()) }}
	if f.StreamRate > 0 {
		out.limit = rate.NewLimiter(rate.Limit(f.StreamRate), throttleChunk)
	}
	if n := f.PanicEvery; n > 0 && e.nth%int64(n) == 0 {
		out.panicAfter = 1 // the first write goes out, then the handler panics
	}
	return out
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

// leak keeps n bytes for good (Faults.LeakPerExport), each page written so it is resident.
func (s *Server) leak(n int) {
	if n <= 0 {
		return
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i) | 1
	}
	s.leakMu.Lock()
	s.leaked = append(s.leaked, b)
	s.leakMu.Unlock()
}
