package fake

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/internal/contract"
)

// intText is the text of an integer value.
var intText = regexp.MustCompile(`^-?[0-9]+$`)

type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// dataset keeps every record as its finished cell text (id excluded), keyed by id, and the ids
// in ascending order, so an export can read it a page at a time.
type dataset struct {
	columns []column
	rows    map[int64][]string
	ids     []int64 // ascending
}

// put stores a record, replacing one with the same id.
func (d *dataset) put(id int64, cells []string) {
	if _, ok := d.rows[id]; !ok {
		if n := len(d.ids); n == 0 || d.ids[n-1] < id {
			d.ids = append(d.ids, id)
		} else {
			i, _ := slices.BinarySearch(d.ids, id)
			d.ids = slices.Insert(d.ids, i, id)
		}
	}
	d.rows[id] = cells
}

// firstAfter returns the index in ids of the first id greater than after.
func (d *dataset) firstAfter(after int64) int {
	i, found := slices.BinarySearch(d.ids, after)
	if found {
		i++
	}
	return i
}

// putDataset creates a dataset from a create body of shape sh.
func (s *Server) putDataset(sh *shape) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !contract.DatasetName.MatchString(name) {
			writeError(w, http.StatusBadRequest, "invalid_name", "dataset name must match "+contract.DatasetName.String())
			return
		}
		columns, err := sh.schema(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_schema", err.Error())
			return
		}
		seen := map[string]bool{}
		for _, c := range columns {
			switch {
			case !contract.ColumnName.MatchString(c.Name) || c.Name == "id" || seen[c.Name]:
				writeError(w, http.StatusBadRequest, "invalid_schema", fmt.Sprintf("bad column name %q", c.Name))
				return
			case !slices.Contains([]string{"string", "int", "decimal", "timestamp", "bool"}, c.Type):
				writeError(w, http.StatusBadRequest, "invalid_schema", fmt.Sprintf("column %s: unknown type %q", c.Name, c.Type))
				return
			}
			seen[c.Name] = true
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		status := http.StatusCreated
		if d, ok := s.datasets[name]; ok {
			if !slices.Equal(d.columns, columns) {
				writeError(w, http.StatusConflict, "schema_conflict", "dataset exists with another schema")
				return
			}
			status = http.StatusOK
		} else {
			s.datasets[name] = &dataset{columns: columns, rows: map[int64][]string{}}
			s.metrics.storeRecords.WithLabelValues(name).Set(float64(s.cfg.Faults.StoreSkew))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"dataset": name, "columns": columns})
	}
}

// postRecords is v1's ingest: one JSON object (single) or NDJSON (batch, by its Content-Type).
func (s *Server) postRecords(w http.ResponseWriter, r *http.Request) {
	mode := "single"
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-ndjson") {
		mode = "batch"
	}
	s.ingest(w, r, v1, mode, func(body []byte) ([][]byte, error) {
		var recs [][]byte
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) > 0 {
				recs = append(recs, bytes.Clone(sc.Bytes()))
			}
		}
		return recs, sc.Err()
	})
}

// postRows is the second shape's ingest: a JSON array of the same objects, always a batch.
func (s *Server) postRows(w http.ResponseWriter, r *http.Request) {
	s.ingest(w, r, second, "batch", func(body []byte) ([][]byte, error) {
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, fmt.Errorf("body must be a JSON array of records: %w", err)
		}
		recs := make([][]byte, len(raws))
		for i, raw := range raws {
			recs[i] = raw
		}
		return recs, nil
	})
}

// ingest stores the records split out of r's body, all or none, and answers their count under
// sh's name for it. A single-mode request takes one record.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, sh *shape, mode string, split func([]byte) ([][]byte, error)) {
	name := r.PathValue("name")
	s.mu.RLock()
	d := s.datasets[name]
	s.mu.RUnlock()
	if d == nil {
		writeError(w, http.StatusNotFound, "not_found", "no dataset "+name)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	raws, err := split(body)
	if err != nil || len(raws) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_record", "no record in body")
		return
	}
	type parsed struct {
		id    int64
		cells []string
	}
	var recs []parsed
	for i, raw := range raws {
		if mode == "single" && i == 1 {
			writeError(w, http.StatusBadRequest, "invalid_record", "single mode takes one object")
			return
		}
		id, cells, err := d.parseRecord(raw)
		if err != nil {
			s.metrics.ingest.WithLabelValues(mode, "client_error").Inc()
			writeError(w, http.StatusBadRequest, "invalid_record", fmt.Sprintf("line %d: %v", i+1, err))
			return
		}
		recs = append(recs, parsed{id, cells})
	}
	s.mu.Lock()
	for _, p := range recs {
		d.put(p.id, p.cells)
	}
	n := len(d.rows)
	s.mu.Unlock()
	s.metrics.storeRecords.WithLabelValues(name).Set(float64(n + s.cfg.Faults.StoreSkew))
	s.metrics.ingest.WithLabelValues(mode, "ok").Add(float64(len(recs)))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]int{sh.accepted: len(recs)})
}

// parseRecord checks one JSON object against the schema and returns its id and cell texts.
func (d *dataset) parseRecord(b []byte) (int64, []string, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return 0, nil, fmt.Errorf("not a JSON object: %w", err)
	}
	rawID, ok := fields["id"]
	if !ok {
		return 0, nil, errors.New(`missing field "id"`)
	}
	id, err := strconv.ParseInt(string(rawID), 10, 64)
	if err != nil || id <= 0 {
		return 0, nil, errors.New(`field "id": want a positive integer`)
	}
	if len(fields) != len(d.columns)+1 {
		return 0, nil, fmt.Errorf("want %d fields, got %d", len(d.columns)+1, len(fields))
	}
	cells := make([]string, len(d.columns))
	for i, c := range d.columns {
		raw, ok := fields[c.Name]
		if !ok {
			return 0, nil, fmt.Errorf("missing field %q", c.Name)
		}
		cell, err := cellOf(c.Type, raw)
		if err != nil {
			return 0, nil, fmt.Errorf("field %q: %w", c.Name, err)
		}
		cells[i] = cell
	}
	return id, cells, nil
}

func cellOf(typ string, raw json.RawMessage) (string, error) {
	if string(raw) == "null" {
		return "", errors.New("null is not a value")
	}
	var s string
	isString := json.Unmarshal(raw, &s) == nil
	text := string(raw)
	switch typ {
	case "string":
		if isString {
			return s, nil
		}
	case "int":
		if intText.MatchString(text) {
			if _, err := strconv.ParseInt(text, 10, 64); err == nil {
				return text, nil
			}
		}
	case "decimal":
		if isString {
			text = s
		}
		if contract.DecimalText.MatchString(text) {
			return text, nil
		}
	case "timestamp":
		if isString {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err == nil {
				return t.UTC().Format(time.RFC3339Nano), nil
			}
		}
	case "bool":
		if text == "true" || text == "false" {
			return text, nil
		}
	}
	return "", fmt.Errorf("want %s", typ)
}
