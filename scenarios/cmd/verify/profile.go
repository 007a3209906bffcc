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

// profileNeeds is, for each check a profile can make inapplicable, why it does not apply to an
// API with capabilities c ("" when it does). The keys are IDs of pipeline.Table (a test keeps
// them so). A5 is not among them: an API that declares no protection still answers overload, and
// how it does is judged (a client's blind spot is a finding, RED unless the profile waives it),
// never skipped.
var profileNeeds = map[string]func(c profile.Capabilities) string{
	"A4": func(c profile.Capabilities) string {
		return unless(c.Memory, "the service is a url, whose memory cannot be watched from outside")
	},
	"A6": func(c profile.Capabilities) string { return unless(c.Metrics, "the profile maps no metrics") },
	"F1": func(c profile.Capabilities) string {
		return unless(c.Truncation && c.Resume, "a cut export must show as cut (integrity) and resume (after)")
	},
}

func unless(has bool, reason string) string {
	if has {
		return ""
	}
	return reason
}

// skip is a check of the run that would not apply, and why.
type skip struct{ id, reason string }

// notApplicable are the checks of defs that a run with capabilities run, judging an API with
// capabilities c, would not make, in the table's order: the row's own Applies first, then what
// the profile lacks.
func notApplicable(defs []pipeline.Def, run pipeline.Capabilities, c profile.Capabilities) []skip {
	var skips []skip
	for _, d := range defs {
		reason := d.Applies(run)
		if need := profileNeeds[d.ID]; reason == "" && need != nil {
			reason = need(c)
		}
		if reason != "" {
			skips = append(skips, skip{d.ID, reason})
		}
	}
	return skips
}
