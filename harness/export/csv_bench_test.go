package export

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/harness/seed"
)

// strictBody renders exp as the strict dialect writes it: a header, minimal RFC 4180 quoting, the
// formula guard on string cells and CRLF line ends.
func strictBody(exp *Expected) []byte {
	var b strings.Builder
	for j, h := range exp.Header {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(h)
	}
	b.WriteString("\r\n")
	for _, cells := range exp.cells {
		for j, c := range cells {
			if j > 0 {
				b.WriteByte(',')
			}
			if exp.Header[j] != "id" && isString(exp, j) {
				c = seed.Guard(c)
			}
			if strings.ContainsAny(c, ",\"\r\n") {
				c = `"` + strings.ReplaceAll(c, `"`, `""`) + `"`
			}
			b.WriteString(c)
		}
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

// received wraps body as a complete 200 CSV response to exp.
func received(exp *Expected, body []byte) *Received {
	sum := sha256.Sum256(body)
	h := http.Header{"Content-Type": {"text/csv; charset=utf-8"}, "Content-Disposition": {`attachment; filename="x.csv"`}}
	return &Received{Fetch: Fetch{Format: CSV, Status: 200, Complete: true, Header: h, Bytes: int64(len(body))},
		exp: exp, body: body, sum: sum[:]}
}

// BenchmarkVerifyCSV verifies a 10,000-row export of the trades schema in the strict dialect.
func BenchmarkVerifyCSV(b *testing.B) {
	exp, err := NewExpected("trades", seed.Trades(), seed.Generate(5, 10_000, 1), Options{})
	if err != nil {
		b.Fatal(err)
	}
	body := strictBody(exp)
	rec := received(exp, body)
	if r := rec.CSV(); r.Rows != 10_000 || r.Mismatched+r.GuardViolations+r.ParseErrors+r.Missing != 0 {
		b.Fatalf("report %+v", r)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rec.CSV()
	}
}

// isString reports whether Header position j of exp is a string column.
func isString(exp *Expected, j int) bool { return exp.types[j] == seed.TypeString }
