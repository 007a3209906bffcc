package evidence

import "time"

// Capacity is the capacity check's ramp as the knee chart draws it: each step's offered and
// achieved rate and its p95 latency from the intended send time, the knee, and the instrument's
// own ceiling beside it.
type Capacity struct {
	Steps []CapacityStep `json:"steps"`
	// Knee is the index in Steps of the highest sustained step within the SLO; -1 when none held.
	Knee int `json:"knee"`
	// KneeExportsPerSecond is the knee's achieved rate (0 when none held); LowerBound is true when
	// no step above it broke the SLO, so the capacity is at least that.
	KneeExportsPerSecond float64 `json:"knee_exports_per_second"`
	LowerBound           bool    `json:"lower_bound,omitempty"`
	// CeilingExportsPerSecond is the open driver's own ceiling against the in-process replay (0:
	// not measured); no step offered more than load.BoundFraction of it.
	CeilingExportsPerSecond float64 `json:"ceiling_exports_per_second,omitempty"`
	// Stopped says why the ramp ended: "slo", "ceiling", "budget" or "context".
	Stopped string `json:"stopped"`
	// Deployment names what was measured when it is more than one exporter (the cluster target's
	// topology, in a line); "" for one.
	Deployment string `json:"deployment,omitempty"`
}

// CapacityStep is one step of the capacity ramp; offsets are from Series.Start.
type CapacityStep struct {
	Start time.Duration `json:"start_ns"` // the step's first arrival
	End   time.Duration `json:"end_ns"`   // the end of its schedule
	// Drained is when its last answer arrived (after End when a queue built up).
	Drained  time.Duration `json:"drained_ns"`
	Offered  float64       `json:"offered_per_second"`
	Achieved float64       `json:"achieved_per_second"`
	// P95 is the step's p95 latency from the intended send time, each format's; 0 where no export
	// of the format completed.
	CSVP95 float64 `json:"csv_p95_seconds"`
	PDFP95 float64 `json:"pdf_p95_seconds"`
	Held   bool    `json:"held"`
}
