package exporter

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/exportatscale/exportatscale/internal/contract"
)

const (
	maxSchemaBytes  = 1 << 20
	bodyReadTimeout = 2 * time.Minute
)

func (s *Server) datasetName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if !validDatasetName(name) {
		return "", errorf(errInvalidName, "dataset name %q must match %s", truncate([]byte(name)), contract.DatasetName)
	}
	return name, nil
}

// schema is the schema of dataset name; a failure, ErrNotFound say, is a datasetError.
func (s *Server) schema(name string) (Schema, error) {
	sc, err := s.store.Schema(name)
	if err != nil {
		return Schema{}, &datasetError{name, err}
	}
	return sc, nil
}

func (s *Server) putDataset(w http.ResponseWriter, r *http.Request) error {
	name, err := s.datasetName(r)
	if err != nil {
		return err
	}
	body, err := s.readBody(w, r, maxSchemaBytes)
	if err != nil {
		return err
	}
	if !utf8.Valid(body) {
		return errorf(errInvalidJSON, "the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var sc Schema
	if err := dec.Decode(&sc); err != nil {
		return errorf(errInvalidJSON, "schema: %w", err)
	}
	if dec.More() {
		return errorf(errInvalidJSON, "schema: unexpected data after the JSON object")
	}
	if err := sc.Validate(); err != nil {
		return &kindError{errInvalidSchema, err}
	}
	created, err := s.store.PutSchema(name, sc)
	if err != nil {
		return &datasetError{name, err}
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"dataset": name, "columns": sc.Columns})
	return nil
}

// readBody reads a size-limited body; one too large is counted and refused with errTooLarge.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	// The server has no global ReadTimeout (exports are long); a body gets its own deadline.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	// A declared length over the limit is refused from the headers alone, before any body byte is
	// read, and the connection is closed after the 413. A body of up to 256 KiB is still drained
	// (under the deadline above) once the 413 is out, so a client that sends it anyway can read the
	// answer; a larger one is not read at all.
	if r.ContentLength > limit {
		w.Header().Set("Connection", "close")
		s.m.rejected.WithLabelValues("too_large").Inc()
		return nil, errorf(errTooLarge, "the body is larger than %d bytes: Content-Length declares %d", limit, r.ContentLength)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	_ = rc.SetReadDeadline(time.Time{}) // the body is in; the handler may take its time
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		s.m.rejected.WithLabelValues("too_large").Inc()
		return nil, errorf(errTooLarge, "the body is larger than %d bytes", limit)
	}
	if err != nil {
		return nil, errorf(errBadBody, "reading the body: %w", err)
	}
	return body, nil
}

func (s *Server) postRecords(w http.ResponseWriter, r *http.Request) error {
	name, err := s.datasetName(r)
	if err != nil {
		return err
	}
	batch := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			return errorf(errMediaType, "malformed Content-Type")
		case mt == "application/x-ndjson":
			batch = true
		case mt == "application/json":
		default:
			return errorf(errMediaType, "Content-Type must be application/json (one record) or application/x-ndjson (a batch)")
		}
	}
	mode := "single"
	if batch {
		mode = "batch"
	}
	sc, err := s.schema(name)
	if err != nil {
		return err
	}
	body, err := s.readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	recs, err := parseRecords(sc, body, batch)
	if err != nil {
		s.m.ingested.WithLabelValues(mode, "client_error").Add(float64(max(countLines(body), 1)))
		return err
	}
	if err := s.store.Upsert(name, recs, !batch); err != nil {
		outcome := "server_error"
		if errors.Is(err, ErrStoreFull) {
			outcome = "store_full"
		}
		s.m.ingested.WithLabelValues(mode, outcome).Add(float64(len(recs)))
		return &datasetError{name, err}
	}
	s.m.ingested.WithLabelValues(mode, "ok").Add(float64(len(recs)))
	writeJSON(w, http.StatusOK, map[string]any{"accepted": len(recs)})
	return nil
}

// parseRecords parses one JSON object, or NDJSON lines (blank lines skipped), into stored records.
// The first bad line rejects them all. Stored values share one arena.
func parseRecords(sc Schema, body []byte, batch bool) ([]Record, error) {
	p := newRecordParser(sc)
	if !batch {
		id, v, err := p.parse(nil, body)
		if err != nil {
			return nil, &recordError{err: err}
		}
		return []Record{{ID: id, Value: v}}, nil
	}
	arena := make([]byte, 0, len(body))
	type span struct {
		id         uint64
		start, end int
	}
	var spans []span
	for line, rest, n := body, body, 0; len(rest) > 0; {
		n++
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		start := len(arena)
		id, out, err := p.parse(arena, line)
		if err != nil {
			return nil, &recordError{line: n, err: err}
		}
		arena = out
		spans = append(spans, span{id, start, len(arena)})
	}
	if len(spans) == 0 {
		return nil, &recordError{err: errors.New("the batch has no records")}
	}
	recs := make([]Record, len(spans))
	for i, sp := range spans {
		recs[i] = Record{ID: sp.id, Value: arena[sp.start:sp.end]}
	}
	return recs, nil
}

func countLines(b []byte) int {
	n := bytes.Count(b, []byte{'\n'})
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}
