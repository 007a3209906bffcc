// Package specs turns the pipeline's table of checks (harness/pipeline, table.go) into Ginkgo
// specs: the acceptance suite declares its specs with it, and a test of the table declares the
// same specs for a table with a check added, so what the suite runs is derived from the table and
// from nothing else.
package specs

import (
	"context"

	"github.com/onsi/ginkgo/v2"

	"github.com/exportatscale/exportatscale/harness/pipeline"
)

// Describe declares, in an Ordered container that goes on after a failure, one spec per row of
// table that the run makes (every row but those the suite's report makes), named by
// Def.SpecText, labelled with its labels and bounded by its timeout. A row that does not apply to
// caps() for a reason of the run's is skipped with its reason; one that applies, or does not apply
// to the API judged, is handed to check, which records it (as not applicable, then).
func Describe(table []pipeline.Def, caps func() pipeline.Capabilities, check func(context.Context, pipeline.Def)) bool {
	return ginkgo.Describe("Export acceptance", ginkgo.Ordered, ginkgo.ContinueOnFailure, func() {
		for _, d := range table {
			if d.FromReport {
				continue
			}
			ginkgo.It(d.SpecText(), ginkgo.Label(d.Labels...), func(ctx ginkgo.SpecContext) {
				if why := d.Applies(caps()); why != "" && d.NotApplicableTo(caps()) == "" {
					ginkgo.Skip(d.ID + ": " + why)
				}
				check(ctx, d)
			}, ginkgo.NodeTimeout(d.SpecTimeout()))
		}
	})
}
