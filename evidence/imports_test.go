package evidence

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeaf: every package of the module reads the model, so the model must pull in nothing but
// the standard library — no test framework, no plotting, no other package of this module (the
// renderers import it, never the reverse). Its tests are held to the same, less strictly: they
// may not reach the renderers either.
func TestLeaf(t *testing.T) {
	const mod = "github.com/exportatscale/exportatscale/"
	for _, args := range [][]string{{"list", "-deps"}, {"list", "-deps", "-test"}} {
		out, err := exec.Command("go", append(args, "-f", "{{.Standard}} {{.ImportPath}}", ".")...).CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var deps int
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			deps++
			std, p, _ := strings.Cut(line, " ")
			switch {
			case std == "true", p == mod+"evidence", strings.HasPrefix(p, mod+"evidence ["), p == mod+"evidence.test":
			case strings.HasPrefix(p, "github.com/onsi/ginkgo"), strings.HasPrefix(p, "gonum.org/v1/plot"):
				t.Errorf("go %s: evidence depends on %s", strings.Join(args, " "), p)
			case strings.HasPrefix(p, mod):
				t.Errorf("go %s: evidence depends on %s, a package of this module", strings.Join(args, " "), p)
			default:
				t.Errorf("go %s: evidence depends on %s, outside the standard library", strings.Join(args, " "), p)
			}
		}
		if deps < 10 {
			t.Fatalf("go %s returned only %d packages: the check saw nothing", strings.Join(args, " "), deps)
		}
	}
}
