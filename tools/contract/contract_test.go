package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onsi/gomega"
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

// startExporter builds the exporter from the root module, runs it on a free loopback port with a
// temporary data directory, waits until it is ready and returns its base URL. It is stopped with
// SIGTERM when the test ends; its log is shown if the test failed.
func startExporter(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the exporter")
	}
	bin := filepath.Join(t.TempDir(), "exporter")
	build := exec.Command("go", "build", "-o", bin, "./exporter/cmd/exporter")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build exporter: %v\n%s", err, out)
	}

	addr := freeLoopbackAddr(t)
	var logs syncBuffer
	cmd := exec.Command(bin, "--listen", addr, "--data-dir", t.TempDir(), "--insecure-no-auth")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start exporter: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("exporter did not stop within 15s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("exporter log:\n%s", logs.String())
		}
	})

	base := "http://" + addr
	gomega.NewWithT(t).Eventually(func() (int, error) {
		select {
		case err := <-exited:
			exited <- err // let the cleanup see it too
			return 0, gomega.StopTrying("the exporter exited before it was ready").Wrap(err)
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}).WithTimeout(30*time.Second).WithPolling(100*time.Millisecond).Should(gomega.Equal(http.StatusOK), "GET /readyz")
	return base
}

// driveTraffic exercises dataset creation, single and batch ingest, and CSV and PDF export, so
// every labelled series has seen real use before the scrape.
func driveTraffic(t *testing.T, base string) {
	t.Helper()
	ds := base + "/v1/datasets/t"
	do(t, http.MethodPut, ds, "application/json",
		`{"columns":[{"name":"symbol","type":"string"},{"name":"qty","type":"int"},{"name":"price","type":"decimal"},{"name":"ts","type":"timestamp"},{"name":"open","type":"bool"}]}`,
		http.StatusCreated, http.StatusOK)
	do(t, http.MethodPost, ds+"/records", "application/json",
		`{"id":1,"symbol":"ACME","qty":-5,"price":"12.3400","ts":"2026-01-02T03:04:05+01:00","open":true}`,
		http.StatusOK)
	do(t, http.MethodPost, ds+"/records", "application/x-ndjson",
		`{"id":2,"symbol":"=SUM(A1)","qty":7,"price":"0.5","ts":"2026-01-02T03:04:06Z","open":false}`+"\n"+
			`{"id":3,"symbol":"Zürich, \"quoted\"","qty":0,"price":"-1","ts":"2026-01-02T03:04:07Z","open":true}`+"\n"+
			`{"id":4,"symbol":"","qty":42,"price":"100","ts":"2026-01-02T03:04:08.5Z","open":false}`+"\n",
		http.StatusOK)
	for _, format := range []string{"csv", "pdf"} {
		if body := get(t, ds+"/export?format="+format, "*/*"); len(body) == 0 {
			t.Fatalf("%s export is empty", format)
		}
	}
}

// do sends one request and fails the test unless the status is one of want.
func do(t *testing.T, method, url, contentType, body string, want ...int) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if !slices.Contains(want, resp.StatusCode) {
		t.Fatalf("%s %s: status %d, want %v: %s", method, url, resp.StatusCode, want, got)
	}
}

// get fetches url with the given Accept header, requires 200 and returns the whole body.
func get(t *testing.T, url, accept string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, body)
	}
	return body
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// syncBuffer is a bytes.Buffer safe for the exporter's stdout and stderr writers and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
