package progress

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/human"
)

// Printer shows a run's events and its summary to a person. On a terminal (TTY) it updates the
// seeding and load lines in place; elsewhere it writes whole lines only, a few per phase, so a
// CI log stays readable. Colour only with Color. Quiet drops everything but the summary.
type Printer struct {
	W     io.Writer
	TTY   bool
	Color bool
	Quiet bool

	mu       sync.Mutex
	open     bool // an in-place line is on the screen, not yet ended
	lastSeed time.Time
	lastLoad int // the last quarter of the load printed off a terminal
}

// Handle prints one event.
func (p *Printer) Handle(e Event) {
	if p.Quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Kind {
	case KindStep:
		p.line("▸ " + e.Text)
	case KindSeed:
		text := fmt.Sprintf("  seeding %s: %d/%d records, %s", e.Dataset, e.Done, e.Total, human.Rate(e.Rate, "records/s"))
		if e.Done < e.Total {
			text += ", ETA " + human.Duration(e.ETA)
		}
		switch {
		case p.TTY:
			p.inPlace(text, e.Done >= e.Total)
		case e.Done >= e.Total || time.Since(p.lastSeed) >= 2*time.Second:
			p.lastSeed = time.Now()
			p.line(text)
		}
	case KindLoad:
		text := fmt.Sprintf("  load: %d/%d exports received", e.Done, e.Total)
		switch {
		case p.TTY:
			p.inPlace(text, e.Done >= e.Total)
		case e.Total > 0:
			if q := 4 * e.Done / e.Total; q > p.lastLoad || e.Done == e.Total {
				p.lastLoad = q
				p.line(text)
			}
		}
	case KindCheck:
		if e.Check != nil {
			p.line(p.checkLine(*e.Check))
		}
	}
}

// line ends any in-place line and writes text on its own line.
func (p *Printer) line(text string) {
	if p.open {
		fmt.Fprintln(p.W)
		p.open = false
	}
	fmt.Fprintln(p.W, text)
}

// inPlace rewrites the current terminal line with text; done ends it.
func (p *Printer) inPlace(text string, done bool) {
	fmt.Fprintf(p.W, "\r\x1b[K%s", text)
	p.open = !done
	if done {
		fmt.Fprintln(p.W)
	}
}

func (p *Printer) paint(code, s string) string {
	if !p.Color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p *Printer) checkLine(c Check) string {
	mark := p.paint("33", "–") // not run
	switch c.Status {
	case string(evidence.StatusPassed):
		mark = p.paint("32", "✓")
	case string(evidence.StatusFailed):
		mark = p.paint("31", "✗")
	}
	title := c.Title
	if r := []rune(title); len(r) > 40 {
		title = string(r[:39]) + "…"
	}
	text := fmt.Sprintf("%s %-6s %-14s", mark, c.ID, title)
	if c.Status == statusNotRun || c.Status == statusNotApplicable {
		text += " " + p.paint("33", c.Status)
	}
	if c.Main != "" {
		text += "  " + c.Main
	}
	return strings.TrimRight(text, " ")
}

// How a check that did not pass or fail shows: not run, or not applicable when the API does not
// have what it needs or, in the summary, when the run does not require it.
const (
	statusNotRun        = "not run"
	statusNotApplicable = "not applicable"
)

// CheckOf is how a check shows in the progress: its outcome (evidence.Check.Outcome: passed,
// failed, not applicable or not run), with its main measure.
func CheckOf(c evidence.Check) Check {
	status := statusNotRun
	switch c.Outcome() {
	case evidence.OutcomePassed:
		status = string(evidence.StatusPassed)
	case evidence.OutcomeFailed:
		status = string(evidence.StatusFailed)
	case evidence.OutcomeNotApplicable:
		status = statusNotApplicable
	}
	return Check{ID: c.ID, Title: c.Title, Status: status, Main: Main(c)}
}

// Main is a check's main measured value against its threshold: its first measure that fails it,
// else its first judged one neither waived nor not applicable, else its first failure or reason
// line (for a check not applicable to the API, its Reason), else its first measure.
func Main(c evidence.Check) string {
	var first *evidence.Measure
	for i, m := range c.Measures {
		if m.Fails() {
			return describe(m)
		}
		if first == nil && m.Rule != nil && m.Waived == "" && m.NotApplicable == "" {
			first = &c.Measures[i]
		}
	}
	switch {
	case c.Status != evidence.StatusPassed && len(c.Failures) > 0:
		return c.Failures[0]
	case c.Status == evidence.StatusNotApplicable && c.Reason != "":
		return c.Reason
	case first != nil:
		return describe(*first)
	case len(c.Measures) > 0:
		return describe(c.Measures[0])
	}
	return ""
}

// describe is a measure for a person, its value and threshold by their unit (package
// evidence/human), as the reports show them; a waived one says so, with whether it holds and why,
// and one not applicable has no value, only its reason.
func describe(m evidence.Measure) string {
	if m.NotApplicable != "" {
		return m.Name + ": not applicable to this API: " + m.NotApplicable
	}
	s := m.Name + " = " + human.Value(m.Value, m.Unit)
	if m.Rule != nil {
		v := human.Value(m.Value, m.Unit)
		if m.Unit == m.Rule.Unit {
			v = human.Distinct(m.Value, m.Rule.Value, m.Unit)
		}
		s = m.Name + " = " + v + " (want " + m.Rule.Op + " " + human.Value(m.Rule.Value, m.Rule.Unit) + ")"
	}
	if m.Waived != "" {
		s += ": " + waived(m)
	}
	return s
}

// waived is how a waived measure's result reads: never passed, whether or not it holds.
func waived(m evidence.Measure) string {
	if pass, _ := m.Judgement(); pass {
		return "WAIVED (holds anyway): " + m.Waived
	}
	return "WAIVED (breaks its rule): " + m.Waived
}

// Summary prints every check of r (each required one its run did not produce as not run), the
// verdict line (evidence.Report.Headline), one line per check or measure that does not apply to
// the API and per waived measure, and the paths of the bundle's files that exist.
func (p *Printer) Summary(r evidence.Report, paths ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open {
		fmt.Fprintln(p.W)
		p.open = false
	}
	fmt.Fprintln(p.W)
	checks := slices.Clone(r.Checks)
	for _, id := range r.Required {
		if !slices.ContainsFunc(checks, func(c evidence.Check) bool { return c.ID == id }) {
			checks = append(checks, evidence.Check{ID: id, Status: evidence.StatusNotRun, Failures: []string{"absent from the run"}})
		}
	}
	for _, c := range checks {
		pc := CheckOf(c)
		switch required := slices.Contains(r.Required, c.ID); {
		case pc.Status == statusNotRun && !required:
			pc.Status = statusNotApplicable // not required of this run, so it does not apply to it
		case pc.Status == statusNotApplicable && required:
			pc.Status = statusNotRun // required all the same: it counts as not run
			pc.Main = "not applicable to this API (" + c.Reason + "), yet required"
		}
		fmt.Fprintln(p.W, "  "+p.checkLine(pc))
	}
	fmt.Fprintf(p.W, "\nverdict: %s\n", p.headline(r))
	for _, e := range r.NotApplicable() {
		what := e.Check
		if e.Measure != "" {
			what += " " + e.Measure
		}
		fmt.Fprintf(p.W, "  %s %s: %s\n", p.paint("33", "not applicable:"), what, e.Reason)
	}
	for _, e := range r.Waived() {
		m := measureOf(r, e)
		fmt.Fprintf(p.W, "  %s %s %s\n", p.paint("33", "waived:"), e.Check, describe(m))
	}
	for i, path := range paths {
		label := "         "
		if i == 0 {
			label = "evidence:"
		}
		fmt.Fprintf(p.W, "%s %s\n", label, path)
	}
}

// headline is r's verdict line, its verdict in colour.
func (p *Printer) headline(r evidence.Report) string {
	line := r.Headline()
	verdict := string(r.Verdict)
	if verdict == "" || !strings.HasPrefix(line, verdict) {
		return line
	}
	code := "33;1"
	switch r.Verdict {
	case evidence.Green:
		code = "32;1"
	case evidence.Red:
		code = "31;1"
	}
	return p.paint(code, verdict) + strings.TrimPrefix(line, verdict)
}

// measureOf is the measure e names: the first of its name in the first check of its ID.
func measureOf(r evidence.Report, e evidence.Exclusion) evidence.Measure {
	for _, c := range r.Checks {
		if c.ID != e.Check {
			continue
		}
		for _, m := range c.Measures {
			if m.Name == e.Measure {
				return m
			}
		}
	}
	return evidence.Measure{Name: e.Measure, Waived: e.Reason}
}
