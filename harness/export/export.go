// Package export fetches exports from any exporter over HTTP and verifies them completely against
// the seeded records: CSV as strict RFC 4180 with exact cell text, formula guard, Content-Digest
// and Export-Rows trailers; PDF validated with pdfcpu, its text extracted page by page (through the
// fonts' ToUnicode CMaps) and checked for page count, header on every page, and every id once, in
// order. Results are plain data; judging them is the assert package's job.
package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exportatscale/exportatscale/harness/seed"
)

// Export formats.
const (
	CSV = "csv"
	PDF = "pdf"
)

// API builds the export requests of the API a Client fetches from, with its credentials
// (harness/api makes one from a profile).
type API interface {
	// Export is the request for an export of dataset in format with opt, without credentials;
	// columns are the declared columns it selects, in order.
	Export(ctx context.Context, format, dataset string, opt Options, columns []string) (*http.Request, error)
	// Authorize adds the API's credentials to a request.
	Authorize(req *http.Request)
}

// Counter is an API that answers how many rows an export holds, in a request of its own: the
// proof of ProofCount.
type Counter interface {
	Count(ctx context.Context, dataset string, opt Options, columns []string) (*http.Request, error)
}

// Client fetches exports from one exporter. A Client is safe for concurrent use.
type Client struct {
	// Dialect is how the API writes CSV exports, what CSV verification expects; nil: StrictDialect.
	// An invalid one (see Dialect.Validate) makes every CSV verification a parse error naming it.
	Dialect *Dialect
	// Proof is how a whole export proves itself; nil: DefaultProof.
	Proof *Proof
	API   API
	HTTP  *http.Client // nil: a client without compression and with enough idle connections
}

// Options are the optional export query parameters.
type Options struct {
	Columns []string // a subset of the declared columns, in the wanted order; nil: all
	After   int64    // only ids greater than this (0: from the start)
	Limit   int      // at most this many rows (0: no limit)
	BOM     bool     // CSV only: ask for a UTF-8 BOM
}

// Expected is what an export of one dataset with given options must contain, derived from the
// seeded records. It is read-only once built and may be shared by concurrent fetches.
type Expected struct {
	Dataset string
	Options Options
	Header  []string // "id" then the selected columns
	IDs     []int64  // ascending
	index   map[int64]int
	cells   [][]string // per IDs index: the cell text per Header position, before the guard
	types   []string   // per Header position: the column's seed type (seed.TypeInt for id)
	// sizeHint is the size of the last complete body received for this expectation, so the next
	// one is read into a buffer that need not grow on the timed path.
	sizeHint atomic.Int64
}

// Refused is an export request that must be refused, such as one naming a column the dataset
// does not have: it is sent as opt says, and nothing is expected of a body.
func Refused(dataset string, opt Options) *Expected {
	return &Expected{Dataset: dataset, Options: opt, Header: append([]string{"id"}, opt.Columns...), index: map[int64]int{}}
}

// NewExpected derives the expected export of records (loaded into dataset with schema) under opt.
func NewExpected(dataset string, schema seed.Schema, records []seed.Record, opt Options) (*Expected, error) {
	e := &Expected{Dataset: dataset, Options: opt, Header: []string{"id"}, types: []string{seed.TypeInt}, index: map[int64]int{}}
	pick := []int{} // schema index per selected column
	names := opt.Columns
	if names == nil {
		names = schema.Names()
	}
	for _, n := range names {
		i := schema.Index(n)
		if i < 0 {
			return nil, fmt.Errorf("column %q is not in the schema", n)
		}
		pick = append(pick, i)
		e.Header = append(e.Header, n)
		e.types = append(e.types, schema[i].Type)
	}
	byID := map[int64][]string{}
	for _, rec := range records {
		if rec.ID <= opt.After {
			continue
		}
		all, err := schema.Cells(rec)
		if err != nil {
			return nil, err
		}
		cells := []string{all[0]}
		for _, i := range pick {
			cells = append(cells, all[i+1])
		}
		byID[rec.ID] = cells // a later record with the same id wins, as an upsert does
	}
	for id := range byID {
		e.IDs = append(e.IDs, id)
	}
	slices.Sort(e.IDs)
	if opt.Limit > 0 && len(e.IDs) > opt.Limit {
		e.IDs = e.IDs[:opt.Limit]
	}
	e.cells = make([][]string, len(e.IDs))
	for i, id := range e.IDs {
		e.index[id] = i
		e.cells[i] = byID[id]
	}
	return e, nil
}

// columns are the declared columns the export selects, in order: its header without the id.
func (e *Expected) columns() []string {
	if len(e.Header) == 0 {
		return nil
	}
	return e.Header[1:]
}

// Rows is the number of rows the export must contain.
func (e *Expected) Rows() int { return len(e.IDs) }

// Fetch is what any export request measured on the wire.
type Fetch struct {
	Format    string
	Path      string        // the request's path and query
	Status    int           // 0 when no response arrived
	Header    http.Header   // response header
	Trailer   http.Header   // response trailers, after the body was read to its end
	Body      string        // the start of a non-200 body (for error messages)
	Bytes     int64         // body bytes received
	Start     time.Time     // when the request was sent
	Latency   time.Duration // request start to end of body
	FirstByte time.Duration // request start to the first response byte
	Complete  bool          // 200 and the body was read to its end without error
	Err       string        // transport or body-read error
}

// Started reports whether the exporter began the export (answered 200).
func (f Fetch) Started() bool { return f.Status == http.StatusOK }

// Pending is an export whose response header has arrived and whose body has not been read yet.
// Read parts of the body with ReadSome if needed, then call exactly one of Receive, CSV, PDF or
// Abandon.
type Pending struct {
	fetch  Fetch
	exp    *Expected
	resp   *http.Response
	start  time.Time
	cancel context.CancelFunc
	buf    bytes.Buffer // body bytes read so far
	sum    hash.Hash    // of buf

	dialect *Dialect // the Client's, for verifying a CSV body
	proof   *Proof
	count   func() (int, error)
}

// Fetch returns what has been measured so far (status, header, first byte).
func (p *Pending) Fetch() Fetch { return p.fetch }

var defaultHTTP = sync.OnceValue(func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.DisableCompression = true // Bytes and the digest are about the body as sent
	return &http.Client{Transport: t}
})

// Open sends the export request for exp in format and returns once the response header arrived (or
// the request failed). ctx bounds the whole export, body included.
func (c *Client) Open(ctx context.Context, format string, exp *Expected) *Pending {
	ctx, cancel := context.WithCancel(ctx)
	p := &Pending{fetch: Fetch{Format: format}, exp: exp, cancel: cancel, start: time.Now(), sum: sha256.New()}
	p.dialect, p.proof = c.Dialect, c.Proof
	p.count = func() (int, error) { return c.countRows(exp) }
	p.fetch.Start = p.start
	var first time.Time
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}
	req, err := c.API.Export(httptrace.WithClientTrace(ctx, trace), format, exp.Dataset, exp.Options, exp.columns())
	if err != nil {
		p.fail(err)
		return p
	}
	p.fetch.Path = req.URL.RequestURI() // before the credentials, which may travel in the query
	resp, err := c.do(req)
	if !first.IsZero() {
		p.fetch.FirstByte = first.Sub(p.start)
	}
	if err != nil {
		p.fail(err)
		return p
	}
	p.fetch.Status, p.fetch.Header = resp.StatusCode, resp.Header
	if resp.StatusCode != http.StatusOK {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		p.fetch.Body = string(b)
		if err != nil {
			p.fetch.Err = err.Error()
		}
		p.fetch.Latency = time.Since(p.start)
		cancel()
		return p
	}
	p.resp = resp
	return p
}

func (p *Pending) fail(err error) {
	p.fetch.Err = err.Error()
	p.fetch.Latency = time.Since(p.start)
	p.cancel()
}

// ReadSome reads up to n more bytes of the body (fewer at its end) and returns how many it read.
func (p *Pending) ReadSome(n int64) (int64, error) {
	if p.resp == nil {
		return 0, errors.New("no body to read")
	}
	got, err := p.buf.ReadFrom(io.TeeReader(io.LimitReader(p.resp.Body, n), p.sum))
	p.fetch.Bytes = int64(p.buf.Len())
	return got, err
}

// Abandon closes the body without reading the rest, as a client that gives up does.
func (p *Pending) Abandon() Fetch {
	if p.resp != nil {
		p.resp.Body.Close()
		p.fetch.Latency = time.Since(p.start)
		p.fetch.Err = "abandoned by the client"
		p.resp = nil
	}
	p.cancel()
	return p.fetch
}

// Received is an export read to its end on the timed path: the client only read the body as fast
// as the socket delivered it, hashing and counting it on the way, and kept it. Verification (CSV,
// PDF) happens afterwards, off the clock, from the kept bytes.
type Received struct {
	Fetch
	exp  *Expected
	body []byte
	sum  []byte // SHA-256 of body

	dialect *Dialect // the Client's; nil: StrictDialect
	proof   *Proof
	count   func() (int, error) // ProofCount: asks the API for the export's row count
}

// Expected is what the export was checked against.
func (r *Received) Expected() *Expected { return r.exp }

// Sum is the SHA-256 of the body as received.
func (r *Received) Sum() []byte { return r.sum }

// Body is the body as received; do not modify it.
func (r *Received) Body() []byte { return r.body }

// Drop releases the kept body once it has been verified and is no longer needed; Fetch stays.
func (r *Received) Drop() { r.body = nil }

// Get fetches exp in format on the timed path: the request, the header, and the body read to its
// end (or its failure). Nothing is verified; call CSV or PDF on the result.
func (c *Client) Get(ctx context.Context, format string, exp *Expected) *Received {
	return c.Open(ctx, format, exp).Receive()
}

// Receive reads the rest of the body as fast as the socket delivers it, hashing and counting it,
// closes it and records completeness, latency and trailers.
func (p *Pending) Receive() *Received {
	rec := &Received{exp: p.exp, dialect: p.dialect, proof: p.proof, count: p.count}
	if p.resp == nil {
		rec.Fetch = p.fetch
		return rec
	}
	buf := &p.buf
	if n := p.resp.ContentLength; n > 0 && n < 1<<30 {
		buf.Grow(int(n) - buf.Len())
	} else if n := p.exp.sizeHint.Load(); n > 0 {
		buf.Grow(int(n) - buf.Len())
	}
	_, err := buf.ReadFrom(io.TeeReader(p.resp.Body, p.sum))
	p.resp.Body.Close()
	p.fetch.Latency = time.Since(p.start)
	p.fetch.Bytes = int64(buf.Len())
	p.fetch.Trailer = p.resp.Trailer
	if err != nil {
		p.fetch.Err = err.Error()
	} else {
		p.fetch.Complete = true
		p.exp.sizeHint.Store(int64(buf.Len()) + 4<<10)
	}
	p.resp = nil
	p.cancel()
	rec.Fetch, rec.body, rec.sum = p.fetch, buf.Bytes(), p.sum.Sum(nil)
	return rec
}

// reader returns the kept body as a reader; for a body that was cut short it ends with the read
// error the client met, so a verifier tells a cut body from a malformed one.
func (r *Received) reader() io.Reader {
	if r.Complete {
		return bytes.NewReader(r.body)
	}
	return io.MultiReader(bytes.NewReader(r.body), errReader{&transportError{errors.New(r.Err)}})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// transportError marks a failure to read the body, as opposed to a body that is malformed.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// Media is the check of the response's Content-Type and Content-Disposition: text/csv with
// charset=utf-8 or application/pdf, and an attachment with a filename, so a browser downloads the
// export as a file.
type Media struct {
	ContentType, Disposition string // as received
	Problems                 []string
}

// OK reports whether both fields are right.
func (m Media) OK() bool { return len(m.Problems) == 0 }

// checkMedia checks the content headers of a 200 export in format.
func checkMedia(h http.Header, format string) Media {
	m := Media{ContentType: h.Get("Content-Type"), Disposition: h.Get("Content-Disposition")}
	want := map[string]string{CSV: "text/csv", PDF: "application/pdf"}[format]
	switch typ, params, err := mime.ParseMediaType(m.ContentType); {
	case m.ContentType == "":
		m.Problems = append(m.Problems, "Content-Type missing, want "+want)
	case err != nil:
		m.Problems = append(m.Problems, fmt.Sprintf("Content-Type %q: %v", m.ContentType, err))
	case typ != want:
		m.Problems = append(m.Problems, fmt.Sprintf("Content-Type %q, want %s", m.ContentType, want))
	case format == CSV && !strings.EqualFold(params["charset"], "utf-8"):
		m.Problems = append(m.Problems, fmt.Sprintf("Content-Type %q, want charset=utf-8", m.ContentType))
	}
	switch disp, params, err := mime.ParseMediaType(m.Disposition); {
	case m.Disposition == "":
		m.Problems = append(m.Problems, "Content-Disposition missing, want attachment with a filename")
	case err != nil:
		m.Problems = append(m.Problems, fmt.Sprintf("Content-Disposition %q: %v", m.Disposition, err))
	case disp != "attachment" || strings.TrimSpace(params["filename"]) == "":
		m.Problems = append(m.Problems, fmt.Sprintf("Content-Disposition %q, want attachment with a filename", m.Disposition))
	}
	return m
}

// limitedList appends s to list unless it already holds max entries.
func limitedList(list []string, max int, s string) []string {
	if len(list) < max {
		return append(list, s)
	}
	return list
}

// do sends req with the API's credentials through the Client's HTTP client.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	c.API.Authorize(req)
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP()
	}
	return hc.Do(req)
}
