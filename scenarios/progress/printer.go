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

// How a check that did not pass or fail shows: not run, or, in the summary, not applicable when
// the run does not require it.
const (
	statusNotRun        = "not run"
	statusNotApplicable = "not applicable"
)

// CheckOf is how a check shows in the progress: passed, failed or not run, with its main measure.
func CheckOf(c evidence.Check) Check {
	status := string(c.Status)
	if c.Status != evidence.StatusPassed && c.Status != evidence.StatusFailed {
		status = statusNotRun
	}
	return Check{ID: c.ID, Title: c.Title, Status: status, Main: Main(c)}
}

// Main is a check's main measured value against its threshold: its first failing judged measure,
// else its first judged one, else its first failure or reason line.
func Main(c evidence.Check) string {
	var first *evidence.Measure
	for i, m := range c.Measures {
		if m.Rule == nil {
			continue
		}
		if !m.Pass {
			return describe(m)
		}
		if first == nil {
			first = &c.Measures[i]
		}
	}
	if c.Status != evidence.StatusPassed && len(c.Failures) > 0 {
		return c.Failures[0]
	}
	if first != nil {
		return describe(*first)
	}
	if len(c.Measures) > 0 {
		return describe(c.Measures[0])
	}
	return ""
}

// describe is a measure for a person, its value and threshold by their unit (package
// evidence/human), as the reports show them.
func describe(m evidence.Measure) string {
	if m.Rule == nil {
		return m.Name + " = " + human.Value(m.Value, m.Unit)
	}
	v := human.Value(m.Value, m.Unit)
	if m.Unit == m.Rule.Unit {
		v = human.Distinct(m.Value, m.Rule.Value, m.Unit)
	}
	return m.Name + " = " + v + " (want " + m.Rule.Op + " " + human.Value(m.Rule.Value, m.Rule.Unit) + ")"
}

// Summary prints every check of r (each required one its run did not produce as not run), the
// verdict, and the paths of the bundle's files that exist.
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
		if pc.Status == statusNotRun && !slices.Contains(r.Required, c.ID) {
			pc.Status = statusNotApplicable // not required of this run, so it does not apply to it
		}
		fmt.Fprintln(p.W, "  "+p.checkLine(pc))
	}
	verdict := string(r.Verdict)
	switch r.Verdict {
	case evidence.Green:
		verdict = p.paint("32;1", verdict)
	case evidence.Red:
		verdict = p.paint("31;1", verdict)
	default:
		verdict = p.paint("33;1", verdict)
	}
	fmt.Fprintf(p.W, "\nverdict: %s\n", verdict)
	for i, path := range paths {
		label := "         "
		if i == 0 {
			label = "evidence:"
		}
		fmt.Fprintf(p.W, "%s %s\n", label, path)
	}
}
