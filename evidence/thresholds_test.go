package evidence

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadThresholdsDefaults(t *testing.T) {
	got, err := LoadThresholds("")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Rule{
		"a1.missing_rows":                     {"==", 0, "rows"},
		"a1.duplicate_rows":                   {"==", 0, "rows"},
		"a1.mismatched_fields":                {"==", 0, "fields"},
		"a1.trailer_mismatches":               {"==", 0, "exports"},
		"a1.truncation_detectable":            {"==", 1, ""},
		"a2.csv_parse_errors":                 {"==", 0, "errors"},
		"a2.pdf_invalid":                      {"==", 0, "documents"},
		"a2.pdf_page_mismatch":                {"==", 0, "documents"},
		"a2.pdf_missing_ids":                  {"==", 0, "ids"},
		"a2.pdf_header_missing_pages":         {"==", 0, "pages"},
		"a2.content_header_mismatches":        {"==", 0, "exports"},
		"a3.csv_p95_seconds":                  {"<=", 1, "s"},
		"a3.pdf_p95_seconds":                  {"<=", 5, "s"},
		"a3.csv_first_byte_p95_seconds":       {"<=", 0.5, "s"},
		"a3.csv_stream_p50_mib_per_second":    {">=", 10, "MiB/s"},
		"a3.csv_rows_per_second":              {">=", 50000, "rows/s"},
		"a3.failed_exports":                   {"==", 0, "exports"},
		"a3.replicas_without_exports":         {"==", 0, "replicas"},
		"a4.peak_memory_bytes":                {"<=", 256 << 20, "bytes"},
		"a4.memory_growth_ratio":              {"<=", 0.5, "ratio"},
		"a4.rss_crosscheck_ratio":             {"<=", 3, "ratio"},
		"a5.rate_limited_without_retry_after": {"==", 0, "responses"},
		"a5.saturated_without_retry_after":    {"==", 0, "responses"},
		"a5.rate_limited_responses":           {">=", 1, "responses"},
		"a5.saturated_responses":              {">=", 1, "responses"},
		"a5.server_errors":                    {"==", 0, "responses"},
		"a5.restarts":                         {"==", 0, "restarts"},
		"a5.panics_in_logs":                   {"==", 0, "lines"},
		"a6.missing_metrics":                  {"==", 0, "metrics"},
		"a6.lint_problems":                    {"==", 0, "problems"},
		"a6.unreconciled":                     {"==", 0, "values"},
		"f1.victim_exports_in_flight":         {">=", 1, "exports"},
		"f1.cut_counted_ok":                   {"==", 0, "exports"},
		"f1.held_exports_wrong":               {"==", 0, "exports"},
		"f1.resumed_inexact":                  {"==", 0, "exports"},
		"f1.failed_after_kill":                {"==", 0, "exports"},
		"f1.seconds_out_of_rotation":          {"<=", 3, "s"},
		"f1.seconds_until_back":               {"<=", 20, "s"},
		"f1.victim_exports_after_return":      {">=", 1, "exports"},
		"f2.lost_acknowledged_records":        {"==", 0, "records"},
		"f2.partial_batches":                  {"==", 0, "batches"},
		"f2.mismatched_records":               {"==", 0, "records"},
		"f2.server_errors":                    {"==", 0, "responses"},
		"f2.seconds_to_recover":               {"<=", 10, "s"},
		"soak.memory_bytes_per_export":        {"<=", 8192, "bytes/export"},
		"soak.memory_bytes_per_hour":          {"<=", 67108864, "bytes/h"},
		"soak.open_fds_per_hour":              {"<=", 360, "fds/h"},
		"soak.goroutines_per_hour":            {"<=", 360, "goroutines/h"},
		"soak.incomplete_share":               {"<=", 0.05, "ratio"},
		"capacity.slo_csv_p95_seconds":        {"<=", 1.0, "s"},
		"capacity.slo_pdf_p95_seconds":        {"<=", 5.0, "s"},
		"capacity.slo_first_byte_p95_seconds": {"<=", 0.5, "s"},
		"capacity.slo_failure_share":          {"<=", 0.01, "ratio"},
		"capacity.slo_503_share":              {"<=", 0.01, "ratio"},
		"regression.slowdown_percent":         {"<", 20, "%"},
		"regression.p_value":                  {">=", 0.05, "p"},
	}
	if len(got) != len(want) {
		t.Errorf("got %d rules, want %d", len(got), len(want))
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s = %+v (present %t), want %+v", name, g, ok, w)
		}
	}
}

func TestLoadThresholdsOverride(t *testing.T) {
	got, err := LoadThresholds(filepath.Join("testdata", "thresholds-override.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Rule{
		"a3.csv_p95_seconds":   {"<=", 1.5, "s"}, // overridden
		"x.custom_ratio":       {"<", 0.25, ""},  // added
		"a3.pdf_p95_seconds":   {"<=", 5, "s"},   // default kept
		"a4.peak_memory_bytes": {"<=", 268435456, "bytes"},
	} {
		if got[name] != want {
			t.Errorf("%s = %+v, want %+v", name, got[name], want)
		}
	}
	// The defaults are not shared: changing one result must not leak into the next load.
	got["a1.missing_rows"] = Rule{"==", 99, ""}
	again, _ := LoadThresholds("")
	if again["a1.missing_rows"].Value != 0 {
		t.Error("LoadThresholds returned a shared map")
	}
}

func TestLoadThresholdsErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, wantErr string }{
		{"unknown op", `{"a": {"op": "=<", "value": 1}}`, `unknown op "=<"`},
		{"missing op", `{"a": {"value": 1}}`, "missing op"},
		{"missing value", `{"a": {"op": "=="}}`, "missing value"},
		{"typo field", `{"a": {"op": "==", "vaule": 1}}`, "unknown field"},
		{"empty name", `{"": {"op": "==", "value": 1}}`, "empty measure name"},
		{"not an object", `[1, 2]`, "cannot unmarshal"},
		{"null", `null`, "must be a JSON object"},
		{"trailing data", `{} {}`, "trailing data"},
		{"string value", `{"a": {"op": "==", "value": "1"}}`, "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.json")
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadThresholds(path)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := LoadThresholds(filepath.Join(t.TempDir(), "absent.json")); err == nil {
		t.Error("missing file: no error")
	}
}
