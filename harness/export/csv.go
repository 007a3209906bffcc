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

	BOM      bool // the body started with a UTF-8 BOM
	HeaderOK bool // the header row is exactly Expected.Header (always true in a dialect without one)
	Rows     int  // data records parsed (duplicates included)
	// ParseErrors counts syntax errors, records with a wrong field count, records not ended by the
	// dialect's line end, records (and a header) with a field the dialect quotes left bare, a wrong
	// header or BOM, and an invalid dialect.
	ParseErrors int

	Missing         int // expected ids absent
	Duplicates      int // records repeating an id already seen
	Unexpected      int // records whose id was not expected (or is not a number)
	OutOfOrder      int // records whose id is not greater than the one before
	Mismatched      int // cells that differ from the seed in the dialect (after inverting the formula guard), NULLs included
	GuardViolations int // string cells equal to the seed after inverting the guard but not exactly the guarded seed

	Examples []string // the first few problems, for people
}

// Failure classifies the export: "" when it is complete and exactly right, otherwise the first
// kind of failure: "status_<code>", "transport", "truncated", "parse_error",
// "trailers_missing", "digest_mismatch", "wrong_rows" or, last, "content_headers" (the body whole
// and exactly right, its headers wrong). A body without a Content-Digest is
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
	case !m.OK():
		return "content_headers" // the body is whole and exactly right; only its headers are wrong
	}
	return ""
}

// CSV fetches exp as CSV and verifies it completely, in c's Dialect, once the body has been received.
func (c *Client) CSV(ctx context.Context, exp *Expected) CSVReport {
	return c.Get(ctx, CSV, exp).CSV()
}

// CSV reads the rest of the body of a CSV export and verifies it completely.
func (p *Pending) CSV() CSVReport { return p.Receive().CSV() }

// CSV verifies a received CSV export completely, in the Client's Dialect: its content headers,
// every record against the expectation, and its trailers against the body.
func (rec *Received) CSV() CSVReport {
	if rec.Status != http.StatusOK {
		return CSVReport{Fetch: rec.Fetch}
	}
	d := StrictDialect()
	if rec.dialect != nil {
		d = *rec.dialect
	}
	v := newCSVVerifier(rec.exp, d)
	v.run(rec.reader())
	r := v.report
	r.Fetch = rec.Fetch
	r.Media = checkMedia(rec.Header, CSV)
	r.Integrity = rec.integrity(r.Rows)
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
	rules  cellRules
	kinds  []cellKind // per Header position
	seen   []bool
	last   int64
	report CSVReport
}

func newCSVVerifier(exp *Expected, d Dialect) *csvVerifier {
	v := &csvVerifier{exp: exp, rules: newCellRules(d), seen: make([]bool, len(exp.IDs)), last: -1 << 63}
	v.kinds = make([]cellKind, len(exp.Header))
	for j := range v.kinds {
		if j < len(exp.types) {
			v.kinds[j] = kindOf(exp.types[j])
		}
	}
	return v
}

// problem adds an example, unless there are enough already.
func (v *csvVerifier) problem(format string, args ...any) {
	if len(v.report.Examples) < maxExamples {
		v.report.Examples = append(v.report.Examples, fmt.Sprintf(format, args...))
	}
}

func (v *csvVerifier) run(r io.Reader) {
	if err := v.rules.Validate(); err != nil {
		v.report.ParseErrors++
		v.problem("dialect: %v", err)
		return
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xEF\xBB\xBF")) {
		v.report.BOM = true
		_, _ = br.Discard(3)
	}
	if v.report.BOM != v.exp.Options.BOM {
		v.report.ParseErrors++
		v.problem("BOM present: %v, asked for: %v", v.report.BOM, v.exp.Options.BOM)
	}
	p := newCSVParser(br, v.rules.Dialect)
	if !v.header(p) {
		return
	}
	for {
		err := p.read()
		if errors.Is(err, io.EOF) {
			break
		}
		if isTransport(err) {
			break // the body was cut: counted as truncated, not as malformed
		}
		if err != nil {
			v.report.ParseErrors++
			v.problem("line %d: %v", p.line, err)
			break // a syntax error leaves no reliable place to resume
		}
		v.report.Rows++
		v.check(p.line, p.strings(), p.quoted)
	}
	v.report.ParseErrors += p.badEnds
	if p.badEnds > 0 {
		end := "CRLF"
		if p.lf {
			end = "LF"
		}
		v.problem("%d record(s) not ended by %s", p.badEnds, end)
	}
	for i, ok := range v.seen {
		if !ok {
			v.report.Missing++
			v.problem("id %d missing", v.exp.IDs[i])
		}
	}
}

// header reads and checks the header row, if the dialect has one; false means there is nothing
// more to read.
func (v *csvVerifier) header(p *csvParser) bool {
	if !v.rules.Header {
		v.report.HeaderOK = true
		return true
	}
	header, err := p.record()
	if isTransport(err) {
		return false
	}
	if err != nil {
		v.report.ParseErrors++
		v.problem("header: %v", err)
		return false
	}
	if slices.Equal(header, v.exp.Header) {
		v.report.HeaderOK = true
	} else {
		v.report.ParseErrors++
		v.problem("header is %q, want %q", header, v.exp.Header)
	}
	if v.rules.QuoteAll || v.rules.QuoteStrings {
		if j := slices.Index(p.quoted, false); j >= 0 {
			v.report.ParseErrors++
			v.problem("line %d: header name %q not quoted", p.line, header[j])
		}
	}
	return true
}

// check compares one data record with the seed.
func (v *csvVerifier) check(line int, rec []string, quoted []bool) {
	if len(rec) != len(v.exp.Header) {
		v.report.ParseErrors++
		v.problem("line %d: %d fields, want %d", line, len(rec), len(v.exp.Header))
		return
	}
	v.checkQuoting(line, rec, quoted)
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
		v.compare(id, j, rec[j], quoted[j], want[j])
	}
}

// checkQuoting counts a record with a field left bare that the dialect quotes as a parse error.
func (v *csvVerifier) checkQuoting(line int, rec []string, quoted []bool) {
	if !v.rules.QuoteAll && !v.rules.QuoteStrings {
		return
	}
	for j, q := range quoted {
		if !q && (v.rules.QuoteAll || v.kinds[j] == kindString) {
			v.report.ParseErrors++
			v.problem("line %d: %s %q not quoted", line, v.exp.Header[j], rec[j])
			return
		}
	}
}

// compare compares the cell got of column j, quoted or not, with the seeded text want.
func (v *csvVerifier) compare(id int64, j int, got string, quoted bool, want string) {
	r, k, name := &v.rules, v.kinds[j], v.exp.Header[j]
	if r.isNull(k, got, quoted) {
		v.report.Mismatched++
		v.problem("id %d %s: NULL (%q), want %q", id, name, got, want)
		return
	}
	switch k {
	case kindString:
		v.compareString(id, name, got, want)
		return
	case kindTimestamp:
		ok, shown, parsed := r.timestamp(got, want)
		if !parsed {
			v.report.Mismatched++
			v.problem("id %d %s: %q is not a timestamp in the layouts %q, want %q", id, name, got, r.layouts, shown)
			return
		}
		if ok {
			return
		}
		want = shown
	case kindDecimal:
		if got == want || r.DecimalsAsNumbers && sameNumber(got, want) {
			return
		}
	case kindBool:
		want = r.boolText(want)
	}
	if got != want {
		v.report.Mismatched++
		v.problem("id %d %s: %q, want %q", id, name, got, want)
	}
}

// compareString compares a string cell with the seed, through the formula guard if the dialect
// has it.
func (v *csvVerifier) compareString(id int64, name, got, want string) {
	switch {
	case !v.rules.Guard:
		if got == want {
			return
		}
		v.report.Mismatched++
		if g := seed.Guard(want); g != want && got == g {
			v.problem("id %d %s: %q, want %q (a formula guard the dialect does not have)", id, name, got, want)
		} else {
			v.problem("id %d %s: %q, want %q", id, name, got, want)
		}
	case seed.Unguard(got) != want:
		v.report.Mismatched++
		v.problem("id %d %s: %q, want %q (before the guard)", id, name, got, want)
	case got != seed.Guard(want):
		v.report.GuardViolations++
		v.problem("id %d %s: %q, want %q (formula guard)", id, name, got, seed.Guard(want))
	}
}
