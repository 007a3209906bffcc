package evidence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// SchemaVersion is the version of the evidence.json schema. Bump it on any incompatible change.
const SchemaVersion = "exportatscale.evidence/v1"

// Verdict is the outcome of a whole run.
type Verdict string

// The three verdicts. Exit codes follow them: 0, 1, 2.
const (
	Green  Verdict = "GREEN"
	Red    Verdict = "RED"
	NotRun Verdict = "NOT RUN"
)

// Status is the state of one check after the run.
type Status string

// Check states. Only StatusPassed counts towards GREEN.
const (
	StatusPassed  Status = "passed"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped" // skipped, pending, interrupted or never reached
	StatusNotRun  Status = "not_run" // required but absent from the run
)

// Rule is one threshold, kept as data: the measured value must satisfy `Value Op Rule.Value`.
type Rule struct {
	Op    string  `json:"op"` // "<=", ">=", "==", "<", ">"
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// Holds reports whether v satisfies the rule. Comparison is exact (no epsilon), so "== 0" holds
// only for 0; a NaN never satisfies any rule, and an unknown operator never holds.
func (r Rule) Holds(v float64) bool {
	switch r.Op {
	case "<=":
		return v <= r.Value
	case ">=":
		return v >= r.Value
	case "==":
		return v == r.Value
	case "<":
		return v < r.Value
	case ">":
		return v > r.Value
	}
	return false
}

// String renders the rule as "op value unit", e.g. "<= 2 s".
func (r Rule) String() string {
	return r.Op + " " + withUnit(r.Value, r.Unit)
}

// Measure is one measured value, with the rule it was judged by (nil: informational only).
type Measure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
	Rule  *Rule   `json:"rule,omitempty"`
	Pass  bool    `json:"pass"`
	// Note says why a measure failed for a reason other than its value, e.g. a unit mismatch.
	Note string `json:"note,omitempty"`
}

// measureJSON mirrors Measure field for field, with a Value that may also be a string.
type measureJSON struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
	Unit  string          `json:"unit,omitempty"`
	Rule  *Rule           `json:"rule,omitempty"`
	Pass  bool            `json:"pass"`
	Note  string          `json:"note,omitempty"`
}

// MarshalJSON encodes Value as a JSON number, or, because JSON has no NaN or infinity, as the
// string "NaN", "+Inf" or "-Inf": a measurement that could not be taken must still be recorded.
func (m Measure) MarshalJSON() ([]byte, error) {
	v := formatFloat(m.Value)
	if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
		v = strconv.Quote(v)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "<=" readable; the caller's encoder cannot undo escaping
	err := enc.Encode(measureJSON{m.Name, json.RawMessage(v), m.Unit, m.Rule, m.Pass, m.Note})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

// UnmarshalJSON accepts what MarshalJSON writes.
func (m *Measure) UnmarshalJSON(b []byte) error {
	var aux measureJSON
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*m = Measure{Name: aux.Name, Unit: aux.Unit, Rule: aux.Rule, Pass: aux.Pass, Note: aux.Note}
	if len(aux.Value) == 0 || string(aux.Value) == "null" {
		return fmt.Errorf("measure %q: missing value", m.Name)
	}
	if aux.Value[0] == '"' {
		var s string
		if err := json.Unmarshal(aux.Value, &s); err != nil {
			return err
		}
		switch s {
		case "NaN", "+Inf", "-Inf":
			m.Value, _ = strconv.ParseFloat(s, 64)
			return nil
		}
		return fmt.Errorf("measure %q: value %q is not a number", m.Name, s)
	}
	return json.Unmarshal(aux.Value, &m.Value)
}

// Check is one required check of the run (A1..A6, and the steps seed/smoke/load).
type Check struct {
	ID       string    `json:"id"`    // "A1", "smoke", ...
	Title    string    `json:"title"` // "complete", ...
	Status   Status    `json:"status"`
	Measures []Measure `json:"measures,omitempty"`
	Failures []string  `json:"failures,omitempty"` // why it failed, one line each
	// Notes qualify the measures whatever the status, e.g. that a run was bound by the instrument.
	Notes    []string      `json:"notes,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Artifact is one file of the evidence bundle or one input it was checked against.
type Artifact struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// Environment records where and against what the run happened.
type Environment struct {
	Target        string `json:"target"` // container | process | url
	TargetURL     string `json:"target_url,omitempty"`
	ImageDigest   string `json:"image_digest,omitempty"`
	GitCommit     string `json:"git_commit"`
	GitDirty      bool   `json:"git_dirty"`
	GoVersion     string `json:"go_version"`
	DockerVersion string `json:"docker_version,omitempty"`
	Machine       string `json:"machine"` // OS/arch, CPUs, memory
	Note          string `json:"note,omitempty"`
}

// Report is the one model every renderer reads.
type Report struct {
	SchemaVersion string          `json:"schema_version"`
	RunID         string          `json:"run_id"`
	Verdict       Verdict         `json:"verdict"`
	Started       time.Time       `json:"started"`
	Finished      time.Time       `json:"finished"`
	Environment   Environment     `json:"environment"`
	Thresholds    map[string]Rule `json:"thresholds"`
	Required      []string        `json:"required"` // check IDs that must pass for GREEN
	Checks        []Check         `json:"checks"`
	Monitoring    []Artifact      `json:"monitoring"` // alert rules and dashboards checked against
	Artifacts     []Artifact      `json:"artifacts"`  // every other file of the bundle
}
