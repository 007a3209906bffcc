// Package export fetches exports from any exporter over HTTP and verifies them completely against
// the seeded records: CSV as strict RFC 4180 with exact cell text, formula guard, Content-Digest
// and Export-Rows trailers; PDF validated with pdfcpu, its text extracted page by page (through the
// fonts' ToUnicode CMaps) and checked for page count, header on every page, and every id once, in
// order. Results are plain data; judging them is the assert package's job.
package export

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/harness/seed"
)

// Export formats.
const (
	CSV = "csv"
	PDF = "pdf"
)

// Client fetches exports from one exporter. A Client is safe for concurrent use.
type Client struct {
	BaseURL string       // e.g. http://127.0.0.1:8080
	Token   string       // bearer token; empty sends none
	HTTP    *http.Client // nil: a client without compression and with enough idle connections
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
	str     []bool     // per Header position: a string column, so the formula guard applies
}

// NewExpected derives the expected export of records (loaded into dataset with schema) under opt.
func NewExpected(dataset string, schema seed.Schema, records []seed.Record, opt Options) (*Expected, error) {
	e := &Expected{Dataset: dataset, Options: opt, Header: []string{"id"}, str: []bool{false}, index: map[int64]int{}}
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
		e.str = append(e.str, schema[i].Type == seed.TypeString)
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

// Rows is the number of rows the export must contain.
func (e *Expected) Rows() int { return len(e.IDs) }

func (e *Expected) url(base, format string) string {
	q := url.Values{"format": {format}}
	if e.Options.Columns != nil {
		q.Set("columns", strings.Join(e.Options.Columns, ","))
	}
	if e.Options.After > 0 {
		q.Set("after", strconv.FormatInt(e.Options.After, 10))
	}
	if e.Options.Limit > 0 {
		q.Set("limit", strconv.Itoa(e.Options.Limit))
	}
	if e.Options.BOM && format == CSV {
		q.Set("bom", "1")
	}
	return base + "/v1/datasets/" + url.PathEscape(e.Dataset) + "/export?" + q.Encode()
}

// Fetch is what any export request measured on the wire.
type Fetch struct {
	Format    string
	Status    int           // 0 when no response arrived
	Header    http.Header   // response header
	Trailer   http.Header   // response trailers, after the body was read to its end
	Body      string        // the start of a non-200 body (for error messages)
	Bytes     int64         // body bytes received
	Latency   time.Duration // request start to end of body
	FirstByte time.Duration // request start to the first response byte
	Complete  bool          // 200 and the body was read to its end without error
	Err       string        // transport or body-read error
}

// Started reports whether the exporter began the export (answered 200).
func (f Fetch) Started() bool { return f.Status == http.StatusOK }

// Pending is an export whose response header has arrived and whose body has not been read yet.
// Call exactly one of CSV, PDF or Abandon.
type Pending struct {
	fetch  Fetch
	exp    *Expected
	resp   *http.Response
	start  time.Time
	cancel context.CancelFunc
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
	p := &Pending{fetch: Fetch{Format: format}, exp: exp, cancel: cancel, start: time.Now()}
	var first time.Time
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, exp.url(c.BaseURL, format), nil)
	if err != nil {
		p.fail(err)
		return p
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP()
	}
	resp, err := hc.Do(req)
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

// Abandon closes the body unread, as a client that gives up does.
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

// body is a reader over the response body that hashes and counts what it reads.
type body struct {
	r   io.Reader
	sum hash.Hash
	n   int64
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.sum.Write(p[:n])
	b.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &transportError{err}
	}
	return n, err
}

// transportError marks a failure to read the body, as opposed to a body that is malformed.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// consume reads the rest of the body through fn (which may stop early), drains what fn left,
// closes it and records completeness and trailers. It returns the body's SHA-256.
func (p *Pending) consume(fn func(r io.Reader)) []byte {
	b := &body{r: p.resp.Body, sum: sha256.New()}
	fn(b)
	_, err := io.Copy(io.Discard, b)
	p.resp.Body.Close()
	p.fetch.Bytes = b.n
	p.fetch.Latency = time.Since(p.start)
	p.fetch.Trailer = p.resp.Trailer
	if err != nil {
		p.fetch.Err = err.Error()
	} else {
		p.fetch.Complete = true
	}
	p.resp = nil
	p.cancel()
	return b.sum.Sum(nil)
}

// Integrity is the check of the Content-Digest and Export-Rows fields against the body.
type Integrity struct {
	DigestOK bool // Content-Digest present with a sha-256 equal to the body's
	RowsOK   bool // Export-Rows present and equal to the rows found in the body
	Problems []string
}

// OK reports whether both fields are present and right.
func (i Integrity) OK() bool { return i.DigestOK && i.RowsOK }

// checkIntegrity compares the digest and row-count fields (from fields, trailers or header) with
// what was received.
func checkIntegrity(fields http.Header, sum []byte, rows int) Integrity {
	var in Integrity
	digest := fields.Get("Content-Digest")
	switch got, ok := sha256Of(digest); {
	case digest == "":
		in.Problems = append(in.Problems, "Content-Digest missing")
	case !ok:
		in.Problems = append(in.Problems, fmt.Sprintf("Content-Digest %q has no sha-256", digest))
	case got != base64.StdEncoding.EncodeToString(sum):
		in.Problems = append(in.Problems, fmt.Sprintf("Content-Digest sha-256=:%s: but the body hashes to :%s:",
			got, base64.StdEncoding.EncodeToString(sum)))
	default:
		in.DigestOK = true
	}
	n := fields.Get("Export-Rows")
	switch v, err := strconv.Atoi(n); {
	case n == "":
		in.Problems = append(in.Problems, "Export-Rows missing")
	case err != nil:
		in.Problems = append(in.Problems, fmt.Sprintf("Export-Rows %q is not a number", n))
	case v != rows:
		in.Problems = append(in.Problems, fmt.Sprintf("Export-Rows says %d, the body has %d", v, rows))
	default:
		in.RowsOK = true
	}
	return in
}

// sha256Of returns the base64 sha-256 member of an RFC 9530 Content-Digest dictionary.
func sha256Of(field string) (string, bool) {
	for _, member := range strings.Split(field, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(member), "=")
		if ok && strings.TrimSpace(k) == "sha-256" {
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == ':' && v[len(v)-1] == ':' {
				return v[1 : len(v)-1], true
			}
		}
	}
	return "", false
}

// merged returns trailers over header: a trailer wins, a header field fills in.
func merged(f Fetch) http.Header {
	h := http.Header{}
	for _, k := range []string{"Content-Digest", "Export-Rows"} {
		if v := f.Trailer.Get(k); v != "" {
			h.Set(k, v)
		} else if v := f.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return h
}

// limitedList appends s to list unless it already holds max entries.
func limitedList(list []string, max int, s string) []string {
	if len(list) < max {
		return append(list, s)
	}
	return list
}
