package evidence

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"sync"
)

// defaultThresholds is the rule set a run is judged by unless a thresholds file says otherwise.
// It is data, not code, so that a change of threshold is a reviewable one-line diff and the rules
// can be recorded verbatim in every report.
//
//go:embed thresholds.json
var defaultThresholds []byte

// baselineRules are the rules a run is compared with a baseline run by (evidence/baseline.json):
// the statistical test, its α and the minimum effect sizes. Package evidence/compare parses and
// applies them; they are embedded here so that they sit, and change, next to the thresholds.
//
//go:embed baseline.json
var baselineRules []byte

// BaselineRules returns the embedded baseline.json, for package evidence/compare to parse.
func BaselineRules() []byte { return bytes.Clone(baselineRules) }

// LoadThresholds returns the rules to judge a run by: the embedded defaults (thresholds.json),
// overridden and extended by the JSON file at path when path is not empty. The file maps measure
// names to rules, e.g. {"a3.csv_p95_seconds": {"op": "<=", "value": 1.5, "unit": "s"}}; a rule
// with an unknown operator, a missing op or value, or an unknown field is an error, so a typo
// cannot silently loosen a threshold.
func LoadThresholds(path string) (map[string]Rule, error) {
	rules, err := defaultRules()
	if err != nil {
		return nil, err
	}
	rules = maps.Clone(rules)
	if path == "" {
		return rules, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read thresholds: %w", err)
	}
	override, err := parseThresholds(b)
	if err != nil {
		return nil, fmt.Errorf("thresholds %s: %w", path, err)
	}
	maps.Copy(rules, override)
	return rules, nil
}

// defaultRules parses the embedded defaults once; callers must not modify the map.
var defaultRules = sync.OnceValues(func() (map[string]Rule, error) {
	rules, err := parseThresholds(defaultThresholds)
	if err != nil {
		return nil, fmt.Errorf("embedded thresholds: %w", err)
	}
	return rules, nil
})

// DecodeStrict decodes b, one JSON value, into v: a field v does not have and anything after the
// value are errors, so that a typo in a rules file (thresholds, baseline rules) cannot silently
// loosen a rule. what names the document in the error about trailing data.
func DecodeStrict(b []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("trailing data after the %s object", what)
	}
	return nil
}

// parseThresholds decodes and validates one thresholds document.
func parseThresholds(b []byte) (map[string]Rule, error) {
	// Pointers tell a missing op or value apart from a zero one.
	var raw map[string]struct {
		Op    *string  `json:"op"`
		Value *float64 `json:"value"`
		Unit  string   `json:"unit"`
	}
	if err := DecodeStrict(b, &raw, "thresholds"); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, errors.New("thresholds must be a JSON object")
	}
	rules := make(map[string]Rule, len(raw))
	for name, r := range raw {
		switch {
		case name == "":
			return nil, errors.New("empty measure name")
		case r.Op == nil:
			return nil, fmt.Errorf("%s: missing op", name)
		case !validOp(*r.Op):
			return nil, fmt.Errorf("%s: unknown op %q (want one of <=, >=, ==, <, >)", name, *r.Op)
		case r.Value == nil:
			return nil, fmt.Errorf("%s: missing value", name)
		case math.IsNaN(*r.Value) || math.IsInf(*r.Value, 0):
			return nil, fmt.Errorf("%s: value is not finite", name)
		}
		rules[name] = Rule{Op: *r.Op, Value: *r.Value, Unit: r.Unit}
	}
	return rules, nil
}

func validOp(op string) bool {
	switch op {
	case "<=", ">=", "==", "<", ">":
		return true
	}
	return false
}
