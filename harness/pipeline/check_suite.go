package pipeline

import "github.com/exportatscale/exportatscale/evidence"

// suiteCheck stands for everything around the checks of a run: setup, cleanup (stopping the
// exporter cleanly) and the suite's reporting. The suite's report adapter makes it; the run cannot
// measure it, but it is required like any other.
var suiteCheck = Def{ID: evidence.SuiteCheckID, Title: "setup and teardown of the run", FromReport: true, Applies: always}
