package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// repoRoot is the root module, two levels up from this package.
const repoRoot = "../.."

const (
	rulesFile     = "alerts/exporter.rules.yml"
	dashboardFile = "dashboards/exporter.json"
)

// nine is the exporter's metric contract (docs/design.md): every one must be exposed with this type
// and used by at least one alert or dashboard query.
var nine = map[string]dto.MetricType{
	"exporter_exports_total":             dto.MetricType_COUNTER,
	"exporter_export_rows_total":         dto.MetricType_COUNTER,
	"exporter_export_bytes_total":        dto.MetricType_COUNTER,
	"exporter_export_duration_seconds":   dto.MetricType_HISTOGRAM,
	"exporter_export_first_byte_seconds": dto.MetricType_HISTOGRAM,
	"exporter_exports_in_flight":         dto.MetricType_GAUGE,
	"exporter_requests_rejected_total":   dto.MetricType_COUNTER,
	"exporter_ingest_records_total":      dto.MetricType_COUNTER,
	"exporter_store_records":             dto.MetricType_GAUGE,
}

// synthesized are series Prometheus itself attaches to every scrape target. A query may name them
// although no exporter can expose them.
var synthesized = map[string]string{
	"up": "1 when the last scrape of the target succeeded, 0 when it failed; used by ExporterDown",
}

// query is one PromQL expression and where it was found.
type query struct {
	where string
	expr  string
}

// TestEveryMetricIsUsed parses every query and requires each of the nine metrics to appear in at
// least one of them. It needs neither the exporter nor promtool.
func TestEveryMetricIsUsed(t *testing.T) {
	used := map[string]bool{}
	for _, q := range allQueries(t) {
		for _, name := range metricNames(t, q) {
			used[histogramFamily(name, func(base string) bool { return nine[base] == dto.MetricType_HISTOGRAM })] = true
		}
	}
	for _, name := range sortedKeys(nine) {
		if !used[name] {
			t.Errorf("%s is not used by any alert or dashboard query", name)
		}
	}
}

// TestQueriesMatchTheLiveExporter builds and runs the real exporter, drives a little traffic
// through every API path, scrapes /metrics, and checks the queries and the exposition against
// each other.
func TestQueriesMatchTheLiveExporter(t *testing.T) {
	queries := allQueries(t)
	base := startExporter(t)
	driveTraffic(t, base)
	// The classic text format, which both expfmt's TextParser and promtool read.
	scrape := get(t, base+"/metrics", "text/plain; version=0.0.4")

	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(scrape))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}

	t.Run("every referenced metric is exposed", func(t *testing.T) {
		for _, q := range queries {
			for _, name := range metricNames(t, q) {
				if _, ok := synthesized[name]; ok {
					continue
				}
				isHistogram := func(base string) bool {
					mf, ok := families[base]
					return ok && mf.GetType() == dto.MetricType_HISTOGRAM
				}
				if _, ok := families[histogramFamily(name, isHistogram)]; !ok {
					t.Errorf("%s: %s is not exposed by the exporter", q.where, name)
				}
			}
		}
	})

	t.Run("the nine metrics are exposed with HELP and their type", func(t *testing.T) {
		for _, name := range sortedKeys(nine) {
			mf, ok := families[name]
			switch {
			case !ok:
				t.Errorf("%s is missing", name)
			case mf.GetType() != nine[name]:
				t.Errorf("%s has type %s, want %s", name, mf.GetType(), nine[name])
			case mf.GetHelp() == "":
				t.Errorf("%s has no HELP", name)
			}
		}
	})

	t.Run("promtool check metrics is clean", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			// The repository's one switch for a missing tool (internal/testkit.SkipMissing, which this
			// module cannot import): it fails unless EXPORTATSCALE_SKIP_MISSING=1.
			if os.Getenv("EXPORTATSCALE_SKIP_MISSING") != "1" {
				t.Fatal("promtool is missing: make tools-promtool, or set EXPORTATSCALE_SKIP_MISSING=1 to skip")
			}
			t.Skip("promtool is missing (EXPORTATSCALE_SKIP_MISSING=1)")
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(scrape)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
}

func allQueries(t *testing.T) []query {
	t.Helper()
	return append(ruleQueries(t), dashboardQueries(t)...)
}

// ruleQueries returns the expression of every rule in the rules file.
func ruleQueries(t *testing.T) []query {
	t.Helper()
	groups, errs := rulefmt.ParseFile(filepath.Join(repoRoot, rulesFile), false, model.UTF8Validation,
		parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("parse %s: %v", rulesFile, errors.Join(errs...))
	}
	var qs []query
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			qs = append(qs, query{where: fmt.Sprintf("%s: %s%s", rulesFile, r.Alert, r.Record), expr: r.Expr})
		}
	}
	if len(qs) == 0 {
		t.Fatalf("%s has no rules", rulesFile)
	}
	return qs
}

// labelValues matches a Grafana Prometheus variable query that names a metric.
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)

// dashboardQueries returns every panel target's expression, and the metric selector of every
// label_values(metric, label) variable query, from the committed dashboard JSON.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
			Panels json.RawMessage `json:"panels"` // rows nest panels; this dashboard has none
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("parse %s: %v", dashboardFile, err)
	}
	var qs []query
	for _, p := range d.Panels {
		if len(p.Panels) > 0 && string(p.Panels) != "[]" && string(p.Panels) != "null" {
			t.Fatalf("%s: panel %q nests panels; teach this test to read them", dashboardFile, p.Title)
		}
		for _, tg := range p.Targets {
			qs = append(qs, query{where: fmt.Sprintf("%s: panel %q query %s", dashboardFile, p.Title, tg.RefID), expr: tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		s, _ := v.Query.(string)
		if m := labelValues.FindStringSubmatch(s); v.Type == "query" && m != nil {
			qs = append(qs, query{where: fmt.Sprintf("%s: variable %s", dashboardFile, v.Name), expr: m[1]})
		}
	}
	if len(qs) == 0 {
		t.Fatalf("%s has no queries", dashboardFile)
	}
	return qs
}

// grafanaVar matches Grafana's variable syntaxes: $name, ${name}, ${name:format} and [[name]].
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// builtins are Grafana's interval variables, replaced by a value of the right kind. Any other
// variable only ever appears in a label value, where its own name is a valid stand-in.
var builtins = map[string]string{
	"__rate_interval": "5m",
	"__interval":      "1m",
	"__range":         "1h",
	"__interval_ms":   "60000",
	"__range_s":       "3600",
	"__range_ms":      "3600000",
}

// substitute replaces Grafana variables so the expression is plain PromQL.
func substitute(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		m := grafanaVar.FindStringSubmatch(v)
		name := m[1] + m[2] + m[3]
		if b, ok := builtins[name]; ok {
			return b
		}
		return name
	})
}

// metricNames parses q and returns the metric name of every vector selector in it.
func metricNames(t *testing.T, q query) []string {
	t.Helper()
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(substitute(q.expr))
	if err != nil {
		t.Fatalf("%s: parse %q: %v", q.where, q.expr, err)
	}
	var names []string
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		i := slices.IndexFunc(vs.LabelMatchers, func(m *labels.Matcher) bool { return m.Name == labels.MetricName })
		if i < 0 || vs.LabelMatchers[i].Type != labels.MatchEqual {
			t.Errorf("%s: selector %s has no fixed metric name, so it cannot be checked", q.where, vs)
			return nil
		}
		names = append(names, vs.LabelMatchers[i].Value)
		return nil
	})
	if len(names) == 0 {
		t.Errorf("%s: %q selects no metric", q.where, q.expr)
	}
	return names
}

// histogramFamily maps a histogram's _bucket, _sum or _count series name to its family name, when
// isHistogram says that family is a histogram; any other name is returned unchanged.
func histogramFamily(name string, isHistogram func(string) bool) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && isHistogram(base) {
			return base
		}
	}
	return name
}

func TestSubstitute(t *testing.T) {
	for in, want := range map[string]string{
		`rate(x{job="$job"}[$__rate_interval])`:           `rate(x{job="job"}[5m])`,
		`rate(x{job="${job}"}[${__interval}])`:            `rate(x{job="job"}[1m])`,
		`x{job=~"${job:regex}", instance="[[instance]]"}`: `x{job=~"job", instance="instance"}`,
		`increase(x[$__range])`:                           `increase(x[1h])`,
	} {
		if got := substitute(in); got != want {
			t.Errorf("substitute(%q) = %q, want %q", in, got, want)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
