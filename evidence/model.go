package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// SchemaVersion is the version of the evidence.json schema. Bump it on any incompatible change;
// an optional field added with omitempty (a report without it reads and writes as before) is not
// one: Report.Profile, Check.Reason, Measure.NotApplicable and Measure.Waived came that way.
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
	// StatusNotApplicable: the API the run judged lacks what the check needs (its profile says
	// so), Check.Reason says why. Such a check is not required; if it is, it counts as not run.
	// Evidence of a defect still makes it failed (see Check.Outcome).
	StatusNotApplicable Status = "not_applicable"
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
	// NotApplicable, when set, says why the measure cannot apply to the API the run judged: it
	// has no value (Value is 0 and means nothing), keeps the rule it would have been judged by, if
	// any, and never fails (Judgement holds, so Pass is true). See NotApplicableMeasure.
	NotApplicable string `json:"not_applicable,omitempty"`
	// Waived, when set, says why the run's profile waives the measure: it keeps its value and rule,
	// Judgement still says whether it holds (and Pass records that), but it does not fail its
	// check (Fails, Check.Outcome, NewCheck). A waived measure is shown as waived, never passed.
	Waived string `json:"waived,omitempty"`
}

// measureJSON is Measure as JSON, with a Value that may also be a string. Its Name and Value
// come first, as in Measure, and stand for the embedded ones; the other fields are Measure's own,
// in its order.
type measureJSON struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
	plainMeasure
}

// plainMeasure is Measure without its JSON methods.
type plainMeasure Measure

// MarshalJSON encodes Value as a JSON number, or, because JSON has no NaN or infinity, as the
// string "NaN", "+Inf" or "-Inf": a measurement that could not be taken must still be recorded.
func (m Measure) MarshalJSON() ([]byte, error) {
	return marshalUnescaped(measureJSON{m.Name, jsonFloat(m.Value), plainMeasure(m)})
}

// UnmarshalJSON accepts what MarshalJSON writes.
func (m *Measure) UnmarshalJSON(b []byte) error {
	var aux measureJSON
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*m = Measure(aux.plainMeasure)
	m.Name = aux.Name
	v, err := parseJSONFloat(aux.Value)
	if err != nil {
		return fmt.Errorf("measure %q: %w", m.Name, err)
	}
	m.Value = v
	return nil
}

// marshalUnescaped is json.Marshal without HTML escaping, which keeps "<=" readable: the caller's
// encoder cannot undo escaping done inside a MarshalJSON.
func marshalUnescaped(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

// Check is one required check of the run (A1..A6, and the steps seed/smoke/load).
type Check struct {
	ID     string `json:"id"`    // "A1", "smoke", ...
	Title  string `json:"title"` // "complete", ...
	Status Status `json:"status"`
	// Reason says why a check of StatusNotApplicable does not apply to the API; empty otherwise.
	// It is not a failure line: Failures on such a check are evidence of a defect, and fail it.
	Reason   string    `json:"reason,omitempty"`
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
	Image         string `json:"image,omitempty"` // the image reference judged (image target)
	GitCommit     string `json:"git_commit"`
	GitDirty      bool   `json:"git_dirty"`
	GoVersion     string `json:"go_version"`
	DockerVersion string `json:"docker_version,omitempty"`
	Machine       string `json:"machine"` // OS/arch, CPUs, memory
	Note          string `json:"note,omitempty"`
	// Topology describes a deployment of several exporters behind a proxy (the cluster target);
	// nil for one exporter.
	Topology *Topology `json:"topology,omitempty"`
}

// Topology is a deployment of exporter replicas behind a front proxy over one database.
type Topology struct {
	Proxy    string         `json:"proxy"`    // kind and version, "HAProxy 2.6.12-1+deb12u4"
	Database string         `json:"database"` // kind and version, "PostgreSQL 15.18"
	Replicas []ReplicaShare `json:"replicas"`
}

// ReplicaShare is one replica and its share of the run's exports.
type ReplicaShare struct {
	Name string `json:"name"`
	URL  string `json:"url"` // the replica's own, bypassing the proxy
	// Exports is how many exports the replica answered between the run's first and last metric
	// scrapes (its exporter_exports_total delta, every outcome); -1 when it was not measured.
	Exports int `json:"exports"`
}

// Report is the one model every renderer reads.
type Report struct {
	SchemaVersion string  `json:"schema_version"`
	RunID         string  `json:"run_id"`
	Verdict       Verdict `json:"verdict"`
	// Profile names the profile of the export API the run was driven by; "" for none (this
	// repository's own v1 API, judged as it always was).
	Profile     string          `json:"profile,omitempty"`
	Started     time.Time       `json:"started"`
	Finished    time.Time       `json:"finished"`
	Environment Environment     `json:"environment"`
	Thresholds  map[string]Rule `json:"thresholds"`
	Required    []string        `json:"required"` // check IDs that must pass for GREEN
	Checks      []Check         `json:"checks"`
	Monitoring  []Artifact      `json:"monitoring"` // alert rules and dashboards checked against
	Artifacts   []Artifact      `json:"artifacts"`  // every other file of the bundle
	// Series is what the run measured over time, for the charts; nil when no step recorded any.
	Series *Series `json:"series,omitempty"`
	// Baseline compares this run with a baseline run, measure by measure; empty when not compared.
	Baseline []Delta `json:"baseline,omitempty"`
	// AB is the regression check's same-run A/B comparison, when a compare target was given.
	AB *AB `json:"ab,omitempty"`
}

// MaxSeriesPoints bounds each list of a Series: a producer thins a longer one (ThinPoints) so
// evidence.json and EVIDENCE.html stay small whatever the length of the run.
const MaxSeriesPoints = 2000

// Series is what the run measured over time, for the charts of EVIDENCE.html. Every point is an
// offset from Start, so the charts of one run share a timeline. A renderer draws what is there
// and says what is not; it never fills a gap.
type Series struct {
	// Start is the origin of every offset below (the pipeline: when its load step began).
	Start time.Time `json:"start"`
	// Exports are the load test's exports, one point each, in the order they were sent.
	Exports []ExportPoint `json:"exports,omitempty"`
	// Memory are the exporter's memory samples, in time order, across every window.
	Memory []MemoryPoint `json:"memory,omitempty"`
	// Windows are the memory windows the samples were taken in (the spans A4 compares).
	Windows []Span `json:"memory_windows,omitempty"`
	// Answers are the answers of the burst over the rate limit and of the saturation probe.
	Answers []Answer `json:"answers,omitempty"`
	// Soak is what a soak sampled (verify --soak); nil when the run had none.
	Soak *Soak `json:"soak,omitempty"`
	// Capacity is the capacity check's ramp; nil when it did not run.
	Capacity *Capacity `json:"capacity,omitempty"`
}

// ExportPoint is one export of the load test as measured on the timed path.
type ExportPoint struct {
	Format    string        `json:"format"`   // "csv" or "pdf"
	Offset    time.Duration `json:"start_ns"` // request sent
	FirstByte time.Duration `json:"first_byte_ns"`
	Latency   time.Duration `json:"latency_ns"` // request sent to last body byte
	Bytes     int64         `json:"bytes"`
	// Rate is the body bytes per second from first to last byte, 0 where the body was too small
	// to time or the export failed (the load package's rule).
	Rate float64 `json:"stream_bytes_per_second,omitempty"`
	OK   bool    `json:"ok"` // complete and exactly right
}

// MemoryPoint is one memory sample of the exporter, measured from outside it.
type MemoryPoint struct {
	At        time.Duration `json:"at_ns"`
	AnonBytes uint64        `json:"anon_bytes"` // judged (A4)
	FileBytes uint64        `json:"file_bytes"` // file-backed, for information
}

// Span is a named stretch of the run's timeline, such as a memory window.
type Span struct {
	Label string        `json:"label"`
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
}

// Answer is one answer of a probe: its HTTP status and when its header arrived.
type Answer struct {
	Probe  string        `json:"probe"` // ProbeBurst or ProbeSaturation
	At     time.Duration `json:"at_ns"`
	Status int           `json:"status"` // 0: no answer (a transport error)
}

// The probes whose answers a Series records.
const (
	ProbeBurst      = "burst"
	ProbeSaturation = "saturation"
)

// ThinPoints returns s with at most max points: every k-th one, from the first, for the smallest
// k that fits, so the points left are spread evenly over the run. max <= 0 means no bound.
func ThinPoints[T any](s []T, max int) []T {
	if max <= 0 || len(s) <= max {
		return s
	}
	k := (len(s) + max - 1) / max
	out := make([]T, 0, max)
	for i := 0; i < len(s); i += k {
		out = append(out, s[i])
	}
	return out
}

// Delta is one measure of this run compared with the same measure of a baseline run.
type Delta struct {
	Measure string  `json:"measure"`
	Unit    string  `json:"unit,omitempty"`
	Base    float64 `json:"base"`
	New     float64 `json:"new"`
	Delta   float64 `json:"delta"`   // New - Base, or as the comparison defines it
	Verdict string  `json:"verdict"` // the comparison's judgement, e.g. "better", "worse", "same"
	Note    string  `json:"note,omitempty"`
}

// deltaJSON is Delta as JSON, with values that may be strings, as measureJSON is: the fields up to
// Delta's last value, in its order, stand for the embedded ones; the rest are Delta's own.
type deltaJSON struct {
	Measure string          `json:"measure"`
	Unit    string          `json:"unit,omitempty"`
	Base    json.RawMessage `json:"base"`
	New     json.RawMessage `json:"new"`
	Delta   json.RawMessage `json:"delta"`
	plainDelta
}

// plainDelta is Delta without its JSON methods.
type plainDelta Delta

// MarshalJSON encodes a non-finite value (a relative change from 0, a baseline that lacks the
// measure) as the string "NaN", "+Inf" or "-Inf", as Measure does.
func (d Delta) MarshalJSON() ([]byte, error) {
	return marshalUnescaped(deltaJSON{d.Measure, d.Unit, jsonFloat(d.Base), jsonFloat(d.New), jsonFloat(d.Delta), plainDelta(d)})
}

// UnmarshalJSON accepts what MarshalJSON writes.
func (d *Delta) UnmarshalJSON(b []byte) error {
	var aux deltaJSON
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*d = Delta(aux.plainDelta)
	d.Measure, d.Unit = aux.Measure, aux.Unit
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		v    *float64
	}{{"base", aux.Base, &d.Base}, {"new", aux.New, &d.New}, {"delta", aux.Delta, &d.Delta}} {
		v, err := parseJSONFloat(f.raw)
		if err != nil {
			return fmt.Errorf("delta %q: %s: %w", d.Measure, f.name, err)
		}
		*f.v = v
	}
	return nil
}

// jsonFloat is v as a JSON number, or as a quoted "NaN", "+Inf" or "-Inf".
func jsonFloat(v float64) json.RawMessage {
	s := formatFloat(v)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		s = strconv.Quote(s)
	}
	return json.RawMessage(s)
}

// parseJSONFloat reads what jsonFloat writes.
func parseJSONFloat(raw json.RawMessage) (float64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, errors.New("missing value")
	}
	if raw[0] != '"' {
		var v float64
		err := json.Unmarshal(raw, &v)
		return v, err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, err
	}
	switch s {
	case "NaN", "+Inf", "-Inf":
		return strconv.ParseFloat(s, 64)
	}
	return 0, fmt.Errorf("value %q is not a number", s)
}
