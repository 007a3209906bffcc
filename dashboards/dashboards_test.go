package dashboards

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/internal/testkit/golden"

	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// TestGolden proves the committed exporter.json is exactly what the code generates: go test
// ./dashboards -update (or go run ./dashboards/cmd/gendashboards) rewrites it.
func TestGolden(t *testing.T) {
	golden.Check(t, "exporter.json", render(t))
}

// TestDeterministic guards the golden file against map-order or other nondeterminism.
func TestDeterministic(t *testing.T) {
	if a, b := render(t), render(t); !bytes.Equal(a, b) {
		t.Fatal("two renders differ")
	}
}

var rateRange = regexp.MustCompile(`\b(rate|increase)\([^\[]*\[([^\]]*)\]`)

// TestPanels checks the house rules every panel must follow.
func TestPanels(t *testing.T) {
	d, err := Exporter()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Panels); n != 5 {
		t.Fatalf("got %d panels, want 5", n)
	}
	for _, pr := range d.Panels {
		p := pr.Panel
		if p == nil {
			t.Fatal("unexpected row panel")
		}
		title := deref(p.Title)
		t.Run(title, func(t *testing.T) {
			if deref(p.Description) == "" {
				t.Error("no description")
			}
			if p.FieldConfig == nil || deref(p.FieldConfig.Defaults.Unit) == "" {
				t.Error("no unit")
			}
			if p.Datasource == nil || deref(p.Datasource.Uid) != "${datasource}" {
				t.Error("panel does not use the datasource variable")
			}
			if len(p.Targets) == 0 {
				t.Fatal("no queries")
			}
			for _, target := range p.Targets {
				q, ok := target.(prometheus.Dataquery)
				if !ok {
					t.Fatalf("target %T is not a Prometheus query", target)
				}
				if !strings.Contains(q.Expr, `job="$job"`) {
					t.Errorf("%s: does not filter on $job", q.Expr)
				}
				for _, m := range rateRange.FindAllStringSubmatch(q.Expr, -1) {
					if m[2] != "$__rate_interval" {
						t.Errorf("%s: %s over [%s], want [$__rate_interval]", q.Expr, m[1], m[2])
					}
				}
			}
		})
	}
}

func render(t *testing.T) []byte {
	t.Helper()
	d, err := Exporter()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, d); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(buf.Bytes()) || !bytes.HasSuffix(buf.Bytes(), []byte("}\n")) {
		t.Fatal("output is not JSON ending in a newline")
	}
	return buf.Bytes()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
