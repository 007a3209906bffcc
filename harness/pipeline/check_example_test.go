package pipeline

import (
	"context"

	"github.com/exportatscale/exportatscale/evidence"
)

// exampleCheck is a check added the way every check is: one file like this one (its row, its
// Measure and its Judge) and one row in the table's list (table.go). It lives in the tests only:
// table_test.go adds it to the table and shows that the specs, the required set, the verdict, the
// terminal summary and the report all pick it up from there, with no second list to edit.
var exampleCheck = define(Def{ID: "X1", Title: "example",
	Spec:   "example: the run's table has at least one row",
	Labels: []string{"example"}, Applies: always}, measureExample, judgeExample)

// ExampleCheck is exampleCheck, for the external tests.
var ExampleCheck = exampleCheck

func measureExample(_ context.Context, r *Run) (int, error) { return len(r.cfg.Table), nil }

func judgeExample(th Thresholds, rows int) evidence.Check {
	b := &builder{th: th}
	b.measure("x1.table_rows", float64(rows), "rows")
	return b.check()
}
