package export

import (
	"fmt"
	"net/http"
	"reflect"

	"github.com/exportatscale/exportatscale/harness/internal/ratelimit"
)

// Tally is everything the harness counted of the exports it asked for: what it saw on the wire, in
// the terms the exporter's metrics use (A6 reconciles them, A5 judges the error answers), and what
// verification found in the CSV and PDF bodies (A1 and A2 judge them). The zero value is ready to
// use. Merge adds every field by reflection, so a field added here needs no line of its own there.
type Tally struct {
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

	CSV CSVTotals `json:"csv"` // the verification of the CSV exports that started
	PDF PDFTotals `json:"pdf"` // the verification of the PDF exports that started
}

// Counted is what a Tally counts: a Fetch (an answer counted on the wire only, such as a refused
// export or one cut short on purpose), or a CSVReport or PDFReport (counted on the wire and in the
// verification totals).
type Counted interface {
	wire() (f Fetch, rows int, rowsKnown bool)
}

func (f Fetch) wire() (Fetch, int, bool) { return f, 0, true }

// A CSV body that did not parse has an unknown number of rows.
func (r CSVReport) wire() (Fetch, int, bool) { return r.Fetch, r.Rows, r.ParseErrors == 0 }

// A PDF document that did not validate has an unknown number of rows.
func (r PDFReport) wire() (Fetch, int, bool) { return r.Fetch, r.IDs, r.Valid }

// Add counts one export.
func (t *Tally) Add(c Counted) {
	f, rows, known := c.wire()
	t.addWire(f, rows, known)
	switch r := c.(type) {
	case CSVReport:
		t.CSV.add(r)
	case PDFReport:
		t.PDF.add(r)
	}
}

// AddRefused counts an answer the client did not keep as an export: a 429 it sent the request
// again after. Its status and its Retry-After are counted as any answer's are.
func (t *Tally) AddRefused(f Fetch) { t.addWire(f, 0, true) }

func (t *Tally) addWire(f Fetch, rows int, counted bool) {
	if f.Status == 0 {
		return // no answer: nothing for the exporter to have counted either
	}
	inc(&t.Status, f.Status, 1)
	switch s := f.Status; {
	case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
		if _, ok := ratelimit.RetryAfter(f.Header.Get("Retry-After")); !ok {
			inc(&t.NoRetryAfter, s, 1)
		}
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
	case s >= 400 && s < 500:
		inc(&t.ClientError, f.Format, 1)
	case s >= 500:
		inc(&t.ServerError, f.Format, 1)
	}
	if !f.Started() {
		return
	}
	inc(&t.Started, f.Format, 1)
	if !f.Complete {
		inc(&t.Cut, f.Format, 1)
		return
	}
	inc(&t.Completed, f.Format, 1)
	inc(&t.Rows, f.Format, int64(rows))
	if !counted {
		inc(&t.Uncounted, f.Format, 1)
	}
	inc(&t.Bytes, f.Format, f.Bytes)
}

func inc[K comparable, V int | int64](m *map[K]V, k K, v V) {
	if *m == nil {
		*m = map[K]V{}
	}
	(*m)[k] += v
}

// ServerErrors counts 5xx answers other than 503, which is the documented load shedding (judged
// on its own, with its Retry-After).
func (t Tally) ServerErrors() int {
	n := 0
	for _, k := range t.ServerError {
		n += k
	}
	return n
}

// Merge adds o into t: every number, every count in a map, and the examples up to the bound.
func (t *Tally) Merge(o Tally) {
	merge(reflect.ValueOf(t).Elem(), reflect.ValueOf(o))
}

// merge adds src into dst, field by field: integers are added, maps of integers added key by key,
// string slices (examples) appended up to maxExamples, structs merged recursively. Any other kind
// of field is a programming error.
func merge(dst, src reflect.Value) {
	switch dst.Kind() {
	case reflect.Int, reflect.Int64:
		dst.SetInt(dst.Int() + src.Int())
	case reflect.Map:
		if src.Len() == 0 {
			return
		}
		if dst.IsNil() {
			dst.Set(reflect.MakeMap(dst.Type()))
		}
		for it := src.MapRange(); it.Next(); {
			sum := reflect.New(dst.Type().Elem()).Elem()
			if v := dst.MapIndex(it.Key()); v.IsValid() {
				sum.Set(v)
			}
			merge(sum, it.Value())
			dst.SetMapIndex(it.Key(), sum)
		}
	case reflect.Slice:
		for i := 0; i < src.Len() && dst.Len() < maxExamples; i++ {
			dst.Set(reflect.Append(dst, src.Index(i)))
		}
	case reflect.Struct:
		for i := range dst.NumField() {
			merge(dst.Field(i), src.Field(i))
		}
	default:
		panic(fmt.Sprintf("export: Tally cannot merge a %s", dst.Type()))
	}
}

// CSVTotals adds up the verification of many CSV exports, for the assertions.
type CSVTotals struct {
	Exports     int `json:"exports"` // CSV exports that started (200)
	Missing     int `json:"missing"`
	Duplicates  int `json:"duplicates"`
	Unexpected  int `json:"unexpected"`
	OutOfOrder  int `json:"out_of_order"`
	Mismatched  int `json:"mismatched"` // cells, guard violations included
	ParseErrors int `json:"parse_errors"`
	// IntegrityMismatches are exports whose Content-Digest or Export-Rows trailer is missing or
	// wrong.
	IntegrityMismatches int `json:"integrity_mismatches"`
	// Exact are exports whose body arrived whole (the chunked framing ended cleanly) and verified
	// exactly: parsed, every expected row once and in order, every cell equal to the seed.
	Exact int `json:"exact"`
	// Untrailered are exports that carried neither integrity field, Content-Digest nor
	// Export-Rows, as a trailer or in the header.
	Untrailered int `json:"untrailered"`
	// ContentHeaderMismatches are exports whose Content-Type or Content-Disposition is wrong.
	ContentHeaderMismatches int      `json:"content_header_mismatches"`
	Examples                []string `json:"examples,omitempty"`
}

// TrailersStripped reports the mark of an intermediary that drops HTTP trailers (nginx before
// 1.27.2): every CSV export's body arrived whole and exactly right, yet not one of them carried
// an integrity field. An exporter that cuts its streams short also sends no trailers, but its
// bodies are not all whole and exact; one that forgets them on some exports leaves others with
// them. Either way the integrity of the exports cannot be verified by a client, so the diagnosis
// names the cause of a failure, it is not a pass.
func (t CSVTotals) TrailersStripped() bool {
	return t.Exports > 0 && t.Exact == t.Exports && t.Untrailered == t.Exports
}

// add adds one report; an export that never started (an error status) has no body to judge.
func (t *CSVTotals) add(r CSVReport) {
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
		t.IntegrityMismatches++
	}
	if r.exact() {
		t.Exact++
	}
	if !r.Integrity.Present {
		t.Untrailered++
	}
	if !r.Media.OK() {
		t.ContentHeaderMismatches++
	}
	for _, e := range r.Examples {
		t.Examples = limitedList(t.Examples, maxExamples, e)
	}
}

// PDFTotals adds up the verification of many PDF exports, for the assertions.
type PDFTotals struct {
	Exports            int `json:"exports"` // PDF exports that started (200)
	Invalid            int `json:"invalid"` // documents pdfcpu rejected (or cut short)
	PageMismatch       int `json:"page_mismatch"`
	MissingIDs         int `json:"missing_ids"`          // ids missing, repeated, unexpected or out of order
	TableHeaderMissing int `json:"table_header_missing"` // pages without the table's header row
	// IntegrityMismatches are exports whose Content-Digest or Export-Rows header is missing or
	// wrong.
	IntegrityMismatches int `json:"integrity_mismatches"`
	// ContentHeaderMismatches are exports whose Content-Type or Content-Disposition is wrong.
	ContentHeaderMismatches int      `json:"content_header_mismatches"`
	Examples                []string `json:"examples,omitempty"`
}

// add adds one report; an export that never started has no body to judge.
func (t *PDFTotals) add(r PDFReport) {
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
	t.TableHeaderMissing += r.TableHeaderMissing
	if !r.Integrity.OK() {
		t.IntegrityMismatches++
	}
	if !r.Media.OK() {
		t.ContentHeaderMismatches++
	}
	for _, e := range r.Examples {
		t.Examples = limitedList(t.Examples, maxExamples, e)
	}
}
