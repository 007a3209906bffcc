package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/exportatscale/exportatscale/evidence/compare"
)

const compareUsage = `usage: evidence compare [--rules FILE] BASE NEW
  print every measure the bundles BASE and NEW share: base, new, delta and a verdict
  --rules FILE   comparison rules replacing evidence/baseline.json
exit codes: 0 no regression, 1 a regression, 3 a bundle unreadable, 4 usage
`

// compareConfig is what `evidence compare` compares, and by which rules.
type compareConfig struct {
	Base, New string
	Rules     string // a rules file; empty: the embedded evidence/baseline.json
}

// compareCmd parses the arguments of `evidence compare` and runs it.
func compareCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c compareConfig
	pos, err := parseArgs("compare", compareUsage, args, func(pos []string) error {
		if len(pos) != 2 {
			return fmt.Errorf("compare wants two bundle directories, BASE and NEW, after the flags; got %q", pos)
		}
		return nil
	}, stdout, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&c.Rules, "rules", "", "comparison rules (JSON) replacing evidence/baseline.json")
	})
	if err != nil || pos == nil {
		return err
	}
	c.Base, c.New = pos[0], pos[1]
	return runCompare(ctx, c, stdout)
}

// runCompare prints the comparison of c.New with c.Base; a regression is exit code 1.
func runCompare(ctx context.Context, c compareConfig, stdout io.Writer) error {
	rules, err := compare.LoadRules(c.Rules)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	var bundles [2]compare.Bundle
	for i, dir := range []string{c.Base, c.New} {
		if err := ctx.Err(); err != nil {
			return err
		}
		if bundles[i], err = compare.Load(dir); err != nil {
			return &exitError{exitUnverifiable, fmt.Errorf("%s: %w", dir, err)}
		}
	}
	cmp := compare.Compare(bundles[0], bundles[1], rules)
	if err := compare.RenderTable(stdout, cmp); err != nil {
		return err
	}
	if regs := cmp.Regressions(); len(regs) > 0 {
		names := make([]string, len(regs))
		for i, r := range regs {
			names[i] = r.Measure
		}
		return &exitError{1, fmt.Errorf("%s regressed against %s: %s", c.New, c.Base, strings.Join(names, ", "))}
	}
	return nil
}
