package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
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
	printService(stdout, p)
	return nil
}

// printService prints the limits p declares and its service's env as the harness starts it (the
// limits filled in; {listen}, {data_dir}, {tokens_file}, {dir} and {port} are the target's), one
// KEY=VALUE a line, for a script that starts the service by hand (scenarios/slowed.sh).
func printService(w io.Writer, p *profile.Profile) {
	l := p.Limits()
	rate, concurrent := "not declared", "not declared"
	if l.Rate > 0 {
		rate = fmt.Sprintf("%g/s, burst %d", l.Rate, l.Burst)
	}
	if len(l.Concurrent) > 0 {
		var per []string
		for _, f := range slices.Sorted(maps.Keys(l.Concurrent)) {
			per = append(per, fmt.Sprintf("%d %s", l.Concurrent[f], f))
		}
		concurrent = strings.Join(per, ", ") + " exports"
	}
	fmt.Fprintf(w, "limits: rate %s; concurrent %s; stalled reader cut after %s\n", rate, concurrent, cutAfter(l))
	env := p.ServiceWith(l).Env
	if len(env) == 0 {
		return
	}
	fmt.Fprintln(w, "service env:")
	for _, k := range slices.Sorted(maps.Keys(env)) {
		fmt.Fprintf(w, "  %s=%s\n", k, env[k])
	}
}

func cutAfter(l profile.Limits) string {
	if l.CutAfter > 0 {
		return l.CutAfter.String()
	}
	return "(not declared: the probe waits " + l.StalledCut().String() + ")"
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
