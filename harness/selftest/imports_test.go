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
