package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
)

// TestPrinter shows the same run on a terminal and in a CI log: only the terminal redraws lines
// in place and uses colour, only the CI log thins the load lines out, and Quiet prints nothing.
func TestPrinter(t *testing.T) {
	events := []Event{
		{Kind: KindStep, Text: "seeding 3 records into smoke"},
		{Kind: KindSeed, Dataset: "smoke", Done: 1, Total: 3, Rate: 10, ETA: 1500 * time.Millisecond},
		{Kind: KindSeed, Dataset: "smoke", Done: 3, Total: 3, Rate: 12},
		{Kind: KindLoad, Done: 1, Total: 8}, {Kind: KindLoad, Done: 2, Total: 8}, {Kind: KindLoad, Done: 3, Total: 8},
		{Kind: KindLoad, Done: 8, Total: 8},
		{Kind: KindCheck, Check: &Check{ID: "A3", Title: "fast", Status: "failed", Main: "a3.csv_p95_seconds = 3 s (want <= 1 s)"}},
	}
	for _, tt := range []struct {
		name       string
		p          *Printer
		want, lack []string
	}{
		{"terminal", &Printer{TTY: true, Color: true},
			[]string{"\r\x1b[K  seeding smoke: 1/3 records, 10 records/s, ETA 1.5 s", "\r\x1b[K  load: 3/8 exports received", "\x1b[31m✗\x1b[0m A3", "▸ seeding 3 records"}, nil},
		{"CI log", &Printer{},
			[]string{"▸ seeding 3 records into smoke\n", "  seeding smoke: 3/3 records, 12 records/s\n", "  load: 2/8 exports received\n", "  load: 8/8 exports received\n",
				"✗ A3     fast            a3.csv_p95_seconds = 3 s (want <= 1 s)\n"},
			[]string{"\r", "\x1b", "  load: 1/8", "  load: 3/8"}},
		{"quiet", &Printer{Quiet: true}, nil, []string{"seeding", "load", "A3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.p.W = &b
			for _, e := range events {
				tt.p.Handle(e)
			}
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in\n%q", w, out)
				}
			}
			for _, l := range tt.lack {
				if strings.Contains(out, l) {
					t.Errorf("%q in\n%q", l, out)
				}
			}
		})
	}
}

func TestSummary(t *testing.T) {
	rule := &evidence.Rule{Op: "<=", Value: 1, Unit: "s"}
	r := evidence.Report{Verdict: evidence.Red, Required: []string{"A1", "A3", "A4", "A5"}, Checks: []evidence.Check{
		{ID: "A1", Title: "complete", Status: evidence.StatusPassed, Measures: []evidence.Measure{{Name: "a1.missing_rows", Value: 0, Unit: "rows", Rule: &evidence.Rule{Op: "==", Unit: "rows"}, Pass: true}}},
		{ID: "A4", Title: "bounded", Status: evidence.StatusFailed, Measures: []evidence.Measure{
			{Name: "a4.peak_memory_bytes", Value: 312475648, Unit: "bytes", Rule: &evidence.Rule{Op: "<=", Value: 268435456, Unit: "bytes"}}}},
		{ID: "A3", Title: "fast", Status: evidence.StatusFailed, Measures: []evidence.Measure{
			{Name: "a3.pdf_p95_seconds", Value: 0.4, Unit: "s", Rule: rule, Pass: true},
			{Name: "a3.csv_p95_seconds", Value: 3.25, Unit: "s", Rule: rule}}},
		{ID: "F1", Title: "replica killed", Status: evidence.StatusSkipped, Failures: []string{"not a deployment of replicas"}},
	}}
	var b bytes.Buffer
	(&Printer{W: &b, Quiet: true}).Summary(r, "/out/r1/EVIDENCE.md", "/out/r1/EVIDENCE.html")
	for _, w := range []string{
		"  ✓ A1     complete        a1.missing_rows = 0 rows (want == 0 rows)\n",
		"  ✗ A3     fast            a3.csv_p95_seconds = 3.25 s (want <= 1 s)\n",        // the failing measure, not the first
		"  ✗ A4     bounded         a4.peak_memory_bytes = 298 MiB (want <= 256 MiB)\n", // by its unit
		"  – A5                    not run  absent from the run\n",
		"  – F1     replica killed not applicable  not a deployment of replicas\n", // not required of this run
		"verdict: RED\nevidence: /out/r1/EVIDENCE.md\n          /out/r1/EVIDENCE.html\n",
	} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("no %q in\n%s", w, b.String())
		}
	}
}
