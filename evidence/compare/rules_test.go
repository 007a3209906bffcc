package compare

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultRules(t *testing.T) {
	r, err := DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	if r.Test.Method != MethodMannWhitneyU || r.Test.Alpha != 0.05 {
		t.Errorf("test = %+v, want Mann–Whitney U at 0.05", r.Test)
	}
	for _, name := range Distributions() {
		if _, ok := r.Distributions[name]; !ok {
			t.Errorf("no rule for the distribution %s", name)
		}
	}
	for _, name := range []string{"a1.missing_rows", "a3.failed_exports", "a5.server_errors"} {
		if r.Counts[name].Worse != Up {
			t.Errorf("count %s: worse = %q, want up", name, r.Counts[name].Worse)
		}
	}
	r.Counts["x"] = Rule{} // a copy: the defaults stay as they are
	if again, _ := DefaultRules(); len(again.Counts) == len(r.Counts) {
		t.Error("DefaultRules returned a shared map")
	}
}

func TestParseRules(t *testing.T) {
	const test = `"test": {"method": "mann-whitney-u", "alpha": 0.05}`
	for _, tt := range []struct {
		name, doc, wantErr string
	}{
		{"minimal", `{` + test + `}`, ""},
		{"unknown field", `{` + test + `, "distribution": {}}`, "unknown field"},
		{"no test", `{}`, "test: missing"},
		{"unknown method", `{"test": {"method": "t-test", "alpha": 0.05}}`, `unknown method "t-test"`},
		{"alpha out of range", `{"test": {"method": "mann-whitney-u", "alpha": 1}}`, "alpha must be within (0, 1)"},
		{"no alpha", `{"test": {"method": "mann-whitney-u"}}`, "alpha must be within (0, 1)"},
		{"trailing data", `{` + test + `} {}`, "trailing data"},
		{"unknown distribution", `{` + test + `, "distributions": {"samples.csv_latency_ms": {"worse": "up", "min_change_percent": 10}}}`, "no such distribution"},
		{"distribution without direction", `{` + test + `, "distributions": {"samples.csv_latency_seconds": {"min_change_percent": 10}}}`, `worse must be "up" or "down"`},
		{"distribution without minimum", `{` + test + `, "distributions": {"samples.csv_latency_seconds": {"worse": "up"}}}`, "missing min_change_percent"},
		{"negative minimum", `{` + test + `, "distributions": {"samples.csv_latency_seconds": {"worse": "up", "min_change_percent": -1}}}`, "finite number >= 0"},
		{"a fall of 100 %", `{` + test + `, "distributions": {"samples.csv_stream_mib_per_second": {"worse": "down", "min_change_percent": 100}}}`, "cannot fall by 100 %"},
		{"count with a minimum", `{` + test + `, "counts": {"a1.missing_rows": {"worse": "up", "min_change_percent": 10}}}`, "counts are compared exactly"},
		{"count with a bad direction", `{` + test + `, "counts": {"a1.missing_rows": {"worse": "sideways"}}}`, `not "sideways"`},
		{"count without direction", `{` + test + `, "counts": {"load.exports": {}}}`, ""},
		{"scalar without direction", `{` + test + `, "scalars": {"a4.peak_memory_bytes": {"min_change_percent": 50}}}`, `worse must be`},
		{"listed twice", `{` + test + `, "counts": {"a4.peak_memory_bytes": {}}, "scalars": {"a4.peak_memory_bytes": {"worse": "up", "min_change_percent": 50}}}`, "also listed under counts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules([]byte(tt.doc))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ParseRules: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("ParseRules = %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.json")
	doc := `{"test": {"method": "mann-whitney-u", "alpha": 0.01}, "distributions": {"samples.csv_latency_seconds": {"worse": "up", "min_change_percent": 5}}}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRules(path)
	if err != nil || r.Test.Alpha != 0.01 || len(r.Distributions) != 1 || len(r.Counts) != 0 {
		t.Errorf("LoadRules = %+v, %v; want the file's rules alone", r, err)
	}
	if _, err := LoadRules(filepath.Join(t.TempDir(), "absent.json")); err == nil {
		t.Error("LoadRules of a missing file: no error")
	}
}

func TestRuleJudge(t *testing.T) {
	up, down := Rule{Worse: Up, MinChangePercent: 200}, Rule{Worse: Down, MinChangePercent: 80}
	for _, tt := range []struct {
		rule      Rule
		base, cur float64
		want      Verdict
	}{
		{up, 1, 1, Same},
		{up, 1, 2.99, Same},
		{up, 1, 3, Regression},
		{up, 0.025, 0.209, Regression},
		{up, 3, 1.01, Same},
		{up, 3, 1, Improvement}, // the runs swapped would be a regression
		{down, 1, 0.21, Same},
		{down, 1, 0.2, Regression},
		{down, 106.9, 4.05, Regression},
		{down, 1, 4.9, Same},
		{down, 1, 5, Improvement},
		{Rule{Worse: Up}, 1, 1.0001, Regression}, // no minimum: any move the worse way
		{Rule{Worse: Down}, 1, 1.0001, Improvement},
	} {
		if got := tt.rule.judge(tt.base, tt.cur); got != tt.want {
			t.Errorf("%s: %v → %v judged %s, want %s", tt.rule, tt.base, tt.cur, got, tt.want)
		}
	}
}
