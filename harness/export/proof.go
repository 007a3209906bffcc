package export

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// Integrity is the check of the fields by which an export proves it is whole (Proof) against the
// body.
type Integrity struct {
	DigestOK bool // the digest (or length) is present and equal to the body's; true when the proof has none
	RowsOK   bool // the row count is present and equal to the rows found in the body; true when the proof has none
	// Present is true when at least one of the proof's fields arrived, right or wrong.
	Present  bool
	Problems []string
}

// OK reports whether both fields are present and right.
func (i Integrity) OK() bool { return i.DigestOK && i.RowsOK }

// The kinds of Proof.
const (
	ProofTrailers      = "trailers"         // a digest and a row count, as trailers (or header fields)
	ProofRowCount      = "row_count_header" // a row count in a header field
	ProofContentLength = "content_length"   // Content-Length, which the body must match
	ProofCount         = "count_request"    // a second request answers the export's row count
	ProofNone          = "none"             // nothing: a client cannot tell a cut export from a whole one
)

// Proof is how a whole export proves itself to a client (a profile's integrity).
type Proof struct {
	Kind   string
	Digest string // ProofTrailers: the RFC 9530 digest field ("" none)
	Rows   string // ProofTrailers, ProofRowCount: the row count field
}

// DefaultProof is a Client's Proof when it has none: Content-Digest and Export-Rows trailers.
var DefaultProof = Proof{Kind: ProofTrailers, Digest: "Content-Digest", Rows: "Export-Rows"}

// check checks what f carries of the proof against the body's digest and rows.
func (p *Proof) check(f Fetch, sum []byte, rows int) Integrity {
	if p == nil {
		p = &DefaultProof
	}
	switch p.Kind {
	case ProofNone:
		return Integrity{DigestOK: true, RowsOK: true}
	case ProofCount:
		return Integrity{Problems: []string{"the row count was not asked for"}}
	case ProofContentLength:
		n := f.Header.Get("Content-Length")
		in := Integrity{Present: n != "", RowsOK: true}
		switch v, err := strconv.ParseInt(n, 10, 64); {
		case n == "":
			in.Problems = append(in.Problems, "Content-Length missing")
		case err != nil || v != f.Bytes:
			in.Problems = append(in.Problems, fmt.Sprintf("Content-Length %q, the body has %d bytes", n, f.Bytes))
		default:
			in.DigestOK = true
		}
		return in
	}
	fields := merged(f, p.Digest, p.Rows)
	in := Integrity{Present: fields.Get(p.Digest) != "" || fields.Get(p.Rows) != "", DigestOK: p.Digest == ""}
	if p.Digest != "" {
		in.DigestOK = checkDigest(&in, p.Digest, fields.Get(p.Digest), sum)
	}
	n := fields.Get(p.Rows)
	switch v, err := strconv.Atoi(n); {
	case n == "":
		in.Problems = append(in.Problems, p.Rows+" missing")
	case err != nil:
		in.Problems = append(in.Problems, fmt.Sprintf("%s %q is not a number", p.Rows, n))
	case v != rows:
		in.Problems = append(in.Problems, fmt.Sprintf("%s says %d, the body has %d", p.Rows, v, rows))
	default:
		in.RowsOK = true
	}
	return in
}

// checkDigest checks an RFC 9530 digest field's sha-256 against sum, adding a problem to in when
// it is missing or wrong.
func checkDigest(in *Integrity, name, digest string, sum []byte) bool {
	switch got, ok := sha256Of(digest); {
	case digest == "":
		in.Problems = append(in.Problems, name+" missing")
	case !ok:
		in.Problems = append(in.Problems, fmt.Sprintf("%s %q has no sha-256", name, digest))
	case got != base64.StdEncoding.EncodeToString(sum):
		in.Problems = append(in.Problems, fmt.Sprintf("%s sha-256=:%s: but the body hashes to :%s:",
			name, got, base64.StdEncoding.EncodeToString(sum)))
	default:
		return true
	}
	return false
}

// sha256Of returns the sha-256 member of an RFC 9530 Content-Digest field, in base64: the field
// is a structured-field Dictionary (parsed with httpsfv) and the member a Byte Sequence.
func sha256Of(field string) (string, bool) {
	d, err := httpsfv.UnmarshalDictionary([]string{field})
	if err != nil {
		return "", false
	}
	m, _ := d.Get("sha-256")
	it, _ := m.(httpsfv.Item)
	b, ok := it.Value.([]byte)
	if !ok {
		return "", false
	}
	return base64.StdEncoding.EncodeToString(b), true
}

// merged returns the fields names, trailers over header: a trailer wins, a header field fills in.
func merged(f Fetch, names ...string) http.Header {
	h := http.Header{}
	for _, k := range names {
		if k == "" {
			continue
		}
		if v := f.Trailer.Get(k); v != "" {
			h.Set(k, v)
		} else if v := f.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return h
}

// countRows asks the API how many rows the export exp holds (ProofCount), off the clock.
func (c *Client) countRows(exp *Expected) (int, error) {
	counter, ok := c.API.(Counter)
	if !ok {
		return 0, errors.New("the API answers no count request")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := counter.Count(ctx, exp.Dataset, exp.Options, exp.columns())
	if err != nil {
		return 0, err
	}
	resp, err := c.do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("count request: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("count request answered %q, not a count", strings.TrimSpace(string(b)))
	}
	return n, nil
}

// integrity checks the export's proof against what was received, rows being the rows found in the
// body: a whole body of a ProofCount API is checked against the API's count, any other against
// the fields it carried.
func (r *Received) integrity(rows int) Integrity {
	if r.proof != nil && r.proof.Kind == ProofCount && r.Complete {
		return r.counted(rows)
	}
	return r.proof.check(r.Fetch, r.sum, rows)
}

// counted is the integrity of a ProofCount export: the API's count of the export's rows against
// the rows found in the body.
func (r *Received) counted(rows int) Integrity {
	if r.count == nil {
		return Integrity{Problems: []string{"no count request to ask"}}
	}
	n, err := r.count()
	switch {
	case err != nil:
		return Integrity{Problems: []string{err.Error()}}
	case n != rows:
		return Integrity{Present: true, DigestOK: true, Problems: []string{fmt.Sprintf("the count request says %d rows, the body has %d", n, rows)}}
	}
	return Integrity{Present: true, DigestOK: true, RowsOK: true}
}
