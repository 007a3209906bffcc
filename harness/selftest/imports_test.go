package selftest

import (
	"os/exec"
	"strings"
	"testing"
)

// The harness judges exporters over HTTP only: nothing it or the suite builds may import the
// reference exporter, or its expectations could come from the encoder under test.
func TestHarnessDoesNotImportExporter(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "-f", "{{.ImportPath}}",
		"../...", "../../scenarios/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	var deps int
	for _, p := range strings.Fields(string(out)) {
		deps++
		if p == "github.com/exportatscale/exportatscale/exporter" || strings.HasPrefix(p, "github.com/exportatscale/exportatscale/exporter/") {
			t.Errorf("harness or scenarios depend on %s", p)
		}
	}
	if deps < 10 {
		t.Fatalf("go list returned only %d packages: the check saw nothing", deps)
	}
}

// Dependencies run one way: the packages that measure (targets, seeding, the export client, load,
// memory, metrics) never import the pipeline, which judges what they measure, nor the suite; the
// pipeline imports them.
func TestMeasuringDoesNotImportJudging(t *testing.T) {
	const mod = "github.com/exportatscale/exportatscale/"
	judging := []string{mod + "harness/pipeline", mod + "scenarios"}
	for _, pkg := range []string{"../target", "../seed", "../export", "../load", "../memory", "../metrics"} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 5 {
			t.Fatalf("go list %s returned only %d packages: the check saw nothing", pkg, len(deps))
		}
		for _, p := range deps {
			for _, j := range judging {
				if p == j || strings.HasPrefix(p, j+"/") {
					t.Errorf("%s, which measures, depends on %s, which judges", pkg, p)
				}
			}
		}
	}
}
