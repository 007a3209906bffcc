package export

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/exportatscale/exportatscale/harness/seed"
)

// maxExamples bounds the example lines a report keeps.
const maxExamples = 10

// CSVReport is the full verification of one CSV export.
type CSVReport struct {
	Fetch
	Integrity
	Media Media

	BOM         bool // the body started with a UTF-8 BOM
	HeaderOK    bool // the header row is exactly Expected.Header
	Rows        int  // data records parsed (duplicates included)
	ParseErrors int  // syntax errors, records with a wrong field count, non-CRLF line ends, a wrong header or BOM

	Missing         int // expected ids absent
	Duplicates      int // records repeating an id already seen
	Unexpected      int // records whose id was not expected (or is not a number)
	OutOfOrder      int // records whose id is not greater than the one before
	Mismatched      int // cells that differ from the seed after inverting the formula guard
	GuardViolations int // string cells equal to the seed after inverting the guard but not exactly the guarded seed

	Examples []string // the first few problems, for people
}

// Failure classifies the export: "" when it is complete and exactly right, otherwise the first
// kind of failure: "status_<code>", "transport", "truncated", "parse_error", "content_headers",
// "trailers_missing", "digest_mismatch" or "wrong_rows". A body without a Content-Digest is
// "truncated", as a client must take it, unless the body arrived whole and exactly right and
// neither integrity field came at all: then it is "trailers_missing", what a proxy that drops
// trailers leaves (see CSVTotals.TrailersStripped).
func (r CSVReport) Failure() string {
	if r.exact() && r.Media.OK() && !r.Integrity.Present {
		return "trailers_missing"
	}
	return failure(r.Fetch, r.Integrity, r.Media, r.ParseErrors > 0,
		r.Missing+r.Duplicates+r.Unexpected+r.OutOfOrder+r.Mismatched+r.GuardViolations > 0)
}

// exact reports whether the body arrived whole and is exactly the expected export, whatever its
// headers and trailers say.
func (r CSVReport) exact() bool {
	return r.Complete && r.HeaderOK && r.ParseErrors == 0 &&
		r.Missing+r.Duplicates+r.Unexpected+r.OutOfOrder+r.Mismatched+r.GuardViolations == 0
}

func failure(f Fetch, in Integrity, m Media, parse, rows bool) string {
	switch {
	case f.Status == 0:
		return "transport"
	case f.Status != 200:
		return "status_" + strconv.Itoa(f.Status)
	case !f.Complete:
		return "truncated"
	case parse:
		return "parse_error"
	case !m.OK():
		return "content_headers"
	case !in.OK():
		if !in.DigestOK && len(in.Problems) > 0 && strings.HasSuffix(in.Problems[0], "missing") {
			return "truncated"
		}
		if !in.DigestOK {
			return "digest_mismatch"
		}
		return "wrong_rows"
	case rows:
		return "wrong_rows"
	}
	return ""
}

// CSV fetches exp as CSV and verifies it completely, once the body has been received.
func (c *Client) CSV(ctx context.Context, exp *Expected) CSVReport {
	return c.Get(ctx, CSV, exp).CSV()
}

// CSV reads the rest of the body of a CSV export and verifies it completely.
func (p *Pending) CSV() CSVReport { return p.Receive().CSV() }

// CSV verifies a received CSV export completely: its content headers, every record against the
// expectation, and its trailers against the body.
func (rec *Received) CSV() CSVReport {
	if rec.Status != http.StatusOK {
		return CSVReport{Fetch: rec.Fetch}
	}
	v := newCSVVerifier(rec.exp)
	v.run(rec.reader())
	r := v.report
	r.Fetch = rec.Fetch
	r.Media = checkMedia(rec.Header, CSV)
	r.Integrity = checkIntegrity(merged(rec.Fetch), rec.sum, r.Rows)
	for _, s := range slices.Concat(r.Media.Problems, r.Integrity.Problems) {
		r.Examples = limitedList(r.Examples, maxExamples, s)
	}
	if !rec.Complete {
		r.Examples = limitedList(r.Examples, maxExamples, "body cut short: "+rec.Err)
	}
	return r
}

type csvVerifier struct {
	exp    *Expected
	seen   []bool
	last   int64
	report CSVReport
}

func newCSVVerifier(exp *Expected) *csvVerifier {
	return &csvVerifier{exp: exp, seen: make([]bool, len(exp.IDs)), last: -1 << 63}
}

func (v *csvVerifier) problem(format string, args ...any) {
	v.report.Examples = limitedList(v.report.Examples, maxExamples, fmt.Sprintf(format, args...))
}

func (v *csvVerifier) run(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xEF\xBB\xBF")) {
		v.report.BOM = true
		_, _ = br.Discard(3)
	}
	if v.report.BOM != v.exp.Options.BOM {
		v.report.ParseErrors++
		v.problem("BOM present: %v, asked for: %v", v.report.BOM, v.exp.Options.BOM)
	}
	p := &csvParser{r: br}
	header, err := p.record()
	var te *transportError
	if errors.As(err, &te) {
		return
	}
	if err != nil {
		v.report.ParseErrors++
		v.problem("header: %v", err)
		return
	}
	if slices.Equal(header, v.exp.Header) {
		v.report.HeaderOK = true
	} else {
		v.report.ParseErrors++
		v.problem("header is %q, want %q", header, v.exp.Header)
	}
	for {
		rec, err := p.record()
		if errors.Is(err, io.EOF) {
			break
		}
		var te *transportError
		if errors.As(err, &te) {
			break // the body was cut: counted as truncated, not as malformed
		}
		if err != nil {
			v.report.ParseErrors++
			v.problem("line %d: %v", p.line, err)
			break // a syntax error leaves no reliable place to resume
		}
		v.report.Rows++
		v.check(p.line, rec)
	}
	v.report.ParseErrors += p.badEnds
	if p.badEnds > 0 {
		v.problem("%d record(s) not ended by CRLF", p.badEnds)
	}
	for i, ok := range v.seen {
		if !ok {
			v.report.Missing++
			v.problem("id %d missing", v.exp.IDs[i])
		}
	}
}

// check compares one data record with the seed.
func (v *csvVerifier) check(line int, rec []string) {
	if len(rec) != len(v.exp.Header) {
		v.report.ParseErrors++
		v.problem("line %d: %d fields, want %d", line, len(rec), len(v.exp.Header))
		return
	}
	id, err := strconv.ParseInt(rec[0], 10, 64)
	i, ok := v.exp.index[id]
	switch {
	case err != nil || !ok:
		v.report.Unexpected++
		v.problem("line %d: unexpected id %q", line, rec[0])
		return
	case v.seen[i]:
		v.report.Duplicates++
		v.problem("line %d: id %d repeated", line, id)
	}
	if id <= v.last {
		v.report.OutOfOrder++
		v.problem("line %d: id %d after %d", line, id, v.last)
	}
	v.last = id
	if v.seen[i] {
		return
	}
	v.seen[i] = true
	want := v.exp.cells[i]
	for j := 1; j < len(rec); j++ {
		got := rec[j]
		switch {
		case !v.exp.str[j]:
			if got != want[j] {
				v.report.Mismatched++
				v.problem("id %d %s: %q, want %q", id, v.exp.Header[j], got, want[j])
			}
		case seed.Unguard(got) != want[j]:
			v.report.Mismatched++
			v.problem("id %d %s: %q, want %q (before the guard)", id, v.exp.Header[j], got, want[j])
		case got != seed.Guard(want[j]):
			v.report.GuardViolations++
			v.problem("id %d %s: %q, want %q (formula guard)", id, v.exp.Header[j], got, seed.Guard(want[j]))
		}
	}
}

// csvParser is a strict RFC 4180 reader that keeps every byte of a field, CR and LF inside quotes
// included. (encoding/csv turns a quoted CRLF into LF, which would hide a lossy exporter.) A record
// ended by a bare LF is accepted but counted in badEnds.
type csvParser struct {
	r       *bufio.Reader
	line    int // line of the record just returned, 1-based
	next    int // line the next record starts on
	badEnds int
	field   []byte
}

func (p *csvParser) record() ([]string, error) {
	if p.next == 0 {
		p.next = 1
	}
	p.line = p.next
	if _, err := p.r.Peek(1); errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	var rec []string
	for {
		s, end, err := p.readField()
		if err != nil {
			return nil, err
		}
		rec = append(rec, s)
		if end {
			return rec, nil
		}
	}
}

// readField reads one field and its terminator; end reports the end of the record.
func (p *csvParser) readField() (s string, end bool, err error) {
	p.field = p.field[:0]
	c, err := p.r.ReadByte()
	if errors.Is(err, io.EOF) {
		return "", true, nil // the last record had no line end
	}
	if err != nil {
		return "", false, err
	}
	if c == '"' {
		for {
			c, err := p.r.ReadByte()
			if errors.Is(err, io.EOF) {
				return "", false, fmt.Errorf("quoted field not closed")
			}
			if err != nil {
				return "", false, err
			}
			if c == '\n' {
				p.next++
			}
			if c != '"' {
				p.field = append(p.field, c)
				continue
			}
			d, err := p.r.ReadByte()
			if errors.Is(err, io.EOF) {
				return string(p.field), true, nil
			}
			if err != nil {
				return "", false, err
			}
			if d == '"' {
				p.field = append(p.field, '"')
				continue
			}
			end, err := p.terminator(d)
			if err != nil {
				return "", false, fmt.Errorf("%q after a closing quote", d)
			}
			return string(p.field), end, nil
		}
	}
	for {
		switch c {
		case ',', '\r', '\n':
			end, err := p.terminator(c)
			return string(p.field), end, err
		case '"':
			return "", false, fmt.Errorf("quote inside an unquoted field")
		}
		p.field = append(p.field, c)
		c, err = p.r.ReadByte()
		if errors.Is(err, io.EOF) {
			return string(p.field), true, nil
		}
		if err != nil {
			return "", false, err
		}
	}
}

// terminator consumes what follows a field: a comma, CRLF, a bare LF (counted), anything else is an
// error.
func (p *csvParser) terminator(c byte) (end bool, err error) {
	switch c {
	case ',':
		return false, nil
	case '\n':
		p.badEnds++
		p.next++
		return true, nil
	case '\r':
		d, err := p.r.ReadByte()
		if err == nil && d == '\n' {
			p.next++
			return true, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		return false, fmt.Errorf("bare CR outside quotes")
	}
	return false, fmt.Errorf("unexpected %q", c)
}
