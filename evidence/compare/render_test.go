package compare

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

func TestRenderTable(t *testing.T) {
	rules := mustRules(t)
	for _, tt := range []struct{ base, cur string }{{"series-1", "slow4"}, {"series-1", "series-7"}} {
		var b bytes.Buffer
		if err := RenderTable(&b, Compare(mustLoad(t, tt.base), mustLoad(t, tt.cur), rules)); err != nil {
			t.Fatal(err)
		}
		golden(t, "compare-"+tt.base+"-"+tt.cur+".txt.golden", b.Bytes())
	}
}
