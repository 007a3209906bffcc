package scenarios_test

import (
	"context"

	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/scenarios/specs"
)

// The run, in order: one spec per row of the pipeline's table of checks (harness/pipeline,
// table.go), each the record of the check its row returns. Each step feeds the next, and every
// assertion runs even when another failed. A row that does not apply to the target is skipped
// with its reason, and is not required.
var _ = specs.Describe(pipeline.Table(), capabilities, func(ctx context.Context, d pipeline.Def) {
	record(run.Check(ctx, d))
})
