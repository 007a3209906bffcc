package exporter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"
)

// export streams a dataset as CSV or renders it as PDF. Once the status line is sent, a failure can
// no longer become an error response: the stream just ends without its trailers, which is how a
// client tells a truncated export from a complete one.
func (s *Server) export(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	q, err := parseExportQuery(r.URL.RawQuery)
	if err != nil {
		if q.format == "csv" || q.format == "pdf" {
			s.m.exports.WithLabelValues(q.format, "client_error").Inc()
			s.m.exportDuration.WithLabelValues(q.format).Observe(time.Since(start).Seconds())
		}
		return &kindError{errInvalidQuery, err}
	}
	f := q.format
	name, sc, cols, err := s.exportTarget(r, q)
	if err != nil {
		outcome := "client_error"
		if errorResponse(err).Status >= 500 {
			outcome = "server_error" // the store failed, not the request
		}
		s.m.exports.WithLabelValues(f, outcome).Inc()
		s.m.exportDuration.WithLabelValues(f).Observe(time.Since(start).Seconds())
		return err
	}
	slot := s.exports[f]
	if !slot.tryAcquire() {
		s.m.rejected.WithLabelValues("saturated").Inc()
		return errorf(errSaturated, "all %d %s export slots are busy; retry after the Retry-After seconds", cap(slot), f)
	}
	defer slot.release()
	s.m.inFlight.WithLabelValues(f).Inc()
	defer s.m.inFlight.WithLabelValues(f).Dec()

	x := &exportRun{w: w, ctx: r.Context(), q: q, name: name, schema: sc, cols: cols, started: start,
		onFirst: func() { s.m.firstByte.WithLabelValues(f).Observe(time.Since(start).Seconds()) }}
	err = s.produce(r, x)
	outcome := "ok"
	switch {
	case err == nil:
	case errorResponse(err).Status < 500:
		outcome = "client_error"
		if errors.Is(err, errTooLarge) {
			s.m.rejected.WithLabelValues("too_large").Inc()
		}
	case errors.Is(err, errExportPanic):
		outcome = "server_error" // even if the client left meanwhile: a panic is a bug
	case errors.Is(err, errClientGone) || errors.Is(err, context.Canceled) || r.Context().Err() != nil:
		outcome = "aborted"
	default:
		outcome = "server_error"
	}
	s.m.exports.WithLabelValues(f, outcome).Inc()
	s.m.exportDuration.WithLabelValues(f).Observe(time.Since(start).Seconds())
	info(r).rows = x.rows
	if outcome == "ok" {
		s.m.exportRows.WithLabelValues(f).Add(float64(x.rows))
		s.m.exportBytes.WithLabelValues(f).Add(float64(x.bytes))
	}
	switch {
	case !x.sent && outcome == "aborted":
		info(r).err = "client gone before the response"
		return nil // nobody is left to answer
	case !x.sent:
		return err
	}
	// What net/http still writes (the last chunk, the trailers) stays under a deadline too; the
	// server's idle hook clears it before the connection serves another request.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if err != nil {
		info(r).err = outcome
		if outcome == "server_error" {
			s.log.Error("export failed after the response started", "path", r.URL.Path, "err", err.Error())
		}
		// Reset the connection instead of ending the body cleanly: a cut export must never look
		// like a whole one, even to a client that ignores the trailers.
		panic(http.ErrAbortHandler)
	}
	return nil
}

// errExportPanic marks an export that panicked. It is counted and answered like any other server
// failure: a 500 before the status line, a reset connection after it.
var errExportPanic = errors.New("the export panicked")

// produce runs the export x on one snapshot of its dataset, turning a panic (from the store or the
// encoders) into errExportPanic, logged with its stack.
func (s *Server) produce(r *http.Request, x *exportRun) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", errExportPanic, p)
		}
	}()
	if x.q.format == "csv" {
		return s.store.View(x.name, func(snap Snapshot) error { return x.csv(snap, s.cfg.WriteTimeout) })
	}
	return s.store.View(x.name, func(snap Snapshot) error { return x.pdf(snap, s.cfg.WriteTimeout, s.cfg.PDFMaxRows) })
}

// exportTarget resolves the dataset and columns of an export.
func (s *Server) exportTarget(r *http.Request, q exportQuery) (string, Schema, []int, error) {
	name, err := s.datasetName(r)
	if err != nil {
		return "", Schema{}, nil, err
	}
	sc, err := s.schema(name)
	if err != nil {
		return "", Schema{}, nil, err
	}
	cols, err := resolveColumns(sc, q.columns)
	if err != nil {
		return "", Schema{}, nil, &kindError{errInvalidQuery, err}
	}
	return name, sc, cols, nil
}

// exportRun is one export in progress.
type exportRun struct {
	w       http.ResponseWriter
	ctx     context.Context
	q       exportQuery
	name    string
	schema  Schema
	cols    []int
	started time.Time
	onFirst func()

	sent  bool // the status line has gone out
	rows  int64
	bytes int64
}

func (x *exportRun) header() []string {
	h := make([]string, 0, len(x.cols)+1)
	h = append(h, "id")
	for _, c := range x.cols {
		h = append(h, x.schema.Columns[c].Name)
	}
	return h
}

// scan walks the selected rows of snap, honouring after and limit, and hands each row's selected
// cells to fn as row[lead:]; the lead slots before them are the caller's to fill (the CSV encoder
// takes the id as the first cell of its record). It stops early when the client has gone.
func (x *exportRun) scan(snap Snapshot, lead int, fn func(id uint64, row [][]byte) error) error {
	all := make([][]byte, 0, len(x.schema.Columns))
	row := make([][]byte, lead+len(x.cols))
	sel := row[lead:]
	var n int64
	each := func(id uint64, all [][]byte) error {
		for i, c := range x.cols {
			sel[i] = all[c]
		}
		if err := fn(id, row); err != nil {
			return err
		}
		if n++; n&1023 == 0 && x.ctx.Err() != nil {
			return errors.Join(errClientGone, x.ctx.Err())
		}
		return nil
	}
	if cs, ok := snap.(cellScanner); ok {
		return cs.ScanCells(x.q.after, x.q.limit, each)
	}
	return snap.Scan(x.q.after, x.q.limit, func(id uint64, v []byte) error {
		var err error
		if all, err = decodeCells(all, v, len(x.schema.Columns)); err != nil {
			return fmt.Errorf("record %d: %w", id, err)
		}
		return each(id, all)
	})
}

func (x *exportRun) setHeaders(contentType, ext string) {
	h := x.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, x.name, ext))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// pdfRows counts the rows a PDF export would hold, stopping once past the cap.
func (x *exportRun) pdfRows(snap Snapshot, maxRows int) (int64, error) {
	if x.q.after == 0 {
		n := int64(snap.Rows())
		if x.q.limit >= 0 {
			n = min(n, x.q.limit)
		}
		return n, nil
	}
	capRows := int64(maxRows) + 1
	if x.q.limit >= 0 {
		capRows = min(capRows, x.q.limit)
	}
	var n int64
	err := snap.Scan(x.q.after, capRows, func(uint64, []byte) error {
		n++
		return nil
	})
	return n, err
}

func (x *exportRun) pdf(snap Snapshot, timeout time.Duration, maxRows int) error {
	n, err := x.pdfRows(snap, maxRows)
	if err != nil {
		return err
	}
	if n > int64(maxRows) {
		return errorf(errTooLarge, "a PDF export holds at most %d rows and this one has more; "+
			"use format=csv for the whole dataset, or narrow it with after= and limit=", maxRows)
	}
	types := make([]Type, len(x.cols))
	for i, c := range x.cols {
		types[i] = x.schema.Columns[c].Type
	}
	title := fmt.Sprintf("%s — %d rows — exported %s", x.name, n, x.started.UTC().Format(time.RFC3339))
	var buf bytes.Buffer
	rows, err := renderPDF(&buf, pdfTable{title: title, header: x.header(), types: types, created: x.started}, func(row func(uint64, [][]byte) error) error {
		return x.scan(snap, 0, row)
	})
	if err != nil {
		return err
	}
	// The whole document is known before its first byte goes out, so the integrity fields are
	// headers here, not trailers.
	sum := sha256.Sum256(buf.Bytes())
	x.setHeaders("application/pdf", "pdf")
	h := x.w.Header()
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Content-Digest", digestField(sum[:]))
	h.Set("Export-Rows", strconv.FormatInt(rows, 10))
	x.w.WriteHeader(http.StatusOK)
	x.sent = true
	st := newBodyStream(x.w, timeout, x.onFirst)
	_, err = st.Write(buf.Bytes())
	if err == nil {
		err = st.Flush()
	}
	x.bytes = st.bytes()
	if err == nil {
		x.rows = rows
	}
	return err
}
