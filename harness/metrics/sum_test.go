package metrics

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestSum adds up the expositions of two replicas of one deployment, sharing one store:
// testdata/replica-a.prom and replica-b.prom, the same families with other samples.
func TestSum(t *testing.T) {
	var raws [][]byte
	var snaps []Snapshot
	for _, f := range []string{"testdata/replica-a.prom", "testdata/replica-b.prom"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		raws, snaps = append(raws, raw), append(snaps, s)
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
	other, _ := Parse(bytes.ReplaceAll(raws[1], []byte(`le="0.1"`), []byte(`le="0.2"`)))
	if _, err := Sum([]Snapshot{snaps[0], other}); err == nil || !strings.Contains(err.Error(), "bucket") {
		t.Errorf("Sum over different buckets: %v", err)
	}
}
