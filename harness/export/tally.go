package export

import (
	"maps"
	"net/http"

	"github.com/exportatscale/exportatscale/harness/internal/ratelimit"
)

// Counts is what the harness saw of the exports it asked for, in the terms the exporter's metrics
// use, so the two can be reconciled. The zero value is ready to use.
type Counts struct {
	Status    map[int]int      `json:"status"`    // every answer to an export request, by status code
	Started   map[string]int   `json:"started"`   // 200 answers, by format
	Completed map[string]int   `json:"completed"` // bodies read to their end, by format
	Cut       map[string]int   `json:"cut"`       // started but not completed (cut off, abandoned), by format
	Rows      map[string]int64 `json:"rows"`      // rows in completed bodies, by format
	// Uncounted are completed bodies whose rows could not be counted (unparsable), by format: Rows
	// is then a lower bound.
	Uncounted map[string]int   `json:"uncounted"`
	Bytes     map[string]int64 `json:"bytes"` // bytes of completed bodies, by format

	// ClientError and ServerError count the error answers the exporter counts as exports with
	// outcome client_error and server_error, by format: every 4xx but 401, 403 (unauthorized) and
	// 429 (rate limited), a 413 included; every 5xx but 503 (saturated).
	ClientError map[string]int `json:"client_error"`
	ServerError map[string]int `json:"server_error"`

	// NoRetryAfter counts 429 and 503 answers without a valid Retry-After (see
	// ratelimit.RetryAfter), by status.
	NoRetryAfter map[int]int `json:"no_retry_after"`
}

// Add counts one fetch; rows is the number of rows found in its body, counted says whether the
// body could be read well enough to count them.
func (c *Counts) Add(f Fetch, rows int, counted bool) {
	if c.Status == nil {
		*c = Counts{Status: map[int]int{}, Started: map[string]int{}, Completed: map[string]int{}, Cut: map[string]int{},
			Rows: map[string]int64{}, Uncounted: map[string]int{}, Bytes: map[string]int64{},
			ClientError: map[string]int{}, ServerError: map[string]int{}, NoRetryAfter: map[int]int{}}
	}
	if f.Status == 0 {
		return // no answer: nothing for the exporter to have counted either
	}
	c.Status[f.Status]++
	switch s := f.Status; {
	case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
		if _, ok := ratelimit.RetryAfter(f.Header.Get("Retry-After")); !ok {
			c.NoRetryAfter[s]++
		}
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
	case s >= 400 && s < 500:
		c.ClientError[f.Format]++
	case s >= 500:
		c.ServerError[f.Format]++
	}
	if !f.Started() {
		return
	}
	c.Started[f.Format]++
	if !f.Complete {
		c.Cut[f.Format]++
		return
	}
	c.Completed[f.Format]++
	c.Rows[f.Format] += int64(rows)
	if !counted {
		c.Uncounted[f.Format]++
	}
	c.Bytes[f.Format] += f.Bytes
}

// AddCSV counts a CSV export; a body that did not parse has an unknown number of rows.
func (c *Counts) AddCSV(r CSVReport) { c.Add(r.Fetch, r.Rows, r.ParseErrors == 0) }

// AddPDF counts a PDF export; a document that did not validate has an unknown number of rows.
func (c *Counts) AddPDF(r PDFReport) { c.Add(r.Fetch, r.IDs, r.Valid) }

// Merge adds o into c.
func (c *Counts) Merge(o Counts) {
	if c.Status == nil {
		c.Add(Fetch{}, 0, true) // allocates the maps
	}
	addAll(c.Status, o.Status)
	addAll(c.Started, o.Started)
	addAll(c.Completed, o.Completed)
	addAll(c.Cut, o.Cut)
	addAll(c.Rows, o.Rows)
	addAll(c.Uncounted, o.Uncounted)
	addAll(c.Bytes, o.Bytes)
	addAll(c.ClientError, o.ClientError)
	addAll(c.ServerError, o.ServerError)
	addAll(c.NoRetryAfter, o.NoRetryAfter)
}

func addAll[K comparable, V int | int64](dst, src map[K]V) {
	for k, v := range maps.All(src) {
		dst[k] += v
	}
}

// ServerErrors counts 5xx answers other than 503, which is the documented load shedding (judged
// on its own, with its Retry-After).
func (c Counts) ServerErrors() int {
	n := 0
	for _, k := range c.ServerError {
		n += k
	}
	return n
}

// CSVTotals adds up the verification of many CSV exports, for the assertions.
type CSVTotals struct {
	Exports           int `json:"exports"` // CSV exports that started (200)
	Missing           int `json:"missing"`
	Duplicates        int `json:"duplicates"`
	Unexpected        int `json:"unexpected"`
	OutOfOrder        int `json:"out_of_order"`
	Mismatched        int `json:"mismatched"` // cells, guard violations included
	ParseErrors       int `json:"parse_errors"`
	TrailerMismatches int `json:"trailer_mismatches"` // exports whose Content-Digest or Export-Rows is missing or wrong
	// ContentHeaderMismatches are exports whose Content-Type or Content-Disposition is wrong.
	ContentHeaderMismatches int      `json:"content_header_mismatches"`
	Examples                []string `json:"examples,omitempty"`
}

// Add adds one report; an export that never started (an error status) has no body to judge.
func (t *CSVTotals) Add(r CSVReport) {
	if !r.Started() {
		return
	}
	t.Exports++
	t.Missing += r.Missing
	t.Duplicates += r.Duplicates
	t.Unexpected += r.Unexpected
	t.OutOfOrder += r.OutOfOrder
	t.Mismatched += r.Mismatched + r.GuardViolations
	t.ParseErrors += r.ParseErrors
	if !r.Integrity.OK() {
		t.TrailerMismatches++
	}
	if !r.Media.OK() {
		t.ContentHeaderMismatches++
	}
	for _, e := range r.Examples {
		t.Examples = limitedList(t.Examples, maxExamples, e)
	}
}

// Merge adds o into t.
func (t *CSVTotals) Merge(o CSVTotals) {
	t.Exports += o.Exports
	t.Missing += o.Missing
	t.Duplicates += o.Duplicates
	t.Unexpected += o.Unexpected
	t.OutOfOrder += o.OutOfOrder
	t.Mismatched += o.Mismatched
	t.ParseErrors += o.ParseErrors
	t.TrailerMismatches += o.TrailerMismatches
	t.ContentHeaderMismatches += o.ContentHeaderMismatches
	for _, e := range o.Examples {
		t.Examples = limitedList(t.Examples, maxExamples, e)
	}
}

// PDFTotals adds up the verification of many PDF exports, for the assertions.
type PDFTotals struct {
	Exports            int `json:"exports"` // PDF exports that started (200)
	Invalid            int `json:"invalid"` // documents pdfcpu rejected (or cut short)
	PageMismatch       int `json:"page_mismatch"`
	MissingIDs         int `json:"missing_ids"` // ids missing, repeated, unexpected or out of order
	HeaderMissingPages int `json:"header_missing_pages"`
	HeaderMismatches   int `json:"header_mismatches"` // exports whose Content-Digest or Export-Rows is missing or wrong
	// ContentHeaderMismatches are exports whose Content-Type or Content-Disposition is wrong.
	ContentHeaderMismatches int      `json:"content_header_mismatches"`
	Examples                []string `json:"examples,omitempty"`
}

// Add adds one report; an export that never started has no body to judge.
func (t *PDFTotals) Add(r PDFReport) {
	if !r.Started() {
		return
	}
	t.Exports++
	if !r.Valid {
		t.Invalid++
	}
	if r.PageMismatch {
		t.PageMismatch++
	}
	t.MissingIDs += r.Missing + r.Duplicates + r.Unexpected + r.OutOfOrder
	t.HeaderMissingPages += r.HeaderMissingPages
	if !r.Integrity.OK() {
		t.HeaderMismatches++
	}
	if !r.Media.OK() {
		t.ContentHeaderMismatches++
	}
	for _, e := range r.Examples {
		t.Examples = limitedList(t.Examples, maxExamples, e)
	}
}

// Merge adds o into t.
func (t *PDFTotals) Merge(o PDFTotals) {
	t.Exports += o.Exports
	t.Invalid += o.Invalid
	t.PageMismatch += o.PageMismatch
	t.MissingIDs += o.MissingIDs
	t.HeaderMissingPages += o.HeaderMissingPages
	t.HeaderMismatches += o.HeaderMismatches
	t.ContentHeaderMismatches += o.ContentHeaderMismatches
	for _, e := range o.Examples {
		t.Examples = limitedList(t.Examples, maxExamples, e)
	}
}
