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
)

var (
	datasetName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	columnName  = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	decimalText = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	intText     = regexp.MustCompile(`^-?[0-9]+$`)
)

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

func (s *Server) putDataset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !datasetName.MatchString(name) {
		writeError(w, http.StatusBadRequest, "invalid_name", "dataset name must match "+datasetName.String())
		return
	}
	var body struct {
		Columns []column `json:"columns"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || len(body.Columns) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_schema", "body must be {\"columns\":[{\"name\",\"type\"},...]}")
		return
	}
	seen := map[string]bool{}
	for _, c := range body.Columns {
		switch {
		case !columnName.MatchString(c.Name) || c.Name == "id" || seen[c.Name]:
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
		if !slices.Equal(d.columns, body.Columns) {
			writeError(w, http.StatusConflict, "schema_conflict", "dataset exists with another schema")
			return
		}
		status = http.StatusOK
	} else {
		s.datasets[name] = &dataset{columns: body.Columns, rows: map[int64][]string{}}
		s.metrics.storeRecords.WithLabelValues(name).Set(float64(s.cfg.Faults.StoreSkew))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"dataset": name, "columns": body.Columns})
}

func (s *Server) postRecords(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.RLock()
	d := s.datasets[name]
	s.mu.RUnlock()
	if d == nil {
		writeError(w, http.StatusNotFound, "not_found", "no dataset "+name)
		return
	}
	mode := "single"
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-ndjson") {
		mode = "batch"
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	type parsed struct {
		id    int64
		cells []string
	}
	var recs []parsed
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if mode == "single" && len(recs) == 1 {
			writeError(w, http.StatusBadRequest, "invalid_record", "single mode takes one object")
			return
		}
		id, cells, err := d.parseRecord(sc.Bytes())
		if err != nil {
			s.metrics.ingest.WithLabelValues(mode, "client_error").Inc()
			writeError(w, http.StatusBadRequest, "invalid_record", fmt.Sprintf("line %d: %v", line, err))
			return
		}
		recs = append(recs, parsed{id, cells})
	}
	if err := sc.Err(); err != nil || len(recs) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_record", "no record in body")
		return
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
	_ = json.NewEncoder(w).Encode(map[string]int{"accepted": len(recs)})
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
		if decimalText.MatchString(text) {
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
