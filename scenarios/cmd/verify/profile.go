package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/harness/profile"
)

// checkProfile validates the profile at path without running anything and prints its name, the
// capabilities it declares and the checks of the run (pipeline.Table) that would not apply to
// the API it describes, each with its reason; run is what the rest of the options give the run
// (a baseline). Its error is the profile's problems, a line each.
func checkProfile(path string, run pipeline.Capabilities, stdout io.Writer) error {
	p, err := profile.Load(path)
	if err != nil {
		return err
	}
	caps := p.Capabilities()
	fmt.Fprintf(stdout, "profile %s (%s): valid\n", p.Name, path)
	fmt.Fprintf(stdout, "declares: %s\n", strings.Join(caps.Declared(), ", "))
	fmt.Fprintln(stdout, "not applicable:")
	for _, s := range notApplicable(pipeline.Table(), run, caps) {
		fmt.Fprintf(stdout, "  %s: %s\n", s.id, s.reason)
	}
	return nil
}

// skip is a check of the run that would not apply, and why.
type skip struct{ id, reason string }

// notApplicable are the checks of defs that a run with capabilities run, judging an API with
// capabilities c, would not make, in the table's order, each with its row's reason. A5 is never
// among them for want of a declared protection: an API that declares none still answers
// overload, and how it does is judged (a client's blind spot is a finding), never skipped.
func notApplicable(defs []pipeline.Def, run pipeline.Capabilities, c profile.Capabilities) []skip {
	run = run.Judging(c)
	var skips []skip
	for _, d := range defs {
		if reason := d.Applies(run); reason != "" {
			skips = append(skips, skip{d.ID, reason})
		}
	}
	return skips
}
