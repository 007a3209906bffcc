package load

import (
	"math"
	"time"
)

// Schedule is when exports are meant to start, counted from the run's start, whatever the
// exporter answers: the arrivals of an open model.
type Schedule interface {
	// Offsets are the intended send times in order, at most max of them.
	Offsets(max int) []time.Duration
	// Span is the schedule's length: its offered rate is len(Offsets) over Span.
	Span() time.Duration
}

// Segment is a stretch of a schedule whose rate (exports per second) goes linearly from From to
// To over Duration; From == To holds a constant rate.
type Segment struct {
	From     float64       `json:"from_per_second"`
	To       float64       `json:"to_per_second"`
	Duration time.Duration `json:"duration_ns"`
}

// Segments is a Schedule made of consecutive segments. The arrivals are where the expected count
// of exports (the integral of the rate from the start) reaches 0, 1, 2, …: the first is at the
// start, and the fractional count left at a segment's end carries into the next.
type Segments []Segment

// Constant is rate exports per second for d.
func Constant(rate float64, d time.Duration) Segments {
	return Segments{{rate, rate, d}}
}

// Steps holds each of rates, in order, for each.
func Steps(rates []float64, each time.Duration) Segments {
	s := make(Segments, 0, len(rates))
	for _, r := range rates {
		s = append(s, Segment{r, r, each})
	}
	return s
}

// Ramp goes linearly from one rate to another over d.
func Ramp(from, to float64, d time.Duration) Segments {
	return Segments{{from, to, d}}
}

// Span is the sum of the segments' durations.
func (s Segments) Span() time.Duration {
	var d time.Duration
	for _, g := range s {
		d += max(g.Duration, 0)
	}
	return d
}

// Offsets are the arrivals of the schedule, at most max of them (none when max <= 0). Negative
// rates count as zero.
func (s Segments) Offsets(max int) []time.Duration {
	var out []time.Duration
	var base time.Duration // start of the current segment
	done := 0.0            // expected count at the start of the current segment
	for _, g := range s {
		if g.Duration <= 0 {
			continue
		}
		a, b, secs := math.Max(g.From, 0), math.Max(g.To, 0), g.Duration.Seconds()
		total := (a + b) / 2 * secs
		for k := math.Ceil(done); k < done+total && len(out) < max; k++ {
			t := arrival(a, b, secs, k-done)
			out = append(out, base+time.Duration(math.Min(t, secs)*float64(time.Second)))
		}
		base += g.Duration
		done += total
	}
	return out
}

// arrival is the time, in seconds from a segment's start, at which n exports are expected in a
// segment whose rate goes linearly from a to b over secs: the root of a·t + (b−a)·t²/(2·secs) = n.
func arrival(a, b, secs, n float64) float64 {
	if n <= 0 {
		return 0
	}
	slope := (b - a) / secs
	if math.Abs(slope) < 1e-12 {
		return n / a
	}
	return (-a + math.Sqrt(math.Max(a*a+2*slope*n, 0))) / slope
}
