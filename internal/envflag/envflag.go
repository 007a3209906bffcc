// Package envflag declares a program's flags once, with the standard flag package, and lets
// github.com/peterbourgon/ff/v3 supply each one's default from an environment variable derived
// from its name (EXPORTER_MAX_CSV_EXPORTS for --max-csv-exports). The exporter and the acceptance
// run's options both use it; CheckDoc keeps the flag tables of their docs (docs/api.md,
// docs/acceptance.md) true to the flags.
package envflag

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/peterbourgon/ff/v3"
)

// Bind sets the flags of own from the environment with ff, then declares them on fs with
// " (env VAR)" added to their usage. ff is given no arguments, so the environment only supplies
// defaults: fs takes each flag's value (the environment's, if set) as the default --help shows,
// and fs.Parse then overrides it. ff reports only the first malformed variable (in flag name
// order), naming the variable and the flag.
func Bind(fs, own *flag.FlagSet, prefix string) error {
	err := ff.Parse(own, nil, ff.WithEnvVarPrefix(prefix))
	own.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage+" (env "+Var(prefix, f.Name)+")") })
	return err
}

// Parse parses a program's command line: register declares the flags on a flag set named name
// (with Bind), whose help, written to stderr, is "Usage: name [flags]", about, and the flags. The
// error is the first of: the flags' (flag.ErrHelp for --help), register's (a malformed
// environment variable, reported only once the flags parsed, so that --help still works), and
// arguments left over.
func Parse(name, about string, args []string, stderr io.Writer, register func(*flag.FlagSet) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [flags]\n\n%s\n\nFlags:\n", name, about)
		fs.PrintDefaults()
	}
	envErr := register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if envErr != nil {
		return envErr
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return nil
}

// Var is the environment variable ff reads for the flag name: upper case, '-', '.' and '/' made
// '_', after the prefix and '_' (ff v3 parse.go; the callers' tests check the two agree).
func Var(prefix, name string) string {
	return prefix + "_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_", "/", "_").Replace(name))
}

// CheckDoc compares the first Markdown table after the line starting with heading in the file
// at path with fs, row by row: the same flags (first column, `--name`), each reading the variable
// Var derives (second column), each with the flag's default (third column: a `literal` that
// scratch, a second registration of the same flags, reads back as the default; prose or nothing
// for an empty default). It returns one line per disagreement.
func CheckDoc(path, heading, prefix string, fs, scratch *flag.FlagSet) ([]string, error) {
	rows, err := docTable(path, heading)
	if err != nil {
		return nil, err
	}
	var problems []string
	seen := map[string]bool{}
	for _, row := range rows {
		for i, name := range row.flags {
			name = strings.TrimPrefix(name, "--")
			seen[name] = true
			f := fs.Lookup(name)
			if f == nil {
				problems = append(problems, fmt.Sprintf("%s has --%s, the flags do not", path, name))
				continue
			}
			if i >= len(row.envs) || row.envs[i] != Var(prefix, name) {
				problems = append(problems, fmt.Sprintf("%s: --%s reads %v, want %s", path, name, row.envs, Var(prefix, name)))
			}
			if p := checkDefault(f, scratch, row.def); p != "" {
				problems = append(problems, path+": "+p)
			}
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !seen[f.Name] {
			problems = append(problems, fmt.Sprintf("--%s is not in %s", f.Name, path))
		}
	})
	return problems, nil
}

func checkDefault(f *flag.Flag, scratch *flag.FlagSet, def string) string {
	lit, ok := strings.CutPrefix(def, "`")
	if !ok {
		if f.DefValue != "" {
			return fmt.Sprintf("--%s defaults to %q, the flag to %q", f.Name, def, f.DefValue)
		}
		return ""
	}
	lit = strings.TrimSuffix(lit, "`")
	if err := scratch.Set(f.Name, lit); err != nil || scratch.Lookup(f.Name).Value.String() != f.DefValue {
		return fmt.Sprintf("--%s defaults to %s, the flag to %q (%s reads as %v, %v)", f.Name, def, f.DefValue, lit, scratch.Lookup(f.Name).Value, err)
	}
	return ""
}

type docRow struct {
	flags, envs []string // the `code` spans of the cells
	def         string
}

func docTable(path, heading string) ([]docRow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	_, after, ok := strings.Cut("\n"+string(b), "\n"+heading)
	if !ok {
		return nil, fmt.Errorf("%s has no %q", path, heading)
	}
	var rows []docRow
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "|") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 5 || strings.TrimSpace(cells[1]) == "flag" || strings.HasPrefix(cells[1], "---") {
			continue
		}
		rows = append(rows, docRow{code(cells[1]), code(cells[2]), strings.TrimSpace(cells[3])})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no table after %q", path, heading)
	}
	return rows, nil
}

// code returns the `code` spans of a table cell.
func code(cell string) []string {
	var spans []string
	for i, s := range strings.Split(cell, "`") {
		if i%2 == 1 {
			spans = append(spans, s)
		}
	}
	return spans
}
