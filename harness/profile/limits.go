package profile

import (
	"maps"
	"strconv"
	"strings"
	"time"
)

// Limits are the limits an API declares in its protection: the burst is sized from the rate, the
// saturation probe from the concurrent exports, the stalled-reader probe waits past CutAfter. A
// service the harness starts is started with them: its command, files and env may name them as
// {rate}, {burst}, {csv_exports}, {pdf_exports}, {cut_after} and {pdf_max_rows}, so each limit
// has one source, the profile's protection (and export.pdf.max_rows).
type Limits struct {
	Rate       float64        // requests per second per client; 0: not declared
	Burst      int            // the client's bucket; 0: not declared
	Concurrent map[string]int // exports in flight per format; a format absent: not declared
	CutAfter   time.Duration  // a stalled reader is cut off after this; 0: not declared
	PDFMaxRows int            // the most rows of one PDF export (export.pdf.max_rows); 0: not declared
}

// DefaultCutAfter is how long the stalled-reader probe waits for an API that declares no cut-off:
// the write timeout Go's own servers are most often given, and this exporter's default.
const DefaultCutAfter = 30 * time.Second

// Limits are the limits p declares.
func (p *Profile) Limits() Limits {
	var l Limits
	if p.Export.PDF != nil {
		l.PDFMaxRows = p.Export.PDF.MaxRows
	}
	pr := p.Protection
	if pr == nil {
		return l
	}
	if a := pr.OverLimit; a != nil {
		l.Rate, l.Burst = a.Rate, a.Burst
	}
	if a := pr.OverCapacity; a != nil {
		l.Concurrent = maps.Clone(a.Concurrent)
	}
	if s := pr.StalledReader; s != nil {
		l.CutAfter, _ = time.ParseDuration(s.CutAfter) // checked by Load
	}
	return l
}

// StalledCut is how long a stalled reader is given before the probe expects it cut off: CutAfter,
// or DefaultCutAfter when the API declares none.
func (l Limits) StalledCut() time.Duration {
	if l.CutAfter > 0 {
		return l.CutAfter
	}
	return DefaultCutAfter
}

// limitPlaceholders are the placeholders of a service's templates that Limits fill in.
var limitPlaceholders = []string{"rate", "burst", "csv_exports", "pdf_exports", "cut_after", "pdf_max_rows"}

// values are the placeholders l fills in: those it declares.
func (l Limits) values() map[string]string {
	v := map[string]string{}
	if l.Rate > 0 {
		v["rate"] = strconv.FormatFloat(l.Rate, 'g', -1, 64)
	}
	if l.Burst > 0 {
		v["burst"] = strconv.Itoa(l.Burst)
	}
	for _, f := range []string{"csv", "pdf"} {
		if n, ok := l.Concurrent[f]; ok {
			v[f+"_exports"] = strconv.Itoa(n)
		}
	}
	if l.CutAfter > 0 {
		v["cut_after"] = l.CutAfter.String()
	}
	if l.PDFMaxRows > 0 {
		v["pdf_max_rows"] = strconv.Itoa(l.PDFMaxRows)
	}
	return v
}

// undeclared names where in protection a limit placeholder's value would be declared.
var undeclared = map[string]string{
	"rate": "protection.over_limit.rate", "burst": "protection.over_limit.burst",
	"csv_exports": "protection.over_capacity.concurrent.csv", "pdf_exports": "protection.over_capacity.concurrent.pdf",
	"cut_after": "protection.stalled_reader.cut_after", "pdf_max_rows": "export.pdf.max_rows",
}

// ServiceWith is p's service with the limit placeholders of its command, files and env filled in
// from l: the service as the harness starts it. Other placeholders ({dir}, {port}, …) are left for
// the target that starts it. Load makes sure a profile's templates name only the limits it
// declares; l may set one to zero on purpose (a test's exporter without a rate limit).
func (p *Profile) ServiceWith(l Limits) Service {
	s := p.Service
	r := strings.NewReplacer("{rate}", strconv.FormatFloat(l.Rate, 'g', -1, 64), "{burst}", strconv.Itoa(l.Burst),
		"{csv_exports}", strconv.Itoa(l.Concurrent["csv"]), "{pdf_exports}", strconv.Itoa(l.Concurrent["pdf"]),
		"{cut_after}", l.CutAfter.String(), "{pdf_max_rows}", strconv.Itoa(l.PDFMaxRows))
	s.Command = make([]string, len(p.Service.Command))
	for i, a := range p.Service.Command {
		s.Command[i] = r.Replace(a)
	}
	s.Files, s.Env = fill(p.Service.Files, r), fill(p.Service.Env, r)
	return s
}

func fill(m map[string]string, r *strings.Replacer) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = r.Replace(v)
	}
	return out
}
