package metrics_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/harness/metrics"
)

// createDataset declares dataset d with one int column a.
func createDataset(t *testing.T, url string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url+"/v1/datasets/d", strings.NewReader(`{"columns":[{"name":"a","type":"int"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestScrapeFake(t *testing.T) {
	srv := fake.Start(t, fake.Config{})
	ctx := context.Background()
	createDataset(t, srv.URL)
	before, err := metrics.Scrape(ctx, nil, srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if m := metrics.Missing(before); len(m) != 0 {
		t.Errorf("missing: %q", m)
	}
	problems, err := metrics.Lint(before.Raw)
	if err != nil || len(problems) != 0 {
		t.Errorf("lint: %q %v", problems, err)
	}
	post, err := http.Post(srv.URL+"/v1/datasets/d/records", "application/x-ndjson", strings.NewReader("{\"id\":1,\"a\":2}\n{\"id\":2,\"a\":3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	resp, err := http.Get(srv.URL + "/v1/datasets/d/export?format=csv")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	after, err := metrics.WaitIdle(ctx, nil, srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	d := metrics.Delta(before, after)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"exporter_exports_total", []string{"format", "csv", "outcome", "ok"}, 1},
		{"exporter_export_rows_total", []string{"format", "csv"}, 2},
		{"exporter_export_duration_seconds_count", []string{"format", "csv"}, 1},
		{"exporter_ingest_records_total", []string{"mode", "batch", "outcome", "ok"}, 2},
		{"exporter_store_records", []string{"dataset", "d"}, 2},
	} {
		if v, ok := d.Get(c.name, c.labels...); !ok || v != c.want {
			t.Errorf("%s%v delta = %v (%v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if sum, n := d.Sum("exporter_exports_total", "format", "csv"); sum != 1 || n != 4 {
		t.Errorf("sum = %v over %d series", sum, n)
	}
}

func TestMissing(t *testing.T) {
	srv := fake.Start(t, fake.Config{Faults: fake.Faults{MissingMetric: "exporter_exports_in_flight"}})
	createDataset(t, srv.URL)
	s, err := metrics.Scrape(context.Background(), nil, srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if m := metrics.Missing(s); !slices.Equal(m, []string{"exporter_exports_in_flight: not exposed"}) {
		t.Errorf("missing: %q", m)
	}
}

func TestParseAndLint(t *testing.T) {
	raw := `# TYPE exporter_store_records gauge
exporter_store_records{dataset="a"} 3
exporter_exports_in_flight{format="csv"} 0
# HELP requests Requests.
# TYPE requests counter
requests 7
`
	s, err := metrics.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	m := strings.Join(metrics.Missing(s), "\n")
	for _, want := range []string{
		"exporter_store_records: no HELP",
		"exporter_exports_in_flight: no HELP",
		`exporter_exports_total: not exposed`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("missing %q in:\n%s", want, m)
		}
	}
	problems, err := metrics.Lint([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(problems, func(p string) bool {
		return strings.HasPrefix(p, "requests: counter metrics should have \"_total\" suffix")
	}) {
		t.Errorf("lint problems: %q", problems)
	}
	if _, err := metrics.Parse([]byte("not metrics {")); err == nil {
		t.Error("parse accepted garbage")
	}
}

// TestRenamed reads a service's own series under the names the harness judges them by.
func TestRenamed(t *testing.T) {
	s, err := metrics.Parse([]byte("# TYPE svc_exports counter\nsvc_exports{format=\"csv\",outcome=\"ok\"} 3\n" +
		"# TYPE svc_secs histogram\nsvc_secs_bucket{format=\"csv\",le=\"+Inf\"} 2\nsvc_secs_sum{format=\"csv\"} 1.5\nsvc_secs_count{format=\"csv\"} 2\n" +
		"# TYPE other gauge\nother 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := s.Renamed(map[string]string{"svc_exports": "exporter_exports_total", "svc_secs": "exporter_export_duration_seconds"})
	for key, want := range map[string]float64{
		`exporter_exports_total{format="csv",outcome="ok"}`:               3,
		`exporter_export_duration_seconds_count{format="csv"}`:            2,
		`exporter_export_duration_seconds_bucket{format="csv",le="+Inf"}`: 2,
		"other": 7,
	} {
		if got, ok := r.Samples[key]; !ok || got != want {
			t.Errorf("%s = %v (%v), want %v", key, got, ok, want)
		}
	}
	if _, ok := r.Families["exporter_export_duration_seconds"]; !ok || len(r.Samples) != len(s.Samples) {
		t.Errorf("families %v, %d samples of %d", r.Families, len(r.Samples), len(s.Samples))
	}
}
