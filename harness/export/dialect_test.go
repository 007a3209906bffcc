package export

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/seed"
)

// clickHouse is the dialect of ClickHouse 18.16's FORMAT CSVWithNames over a table with
// DateTime, Decimal(18,4) and UInt8 columns.
func clickHouse() Dialect {
	return Dialect{Header: true, LF: true, QuoteStrings: true, Null: `\N`,
		TimestampLayouts: []string{time.DateTime}, TimestampPrecision: time.Second,
		DecimalsAsNumbers: true, True: "1", False: "0"}
}

// small is a two-record export with a column of each type but int: a timestamp with nanoseconds,
// a decimal with trailing zeros, a bool and a string the formula guard applies to.
func small(t testing.TB) *Expected {
	t.Helper()
	schema := seed.Schema{{Name: "ts", Type: seed.TypeTimestamp}, {Name: "amount", Type: seed.TypeDecimal},
		{Name: "flag", Type: seed.TypeBool}, {Name: "name", Type: seed.TypeString}}
	recs := []seed.Record{
		{ID: 1, Values: []any{"2026-01-02T08:00:00.123456789Z", "1.5000", true, "=SUM(A1)"}},
		{ID: 2, Values: []any{"2026-01-02T09:30:00+01:00", "-0.2500", false, `\N`}},
	}
	exp, err := NewExpected("small", schema, recs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

// smallCH is small as ClickHouse writes it.
const smallCH = `"id","ts","amount","flag","name"
1,"2026-01-02 08:00:00",1.5000,1,"=SUM(A1)"
2,"2026-01-02 08:30:00",-0.2500,0,"\N"
`

// counts are the report's counters a case checks.
type counts struct {
	parse, mismatched, guard, unexpected, missing int
}

func countsOf(r CSVReport) counts {
	return counts{r.ParseErrors, r.Mismatched, r.GuardViolations, r.Unexpected, r.Missing}
}

// dialectCase is a body of small verified in a variant of the ClickHouse dialect.
type dialectCase struct {
	name    string
	dialect func(*Dialect) // applied to clickHouse()
	body    string
	want    counts
	example string // in Examples, when the case expects a problem
}

// dialectCases are the ClickHouse body verified, and each deviation from a dialect caught.
func dialectCases() []dialectCase {
	strict := func(d *Dialect) { *d = StrictDialect() }
	return []dialectCase{
		{"ClickHouse", nil, smallCH, counts{}, ""},
		{"ClickHouse, decimals as text", func(d *Dialect) { d.DecimalsAsNumbers = false }, smallCH, counts{}, ""},
		{"wrong delimiter", nil, strings.ReplaceAll(smallCH, ",", ";"), counts{parse: 1}, "header: ';' after a closing quote"},
		{"tab delimiter", func(d *Dialect) { d.Delimiter = '\t' }, strings.ReplaceAll(smallCH, ",", "\t"), counts{}, ""},
		{"CRLF under LF", nil, strings.ReplaceAll(smallCH, "\n", "\r\n"), counts{parse: 3}, "3 record(s) not ended by LF"},
		{"LF under CRLF", func(d *Dialect) { d.LF = false }, smallCH, counts{parse: 3}, "3 record(s) not ended by CRLF"},
		{"CR alone", nil, strings.Replace(smallCH, "1.5000,", "1.5000\r,", 1), counts{parse: 1, missing: 2}, "line 2: bare CR outside quotes"},
		{"CR and LF inside quotes", nil, strings.Replace(smallCH, `"=SUM(A1)"`, "\"=SUM(A1)\r\n\"", 1),
			counts{mismatched: 1}, `"=SUM(A1)\r\n", want "=SUM(A1)"`},
		{"string not quoted", nil, strings.Replace(smallCH, `"\N"`, `'\N`, 1), counts{parse: 1, mismatched: 1}, `name "'\\N" not quoted`},
		{"header name not quoted", nil, strings.Replace(smallCH, `"flag"`, "flag", 1), counts{parse: 1}, `header name "flag" not quoted`},
		{"quoting not required", func(d *Dialect) { d.QuoteStrings = false }, strings.Replace(smallCH, `"=SUM(A1)"`, "=SUM(A1)", 1), counts{}, ""},
		{"every field quoted", func(d *Dialect) { d.QuoteAll = true }, smallCH, counts{parse: 2}, `line 2: id "1" not quoted`},
		{"1.5 for 1.5000, by value", nil, strings.Replace(smallCH, "1.5000", "1.5", 1), counts{}, ""},
		{"1.5 for 1.5000, as text", func(d *Dialect) { d.DecimalsAsNumbers = false }, strings.Replace(smallCH, "1.5000", "1.5", 1),
			counts{mismatched: 1}, `amount: "1.5", want "1.5000"`},
		{"exponent, by value", nil, strings.Replace(smallCH, "-0.2500", "-25E-2", 1), counts{}, ""},
		{"fraction, by value", nil, strings.Replace(smallCH, "1.5000", "3/2", 1), counts{mismatched: 1}, `"3/2"`},
		{"another number, by value", nil, strings.Replace(smallCH, "1.5000", "1.50001", 1), counts{mismatched: 1}, `"1.50001"`},
		{"timestamp rounded up", nil, strings.Replace(smallCH, "08:00:00", "08:00:01", 1), counts{mismatched: 1},
			`ts: "2026-01-02 08:00:01", want "2026-01-02 08:00:00"`},
		{"timestamp to the millisecond", func(d *Dialect) {
			d.TimestampLayouts, d.TimestampPrecision = []string{"2006-01-02 15:04:05.000"}, time.Millisecond
		}, strings.Replace(strings.Replace(smallCH, "08:00:00", "08:00:00.123", 1), "08:30:00", "08:30:00.000", 1), counts{}, ""},
		{"timestamp with more precision than the layout", nil, strings.Replace(smallCH, "08:00:00", "08:00:00.123", 1),
			counts{mismatched: 1}, `"2026-01-02 08:00:00.123", want "2026-01-02 08:00:00"`},
		{"timestamp in the dialect's zone", func(d *Dialect) { d.TimestampZone = time.FixedZone("CET", 3600) },
			strings.Replace(strings.Replace(smallCH, "08:00:00", "09:00:00", 1), "08:30:00", "09:30:00", 1), counts{}, ""},
		{"timestamp in another zone", nil, strings.Replace(smallCH, "08:30:00", "09:30:00", 1), counts{mismatched: 1}, `"2026-01-02 09:30:00"`},
		{"not a timestamp", nil, strings.Replace(smallCH, "2026-01-02 08:00:00", "yesterday", 1), counts{mismatched: 1},
			`"yesterday" is not a timestamp in the layouts ["2006-01-02 15:04:05"]`},
		{"bool spelled true", nil, strings.Replace(smallCH, ",1,", ",true,", 1), counts{mismatched: 1}, `flag: "true", want "1"`},
		{"bool spellings t and f", func(d *Dialect) { d.True, d.False = "t", "f" },
			strings.Replace(strings.Replace(smallCH, ",1,", ",t,", 1), ",0,", ",f,", 1), counts{}, ""},
		{"NULL decimal", nil, strings.Replace(smallCH, "1.5000", `\N`, 1), counts{mismatched: 1}, `amount: NULL ("\\N"), want "1.5000"`},
		{"NULL string", func(d *Dialect) { d.QuoteStrings = false }, strings.Replace(smallCH, `"\N"`, `\N`, 1),
			counts{mismatched: 1}, `name: NULL`},
		{"NULL quoted in a number column", nil, strings.Replace(smallCH, "-0.2500", `"\N"`, 1), counts{mismatched: 1}, `NULL`},
		{"no NULL in the dialect", func(d *Dialect) { d.Null = "" }, strings.Replace(smallCH, "1.5000", `\N`, 1),
			counts{mismatched: 1}, `amount: "\\N", want "1.5000"`},
		{"guard applied, the dialect has none", nil, strings.Replace(smallCH, `"=SUM(A1)"`, `"'=SUM(A1)"`, 1),
			counts{mismatched: 1}, "a formula guard the dialect does not have"},
		{"guard expected and missing", func(d *Dialect) { d.Guard = true }, smallCH, counts{guard: 1}, "(formula guard)"},
		{"guard expected and applied", func(d *Dialect) { d.Guard = true }, strings.Replace(smallCH, `"=SUM(A1)"`, `"'=SUM(A1)"`, 1), counts{}, ""},
		{"no header", func(d *Dialect) { d.Header = false }, smallCH[strings.IndexByte(smallCH, '\n')+1:], counts{}, ""},
		{"a header the dialect has not", func(d *Dialect) { d.Header = false }, smallCH, counts{unexpected: 1}, `unexpected id "id"`},
		{"invalid dialect", func(d *Dialect) { d.Delimiter = '"' }, smallCH, counts{parse: 1}, "dialect: delimiter"},
		{"strict: ClickHouse body", strict, smallCH, counts{parse: 3, mismatched: 4, guard: 1}, "3 record(s) not ended by CRLF"},
		{"strict: offset", strict, "id,ts,amount,flag,name\r\n" +
			"1,2026-01-02T08:00:00.123456789Z,1.5000,true,'=SUM(A1)\r\n2,2026-01-02T09:30:00+01:00,-0.2500,false,\\N\r\n",
			counts{mismatched: 1}, `"2026-01-02T09:30:00+01:00", want "2026-01-02T08:30:00Z"`},
		{"strict: trailing zeros", strict, "id,ts,amount,flag,name\r\n" +
			"1,2026-01-02T08:00:00.123456789Z,1.5000,true,'=SUM(A1)\r\n2,2026-01-02T08:30:00.000Z,-0.2500,false,\\N\r\n",
			counts{mismatched: 1}, `"2026-01-02T08:30:00.000Z", want "2026-01-02T08:30:00Z"`},
	}
}

func TestDialectCSV(t *testing.T) {
	for _, tt := range dialectCases() {
		t.Run(tt.name, func(t *testing.T) {
			d := clickHouse()
			if tt.dialect != nil {
				tt.dialect(&d)
			}
			r := verify(small(t), &d, tt.body)
			if got := countsOf(r); got != tt.want {
				t.Errorf("counts %+v, want %+v; examples %q", got, tt.want, r.Examples)
			}
			badHeader := strings.HasPrefix(tt.example, "header is") || strings.HasPrefix(tt.example, "header:") ||
				strings.HasPrefix(tt.example, "dialect:")
			if r.HeaderOK == badHeader {
				t.Errorf("HeaderOK %v; examples %q", r.HeaderOK, r.Examples)
			}
			if tt.example != "" && !strings.Contains(strings.Join(r.Examples, "\n"), tt.example) {
				t.Errorf("no example with %q: %q", tt.example, r.Examples)
			}
		})
	}
}

// verify verifies body as a complete export of exp in dialect d.
func verify(exp *Expected, d *Dialect, body string) CSVReport {
	rec := received(exp, []byte(body))
	rec.dialect = d
	return rec.CSV()
}

// TestDialectQuotedNull: a quoted string equal to the NULL text is that string.
func TestDialectQuotedNull(t *testing.T) {
	d := clickHouse()
	r := verify(small(t), &d, smallCH)
	if countsOf(r) != (counts{}) {
		t.Errorf("counts %+v: %q", countsOf(r), r.Examples)
	}
}

// TestDialectGenerated verifies generated trades, every awkward note included, written as
// ClickHouse writes them, and the same body with records cut from it.
func TestDialectGenerated(t *testing.T) {
	exp, err := NewExpected("trades", seed.Trades(), seed.Generate(3, 300, 1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := clickHouse()
	body := clickHouseBody(exp)
	if r := verify(exp, &d, body); countsOf(r) != (counts{}) || r.Rows != 300 || !r.HeaderOK {
		t.Fatalf("report %+v", r)
	}
	strict := StrictDialect()
	if r := verify(exp, &strict, string(strictBody(exp))); countsOf(r) != (counts{}) || r.Rows != 300 {
		t.Fatalf("strict body: report %+v", r)
	}
	if r := verify(exp, &d, string(strictBody(exp))); r.ParseErrors == 0 {
		t.Errorf("strict body under ClickHouse: report %+v", r)
	}
}

// clickHouseBody renders exp as ClickHouse writes CSVWithNames: names and strings quoted (CR and LF
// raw), numbers bare, DateTime quoted to the second in UTC, bools as 1 and 0, LF line ends.
func clickHouseBody(exp *Expected) string {
	var b strings.Builder
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	for j, h := range exp.Header {
		b.WriteString(map[bool]string{true: ","}[j > 0] + quote(h))
	}
	b.WriteByte('\n')
	for _, cells := range exp.cells {
		for j, c := range cells {
			switch exp.types[j] {
			case seed.TypeString:
				c = quote(c)
			case seed.TypeTimestamp:
				at, _ := time.Parse(time.RFC3339Nano, c)
				c = quote(at.Truncate(time.Second).Format(time.DateTime))
			case seed.TypeBool:
				c = map[string]string{"true": "1", "false": "0"}[c]
			}
			b.WriteString(map[bool]string{true: ","}[j > 0] + c)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestClientDialect checks that the Client's dialect reaches the verification through Get, Open and
// CSV.
func TestClientDialect(t *testing.T) {
	exp := small(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_, _ = w.Write([]byte(smallCH))
	}))
	defer srv.Close()
	ctx := context.Background()
	d := clickHouse()
	c := &Client{API: urlAPI(srv.URL), Dialect: &d}
	for name, r := range map[string]CSVReport{
		"CSV":  c.CSV(ctx, exp),
		"Get":  c.Get(ctx, CSV, exp).CSV(),
		"Open": c.Open(ctx, CSV, exp).CSV(),
	} {
		if countsOf(r) != (counts{}) || r.Rows != 2 {
			t.Errorf("%s: report %+v", name, r)
		}
	}
	if r := (&Client{API: urlAPI(srv.URL)}).CSV(ctx, exp); r.ParseErrors == 0 {
		t.Errorf("no dialect: report %+v", r)
	}
}

// urlAPI exports every request from one URL (a test's server), with no credentials.
type urlAPI string

func (u urlAPI) Export(ctx context.Context, _, _ string, _ Options, _ []string) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodGet, string(u), nil)
}

func (urlAPI) Authorize(*http.Request) {}

func TestDialectValidate(t *testing.T) {
	tests := []struct {
		name string
		d    Dialect
		err  string // "" for a valid dialect
	}{
		{"strict", StrictDialect(), ""},
		{"zero", Dialect{}, ""},
		{"ClickHouse", clickHouse(), ""},
		{"semicolon, CRLF, two layouts", Dialect{Delimiter: ';', TimestampLayouts: []string{time.RFC3339Nano, "2006-01-02T15:04:05.000000000"}}, ""},
		{"quote delimiter", Dialect{Delimiter: '"'}, "delimiter"},
		{"LF delimiter", Dialect{Delimiter: '\n'}, "delimiter"},
		{"non-ASCII delimiter", Dialect{Delimiter: 0xA7}, "not an ASCII character"},
		{"empty layout", Dialect{TimestampLayouts: []string{""}}, "empty timestamp layout"},
		{"layout without a date", Dialect{TimestampLayouts: []string{time.TimeOnly}}, "does not keep"},
		{"layout without nanoseconds", Dialect{TimestampLayouts: []string{time.DateTime}}, "does not keep"},
		{"layout without seconds", Dialect{TimestampLayouts: []string{"2006-01-02 15:04"}, TimestampPrecision: time.Second}, "does not keep"},
		{"layout that reads nothing", Dialect{TimestampLayouts: []string{"yesterday"}}, "does not keep"},
		{"negative precision", Dialect{TimestampPrecision: -time.Second}, "negative"},
		{"same bool spellings", Dialect{True: "1", False: "1"}, "both spelled"},
		{"false spelled true", Dialect{False: "true"}, "both spelled"},
		{"NULL spelled as a bool", Dialect{Null: "0", True: "1", False: "0"}, "NULL is spelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Validate()
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("Validate: %v, want %q", err, tt.err)
			}
		})
	}
}

// BenchmarkVerifyCSVClickHouse verifies a 10,000-row export of the trades schema in the ClickHouse
// dialect: timestamps parsed, strings quoted.
func BenchmarkVerifyCSVClickHouse(b *testing.B) {
	exp, err := NewExpected("trades", seed.Trades(), seed.Generate(5, 10_000, 1), Options{})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(clickHouseBody(exp))
	d := clickHouse()
	rec := received(exp, body)
	rec.dialect = &d
	if r := rec.CSV(); r.Rows != 10_000 || countsOf(r) != (counts{}) {
		b.Fatalf("report %+v", r)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rec.CSV()
	}
}
