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
	"strings"
	"time"
)

// export streams a dataset in a streamed format (CSV) or renders it in a document format (PDF). Once the status line is sent, a failure can
// no longer become an error response: the stream just ends without its trailers, which is how a
// client tells a truncated export from a complete one.
func (s *Server) export(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	q, err := parseExportQuery(r.URL.RawQuery)
	if err != nil {
		if _, known := lookupFormat(q.format); known {
			s.m.exports.WithLabelValues(q.format, "client_error").Inc()
			s.m.exportDuration.WithLabelValues(q.format).Observe(time.Since(start).Seconds())
		}
		return &kindError{errInvalidQuery, err}
	}
	format, _ := lookupFormat(q.format) // parseExportQuery knows it
	f := format.Name
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
	slot := s.exports[format.Capacity]
	if !slot.tryAcquire() {
		s.m.rejected.WithLabelValues("saturated").Inc()
		return errorf(errSaturated, "all %d %s export slots are busy; retry after the Retry-After seconds", cap(slot), f)
	}
	defer slot.release()
	s.m.inFlight.WithLabelValues(f).Inc()
	defer s.m.inFlight.WithLabelValues(f).Dec()

	x := &exportRun{w: w, ctx: r.Context(), q: q, format: format, name: name, schema: sc, cols: cols, started: start,
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
	if x.format.Capacity == Document {
		return s.store.View(x.name, func(snap Snapshot) error { return x.document(snap, s.cfg.WriteTimeout, s.cfg.PDFMaxRows) })
	}
	return s.store.View(x.name, func(snap Snapshot) error { return x.stream(snap, s.cfg.WriteTimeout) })
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
	format  Format
	name    string
	schema  Schema
	cols    []int
	started time.Time
	onFirst func()

	sent  bool // the status line has gone out
	rows  int64
	bytes int64
}

// table describes the export's rows to its encoder; rows is their number if known, else -1.
func (x *exportRun) table(rows int64) Table {
	t := Table{Dataset: x.name, Header: make([]string, 0, len(x.cols)+1), Types: make([]Type, len(x.cols)),
		Rows: rows, Created: x.started, BOM: x.q.bom}
	t.Header = append(t.Header, "id")
	for i, c := range x.cols {
		t.Header = append(t.Header, x.schema.Columns[c].Name)
		t.Types[i] = x.schema.Columns[c].Type
	}
	return t
}

// encode walks the selected rows of snap, honouring after and limit, and hands each to enc: the
// id's text, then the selected cells. It stops early when the client has gone.
func (x *exportRun) encode(snap Snapshot, enc Encoder) error {
	row := make([][]byte, 1+len(x.cols))
	var id []byte
	var prev uint64
	return snap.Scan(x.q.after, x.q.limit, func(n uint64, cells [][]byte) error {
		id, prev = appendID(id, prev, n), n
		row[0] = id
		for i, c := range x.cols {
			row[1+i] = cells[c]
		}
		if err := enc.Encode(row); err != nil {
			return err
		}
		if x.rows++; x.rows&1023 == 0 && x.ctx.Err() != nil {
			return errors.Join(errClientGone, x.ctx.Err())
		}
		return nil
	})
}

// appendID turns id, the decimal text of prev (empty at first), into that of n. Ids mostly come one
// after another, so it counts up in place when n is prev+1: usually one digit changes.
func appendID(id []byte, prev, n uint64) []byte {
	if n != prev+1 || len(id) == 0 {
		return strconv.AppendUint(id[:0], n, 10)
	}
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] != '9' {
			id[i]++
			return id
		}
		id[i] = '0'
	}
	id[0] = '1' // it was all nines, now all zeros: one digit more
	return append(id, '0')
}

// stream sends the export in a Streamed format: each row encoded as it is read onto a bodyStream,
// which sends them in chunks and ends with the trailers.
func (x *exportRun) stream(snap Snapshot, timeout time.Duration) error {
	x.setHeaders()
	announceTrailers(x.w.Header())
	x.w.WriteHeader(http.StatusOK)
	x.sent = true
	st := newBodyStream(x.w, timeout, x.onFirst)
	defer func() { x.bytes = st.end() }() // on every path: no chunk may still be in flight once we return

	enc := x.format.New(st, x.table(-1))
	err := x.encode(snap, enc)
	if err == nil {
		err = enc.Close()
	}
	if err == nil {
		err = st.Flush()
	}
	if err != nil {
		return err
	}
	st.setTrailers(x.rows)
	return nil
}

func (x *exportRun) setHeaders() {
	h := x.w.Header()
	h.Set("Content-Type", x.format.ContentType)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, x.name, x.format.Ext))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// documentRows counts the rows a Document export would hold, stopping once past the cap.
func (x *exportRun) documentRows(snap Snapshot, maxRows int) (int64, error) {
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
	err := snap.Scan(x.q.after, capRows, func(uint64, [][]byte) error {
		n++
		return nil
	})
	return n, err
}

// document sends the export in a Document format: counted first (refused past maxRows), rendered
// whole, then sent with its length and integrity fields as headers.
func (x *exportRun) document(snap Snapshot, timeout time.Duration, maxRows int) error {
	n, err := x.documentRows(snap, maxRows)
	if err != nil {
		return err
	}
	if n > int64(maxRows) {
		return errorf(errTooLarge, "a %s export holds at most %d rows and this one has more; "+
			"use format=csv for the whole dataset, or narrow it with after= and limit=", strings.ToUpper(x.format.Name), maxRows)
	}
	var buf bytes.Buffer
	enc := x.format.New(&buf, x.table(n))
	err = x.encode(snap, enc)
	if err == nil {
		err = enc.Close()
	}
	rows := x.rows
	x.rows = 0 // counted once sent
	if err != nil {
		return err
	}
	// The whole document is known before its first byte goes out, so the integrity fields are
	// headers here, not trailers.
	sum := sha256.Sum256(buf.Bytes())
	x.setHeaders()
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
