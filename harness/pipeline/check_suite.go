package pipeline

// The suite's own check stands for everything around the checks of a run: setup, cleanup
// (stopping the exporter cleanly) and the suite's reporting. The suite's report adapter
// (scenarios/ginkgoreport) makes it; the run cannot measure it, but it is required like any other.
const (
	SuiteCheckID    = "suite"
	SuiteCheckTitle = "setup and teardown of the run"
)

var suiteCheck = Def{ID: SuiteCheckID, Title: SuiteCheckTitle, FromReport: true, Applies: always}
