package soak

import (
	"context"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
)

// Sample is one reading of every quantity a soak watches: when, how many exports had ended, and
// the values read (a quantity not read this time is absent, never zero).
type Sample struct {
	At      time.Time
	Exports int64
	Values  map[string]float64
}

// maxSamples bounds Every: at one sample a second, more than two hours.
const maxSamples = 10000

// Every calls read now and then every interval until ctx ends (at most maxSamples times), and
// returns the samples in order. read is given ctx and must return promptly when it ends.
func Every(ctx context.Context, interval time.Duration, read func(context.Context) Sample) []Sample {
	var out []Sample
	t := time.NewTicker(interval)
	defer t.Stop()
	for len(out) < maxSamples {
		s := read(ctx)
		if ctx.Err() != nil {
			return out // a read cut short is not a sample
		}
		out = append(out, s)
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
	}
	return out
}

// Interval is the sampling interval of a soak of d: a second, or longer for a soak long enough
// that a sample a second would be more than 1200 of them.
func Interval(d time.Duration) time.Duration {
	return max(time.Second, (d / 1200).Round(time.Second))
}

// WarmUp is how much of a soak of d its fits leave out: a fifth, at least 10 s and at most 10
// minutes. An exporter's memory rises while its heap reaches its working size and its pools and
// connections fill; that rise is real and bounded, and a fit that took it in would extrapolate it.
func WarmUp(d time.Duration) time.Duration {
	return min(max(d/5, 10*time.Second), 10*time.Minute)
}

// Quantity is q with the points of samples that hold q.Name, offsets from origin, and the two
// fits over those sampled at or after from: against time (slope per hour) and against the
// exports ended (slope per export). A fit that cannot be made (too few points, no export ended)
// is left nil. q.Missing is kept when no sample holds the quantity.
func Quantity(q evidence.SoakQuantity, samples []Sample, origin, from time.Time) evidence.SoakQuantity {
	var hours, exports, values []float64
	for _, s := range samples {
		v, ok := s.Values[q.Name]
		if !ok {
			continue
		}
		q.Points = append(q.Points, evidence.SoakPoint{At: s.At.Sub(origin), Exports: s.Exports, Value: v})
		if s.At.Before(from) {
			continue
		}
		hours = append(hours, s.At.Sub(from).Hours())
		exports = append(exports, float64(s.Exports))
		values = append(values, v)
	}
	if len(q.Points) > 0 {
		q.Missing = ""
	}
	q.Points = evidence.ThinPoints(q.Points, evidence.MaxSeriesPoints)
	if f, err := TheilSen(hours, values); err == nil {
		q.PerHour = &f
	}
	if f, err := TheilSen(exports, values); err == nil {
		q.PerExport = &f
	}
	return q
}
