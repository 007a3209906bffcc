package compare

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/exportatscale/exportatscale/internal/testkit/golden"
)

// goldenPath is where the golden file name is kept.
func goldenPath(name string) string { return filepath.Join("testdata", "golden", name) }

func TestRenderTable(t *testing.T) {
	rules := mustRules(t)
	for _, tt := range []struct{ base, cur string }{{"series-1", "slow4"}, {"series-1", "series-7"}} {
		var b bytes.Buffer
		if err := RenderTable(&b, Compare(mustLoad(t, tt.base), mustLoad(t, tt.cur), rules)); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, goldenPath("compare-"+tt.base+"-"+tt.cur+".txt.golden"), b.Bytes())
	}
}
