package compare

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/exportatscale/exportatscale/evidence/human"
)

// RenderTable writes c as a plain-text table: who was compared, by which rules, then one line per
// measure (base, new, delta, test, verdict, rule) and the regressions last.
func RenderTable(w io.Writer, c Comparison) error {
	var b strings.Builder
	for _, side := range []struct {
		label string
		run   Run
	}{{"base", c.Base}, {"new ", c.New}} {
		fmt.Fprintf(&b, "%s  %s\n", side.label, runLine(side.run))
	}
	fmt.Fprintf(&b, "rules %s\n", c.Rules)
	b.WriteString("      distributions: base and new are the medians of the load test's samples (OK exports only), delta their relative change\n\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tbase\tnew\tdelta\tp\tn\tverdict\trule\tnote")
	for _, r := range c.Rows {
		p, n := "", ""
		if r.Kind == KindDistribution {
			n = fmt.Sprintf("%d+%d", r.N1, r.N2)
			p = pValue(r.P)
		}
		rule := ""
		if r.Rule != nil {
			rule = string(r.Kind) + ", " + r.Rule.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Measure, value(r.Base, r.Unit), value(r.New, r.Unit),
			deltaText(r), p, n, r.Verdict, rule, r.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	regs := c.Regressions()
	if len(regs) == 0 {
		b.WriteString("\nno regression\n")
	} else {
		fmt.Fprintf(&b, "\n%d regression(s):\n", len(regs))
		for _, r := range regs {
			fmt.Fprintf(&b, "  %s\n", regressionLine(r, c.Rules))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func runLine(r Run) string {
	where := r.Dir
	if where == "" {
		where = "this run"
	}
	return fmt.Sprintf("%s: run %s, started %s, target %s, verdict %s", where, r.ID, r.Started.UTC().Format(time.RFC3339), r.Target, r.Verdict)
}

// deltaText is a count's change as a number, anything else's as a percentage (or a number when
// the base is 0).
func deltaText(r Row) string {
	switch {
	case math.IsNaN(r.Delta):
		return ""
	case r.Delta == 0:
		return "0"
	case r.Kind == KindCount || math.IsNaN(r.Change):
		return signed(r.Delta)
	}
	return percent(r.Change)
}

// value formats v for a person by its unit, as the evidence reports do (package evidence/human),
// or a dash when it was not measured.
func value(v float64, unit string) string {
	if math.IsNaN(v) {
		return "–"
	}
	return human.Value(v, unit)
}

// signed is a change without a unit, its sign always written: "+9", "-6,000".
func signed(d float64) string {
	if d > 0 {
		return "+" + human.Value(d, "")
	}
	return human.Value(d, "")
}

// percent formats a relative change, e.g. "+736.0 %", "-96.3 %".
func percent(change float64) string {
	switch {
	case math.IsNaN(change):
		return "–"
	case change == 0:
		return "0 %"
	}
	return fmt.Sprintf("%+.1f %%", 100*change)
}

func trimFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// pValue formats a p-value with three decimals, or as "< 0.001".
func pValue(p float64) string {
	switch {
	case math.IsNaN(p):
		return ""
	case p < 0.001:
		return "< 0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

// pEquals is "= 0.030" or "< 0.001", to follow a "p".
func pEquals(p float64) string {
	s := pValue(p)
	if strings.HasPrefix(s, "<") {
		return s
	}
	return "= " + s
}

// regressionLine says what regressed, by how much, and by which rule.
func regressionLine(r Row, rules Rules) string {
	switch r.Kind {
	case KindDistribution:
		return fmt.Sprintf("%s regressed: median %s → %s (%s), p %s (n = %d+%d); rule: Mann–Whitney U p < %s and the median %s",
			r.Measure, value(r.Base, r.Unit), value(r.New, r.Unit), percent(r.Change), pEquals(r.P), r.N1, r.N2, trimFloat(rules.Test.Alpha), r.Rule)
	case KindCount:
		return fmt.Sprintf("%s regressed: %s → %s (%s); rule: a count, %s", r.Measure, value(r.Base, r.Unit), value(r.New, r.Unit), signed(r.Delta), r.Rule)
	}
	return fmt.Sprintf("%s regressed: %s → %s (%s); rule: %s", r.Measure, value(r.Base, r.Unit), value(r.New, r.Unit), percent(r.Change), r.Rule)
}
