package evidence

import "time"

// Soak is what a soak (verify --soak) sampled while an open-model load ran at a constant rate, for
// the soak chart of EVIDENCE.html: one series per quantity, each with the slope fitted to it.
// Offsets are from Series.Start, as every other point of the Series.
type Soak struct {
	Start time.Duration `json:"start_ns"` // the soak's first arrival
	End   time.Duration `json:"end_ns"`   // its last sample
	// WarmUp is how long after Start the samples are left out of the fits (still drawn).
	WarmUp time.Duration `json:"warm_up_ns"`
	// Rate is the offered rate, exports per second.
	Rate float64 `json:"offered_per_second"`
	// Quantities are the series sampled: the exporter's memory from outside it, and what its
	// metrics expose (open file descriptors, goroutines, the Go heap).
	Quantities []SoakQuantity `json:"quantities"`
}

// SoakQuantity is one quantity sampled through the soak.
type SoakQuantity struct {
	Name  string `json:"name"`  // e.g. "memory", "open_fds"
	Label string `json:"label"` // for people: "anonymous memory (outside)"
	Unit  string `json:"unit"`  // "bytes", "fds", "goroutines"
	// Judged is true when the check judges this quantity's slope against a threshold.
	Judged bool `json:"judged"`
	// Missing says why there are no points: the target or its metrics do not expose the quantity.
	Missing string      `json:"missing,omitempty"`
	Points  []SoakPoint `json:"points,omitempty"`
	// PerHour is the fit against time (slope in units per hour), PerExport the fit against the
	// exports ended (units per export); nil when there were too few points after the warm-up.
	PerHour   *Fit `json:"per_hour,omitempty"`
	PerExport *Fit `json:"per_export,omitempty"`
}

// SoakPoint is one sample: when, how many exports of the soak had ended by then, and the value.
type SoakPoint struct {
	At      time.Duration `json:"at_ns"`
	Exports int64         `json:"exports"`
	Value   float64       `json:"value"`
}

// Fit is a straight line fitted to points: Value ≈ Intercept + Slope·x, x in the fit's own unit
// (hours since the soak's Start, or exports ended).
type Fit struct {
	Method    string  `json:"method"`
	Slope     float64 `json:"slope"`
	Intercept float64 `json:"intercept"`
	// Low and High bound the slope: the spread of the pairwise slopes the estimate is the median of
	// (see Method), for a reader to weigh the figure.
	Low  float64 `json:"slope_low"`
	High float64 `json:"slope_high"`
	// Residual is the median absolute residual around the line, in the quantity's unit.
	Residual float64 `json:"median_abs_residual"`
	Points   int     `json:"points"`
}
