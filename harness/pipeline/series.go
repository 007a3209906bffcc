package pipeline

import (
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/load"
)

// Series is what the Load step measured over time, for the charts of EVIDENCE.html: the load
// test's exports, the memory samples of every window it closed, and the answers of the burst and
// the saturation probe, each list at most evidence.MaxSeriesPoints long (thinned evenly). Every
// offset is from the moment Load began; an export's is its offset in the load test plus when the
// test was started, which is a little before its first request (goroutines starting). Nil before
// Load ran; a list the target or the run could not produce is empty.
func (r *Run) Series() *evidence.Series {
	if r.seriesStart.IsZero() {
		return nil
	}
	since := func(t time.Time) time.Duration { return t.Sub(r.seriesStart) }
	s := &evidence.Series{Start: r.seriesStart.UTC()}
	if r.load != nil {
		base := since(r.loadStart)
		for _, x := range r.load.Samples {
			rate, _ := x.StreamRate()
			s.Exports = append(s.Exports, evidence.ExportPoint{Format: x.Format, Offset: base + x.Offset, FirstByte: x.FirstByte,
				Latency: x.Latency, Bytes: x.Bytes, Rate: rate, OK: x.Failure == ""})
		}
	}
	for _, w := range r.windows {
		s.Windows = append(s.Windows, evidence.Span{Label: w.label, Start: since(w.Start), End: since(w.End)})
		for _, m := range w.Series {
			s.Memory = append(s.Memory, evidence.MemoryPoint{At: since(m.At), AnonBytes: m.AnonBytes, FileBytes: m.FileBytes})
		}
	}
	answers := func(probe string, start time.Time, as []load.Answer) {
		for _, a := range as {
			s.Answers = append(s.Answers, evidence.Answer{Probe: probe, At: since(start) + a.At, Status: a.Status})
		}
	}
	if !r.burst.Start.IsZero() {
		answers(evidence.ProbeBurst, r.burst.Start, r.burst.Answers)
	}
	if r.saturated != nil {
		answers(evidence.ProbeSaturation, r.saturated.Start, r.saturated.Answers)
	}
	s.Soak = r.soak
	s.Capacity = r.capacitySeries()
	s.Exports = evidence.ThinPoints(s.Exports, evidence.MaxSeriesPoints)
	s.Memory = evidence.ThinPoints(s.Memory, evidence.MaxSeriesPoints)
	s.Answers = evidence.ThinPoints(s.Answers, evidence.MaxSeriesPoints)
	return s
}
