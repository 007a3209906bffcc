package metrics

import (
	"strings"
	"testing"
)

const replicaA = `# HELP exporter_exports_total Exports.
# TYPE exporter_exports_total counter
exporter_exports_total{format="csv",outcome="ok"} 3
exporter_exports_total{format="pdf",outcome="ok"} 1
# HELP exporter_exports_in_flight In flight.
# TYPE exporter_exports_in_flight gauge
exporter_exports_in_flight{format="csv"} 1
# HELP exporter_store_records Records stored.
# TYPE exporter_store_records gauge
exporter_store_records{dataset="d"} 10
# HELP exporter_export_duration_seconds Duration.
# TYPE exporter_export_duration_seconds histogram
exporter_export_duration_seconds_bucket{format="csv",le="0.1"} 2
exporter_export_duration_seconds_bucket{format="csv",le="+Inf"} 3
exporter_export_duration_seconds_sum{format="csv"} 0.5
exporter_export_duration_seconds_count{format="csv"} 3
`

const replicaB = `# HELP exporter_exports_total Exports.
# TYPE exporter_exports_total counter
exporter_exports_total{outcome="ok",format="csv"} 4
exporter_exports_total{format="csv",outcome="aborted"} 2
# HELP exporter_exports_in_flight In flight.
# TYPE exporter_exports_in_flight gauge
exporter_exports_in_flight{format="csv"} 2
# HELP exporter_store_records Records stored.
# TYPE exporter_store_records gauge
exporter_store_records{dataset="d"} 10
# HELP exporter_export_duration_seconds Duration.
# TYPE exporter_export_duration_seconds histogram
exporter_export_duration_seconds_bucket{format="csv",le="0.1"} 1
exporter_export_duration_seconds_bucket{format="csv",le="+Inf"} 4
exporter_export_duration_seconds_sum{format="csv"} 1.5
exporter_export_duration_seconds_count{format="csv"} 4
`

func TestSum(t *testing.T) {
	var snaps []Snapshot
	for _, raw := range []string{replicaA, replicaB} {
		s, err := Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s)
	}
	sum, err := Sum(snaps, "exporter_store_records")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"exporter_exports_total", []string{"format", "csv", "outcome", "ok"}, 7},
		{"exporter_exports_total", []string{"format", "csv", "outcome", "aborted"}, 2},
		{"exporter_exports_total", []string{"format", "pdf", "outcome", "ok"}, 1},
		{"exporter_exports_in_flight", []string{"format", "csv"}, 3},
		{"exporter_store_records", []string{"dataset", "d"}, 10}, // shared: one store, not two
		{"exporter_export_duration_seconds_count", []string{"format", "csv"}, 7},
		{"exporter_export_duration_seconds_sum", []string{"format", "csv"}, 2},
		{"exporter_export_duration_seconds_bucket", []string{"format", "csv", "le", "0.1"}, 3},
		{"exporter_export_duration_seconds_bucket", []string{"format", "csv", "le", "+Inf"}, 7},
	} {
		if got, ok := sum.Samples.Get(tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("%s%v = %v (%v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	if f := sum.Families["exporter_exports_total"]; f.Type != "counter" || f.Help != "Exports." {
		t.Errorf("family = %+v", f)
	}
	if !strings.Contains(string(sum.Raw), "# TYPE exporter_export_duration_seconds histogram") {
		t.Errorf("Raw:\n%s", sum.Raw)
	}

	// Buckets that differ cannot be added.
	other, _ := Parse([]byte(strings.ReplaceAll(replicaB, `le="0.1"`, `le="0.2"`)))
	if _, err := Sum([]Snapshot{snaps[0], other}); err == nil || !strings.Contains(err.Error(), "bucket") {
		t.Errorf("Sum over different buckets: %v", err)
	}
}
