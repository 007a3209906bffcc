package pdftext_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNeither: the exporter's tests and the harness both read PDFs with this package, so it
// must import neither: the harness would reach the exporter through it.
func TestImportsNeither(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "-f", "{{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/exportatscale/exportatscale/"
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, mod) && !strings.HasPrefix(p, mod+"internal/") {
			t.Errorf("internal/pdftext depends on %s", p)
		}
	}
}
