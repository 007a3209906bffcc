package pipeline_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/evidence/render"
	"github.com/exportatscale/exportatscale/harness/pipeline"
	"github.com/exportatscale/exportatscale/harness/target"
	"github.com/exportatscale/exportatscale/internal/testkit"
	"github.com/exportatscale/exportatscale/scenarios/progress"
	"github.com/exportatscale/exportatscale/scenarios/specs"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// stub is a target that is never reached: the example check reads nothing from it.
type stub struct{}

func (stub) Kind() target.Kind          { return target.KindURL }
func (stub) BaseURL() string            { return "http://127.0.0.1:1" }
func (stub) Token() string              { return "" }
func (stub) Info() target.Info          { return target.Info{} }
func (stub) Stop(context.Context) error { return nil }

// withExample is the run's table with the example check added as a new check is: one row.
var withExample = append(pipeline.Table(), pipeline.ExampleCheck)

// The specs of the table with the example, declared as the acceptance suite declares its own.
var (
	exampleRun      *pipeline.Run
	exampleRecorded = map[string]evidence.Check{}
	_               = specs.Describe(withExample, func() pipeline.Capabilities { return pipeline.Capabilities{} },
		func(ctx context.Context, d pipeline.Def) {
			c := exampleRun.Check(ctx, d)
			exampleRecorded[c.ID] = c
		})
)

func exampleThresholds(t *testing.T, rule bool) map[string]evidence.Rule {
	t.Helper()
	th := testkit.Thresholds(t)
	if rule {
		th["x1.table_rows"] = evidence.Rule{Op: ">=", Value: 1, Unit: "rows"}
	}
	return th
}

// TestNewCheck adds a check to the table and follows it everywhere a check is listed: it is a spec
// (and runs as one), it is required, it decides the verdict, and the terminal summary and the
// report show it with its measure. Without a rule for its measure it fails.
func TestNewCheck(t *testing.T) {
	if slices.ContainsFunc(pipeline.Table(), func(d pipeline.Def) bool { return d.ID == "X1" }) {
		t.Fatal("the example is in the run's own table; it must be added by the test only")
	}
	var err error
	exampleRun, err = pipeline.New(pipeline.Config{Target: stub{}, Thresholds: exampleThresholds(t, true), Table: withExample})
	if err != nil {
		t.Fatal(err)
	}

	// The specs: only the example runs here (by its label); the others are declared and filtered out.
	gomega.RegisterFailHandler(ginkgo.Fail)
	var report ginkgo.Report
	ginkgo.ReportAfterSuite("example", func(r ginkgo.Report) { report = r })
	sc, rc := ginkgo.GinkgoConfiguration()
	sc.LabelFilter = "example"
	rc.Succinct = true
	if !ginkgo.RunSpecs(t, "table with an example check", sc, rc) {
		t.Fatal("the example's spec failed")
	}
	var texts []string
	for _, s := range report.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt {
			texts = append(texts, s.LeafNodeText)
		}
	}
	if want := pipeline.ExampleCheck.SpecText(); !slices.Contains(texts, want) {
		t.Errorf("specs %q lack %q", texts, want)
	}
	if len(texts) != len(withExample)-1 { // every row but the suite's own
		t.Errorf("%d specs for a table of %d rows", len(texts), len(withExample))
	}
	if c, ok := exampleRecorded["X1"]; !ok || c.Status != evidence.StatusPassed {
		t.Fatalf("the example's spec recorded %+v", exampleRecorded)
	}

	required := pipeline.Required(withExample, pipeline.Capabilities{})
	if !slices.Contains(required, "X1") || slices.Contains(pipeline.Required(pipeline.Table(), pipeline.Capabilities{}), "X1") {
		t.Errorf("required %v", required)
	}

	// Judged without a rule for its measure, it fails, and so does the run.
	strict, err := pipeline.New(pipeline.Config{Target: stub{}, Thresholds: exampleThresholds(t, false), Table: withExample})
	if err != nil {
		t.Fatal(err)
	}
	failed := strict.Some(context.Background(), "X1")[0]
	if failed.Status != evidence.StatusFailed || !strings.Contains(strings.Join(failed.Failures, "\n"), "no threshold for x1.table_rows") {
		t.Errorf("without its rule: %+v", failed)
	}
	rep := evidence.Report{SchemaVersion: evidence.SchemaVersion, RunID: "example", Required: required,
		Thresholds: exampleThresholds(t, true), Checks: []evidence.Check{failed}}
	rep.Verdict = evidence.Decide(rep.Checks, rep.Required)
	if rep.Verdict != evidence.Red {
		t.Errorf("verdict %s, want RED", rep.Verdict)
	}

	var summary bytes.Buffer
	(&progress.Printer{W: &summary}).Summary(rep)
	if !strings.Contains(summary.String(), "X1") {
		t.Errorf("the terminal summary lacks X1:\n%s", summary.String())
	}
	var md bytes.Buffer
	if err := render.Markdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"X1", "x1.table_rows"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the report lacks %s:\n%s", want, md.String())
		}
	}
}

// TestTableRows holds every row of the run's table to what the specs and the verdict rely on: a
// unique ID, a title, a decision whether it applies, and a spec for every row the run makes.
func TestTableRows(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range pipeline.Table() {
		switch {
		case d.ID == "" || strings.ContainsAny(d.ID, " \t") || seen[d.ID]:
			t.Errorf("row %q: the ID must be one word, used once", d.ID)
		case d.Title == "" || d.Applies == nil:
			t.Errorf("row %s: no title or no Applies", d.ID)
		case !d.FromReport && d.Spec == "":
			t.Errorf("row %s: no spec", d.ID)
		}
		seen[d.ID] = true
	}
	if !seen[pipeline.SuiteCheckID] {
		t.Errorf("the table lacks the suite's own check %q", pipeline.SuiteCheckID)
	}
}
