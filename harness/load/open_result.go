package load

import (
	"net/http"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/exportatscale/exportatscale/harness/export"
)

// Histograms record microseconds from 1 µs to histMax with three significant figures; a longer
// time is recorded as histMax.
const histMax = int64(10 * time.Minute / time.Microsecond)

// Quantiles summarizes an HdrHistogram of times, in seconds (to three significant figures).
type Quantiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

// OpenFormat is one format's share of an open run. The distributions are over the exports that
// arrived whole and exactly right (as Run's are); failed ones are counted in OpenResult.Failed.
type OpenFormat struct {
	Sent int `json:"sent"`
	OK   int `json:"ok"`
	// Latency is from the export's intended send time to its last body byte: what a user who
	// asked at that time waited, queueing in the client included (free of coordinated omission).
	Latency Quantiles `json:"latency_seconds"`
	// Service is from the actual send to the last body byte, FirstByte to the first response byte;
	// SendDelay from the intended to the actual send.
	Service   Quantiles `json:"service_seconds"`
	FirstByte Quantiles `json:"first_byte_seconds"`
	SendDelay Quantiles `json:"send_delay_seconds"`
	// FirstByteFromIntended is from the intended send time to the first response byte.
	FirstByteFromIntended Quantiles `json:"first_byte_from_intended_seconds"`
}

// OpenResult is the outcome of Open.
type OpenResult struct {
	Arrivals int           `json:"arrivals"` // exports the schedule offered
	Span     time.Duration `json:"span_ns"`  // the schedule's span
	// OfferedRate is Arrivals per second of Span, AchievedRate the exports complete and exactly
	// right per second of Span.
	OfferedRate  float64 `json:"offered_per_second"`
	AchievedRate float64 `json:"achieved_per_second"`
	Sent         int     `json:"sent"`
	Completed    int     `json:"completed"` // complete and exactly right
	Late         int     `json:"late"`      // sent more than Tolerance after their intended time
	Dropped      int     `json:"dropped"`   // not sent: no free slot within LateBound
	Unsent       int     `json:"unsent"`    // not sent: the run's Bound or ctx ended first
	Failed       int     `json:"failed"`    // sent, and not complete and exactly right
	// Saturated and RateLimited are the failed exports the exporter refused with 503 and 429.
	Saturated   int `json:"saturated"`
	RateLimited int `json:"rate_limited"`
	// Rows and Bytes are those of the exports complete and exactly right.
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// Elapsed is from the run's start to the last body byte received: the span and the drain.
	Elapsed time.Duration `json:"elapsed_ns"`
	// TimerSlack is how late the scheduler woke for each arrival it queued: if it is large, the
	// instrument, not the exporter, set the pace.
	TimerSlack Quantiles      `json:"timer_slack_seconds"`
	CSV        OpenFormat     `json:"csv"`
	PDF        OpenFormat     `json:"pdf"`
	Errors     map[string]int `json:"errors"` // failed exports by kind
	Examples   []string       `json:"examples,omitempty"`
	Tally      export.Tally   `json:"tally"`

	replay Replay
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, histMax, 3) }

// record adds d to h in microseconds, clamped into the histogram's range.
func record(h *hdrhistogram.Histogram, d time.Duration) {
	_ = h.RecordValue(min(max(d.Microseconds(), 0), histMax)) // in range: cannot fail
}

// quantiles reads h's percentiles in seconds.
func quantiles(h *hdrhistogram.Histogram) Quantiles {
	at := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) / 1e6 } // p in percent
	return Quantiles{Count: h.TotalCount(), P50: at(50), P90: at(90), P95: at(95), P99: at(99),
		P999: at(99.9), Max: float64(h.Max()) / 1e6}
}

// formatHists are one format's histograms while an open run is summarized.
type formatHists struct{ latency, service, firstByte, sendDelay, firstWait *hdrhistogram.Histogram }

func newFormatHists() formatHists {
	return formatHists{newHist(), newHist(), newHist(), newHist(), newHist()}
}

func (h formatHists) quantiles(fr FormatResult) OpenFormat {
	return OpenFormat{Sent: fr.Requests, OK: fr.OK, Latency: quantiles(h.latency), Service: quantiles(h.service),
		FirstByte: quantiles(h.firstByte), SendDelay: quantiles(h.sendDelay), FirstByteFromIntended: quantiles(h.firstWait)}
}

// summarize counts the arrivals' fates, verifies every answer off the clock (as Run does) and
// records the timed exports' times.
func summarize(cfg OpenConfig, offsets []time.Duration, outcomes []arrivalOutcome, slack *hdrhistogram.Histogram) OpenResult {
	res := OpenResult{Arrivals: len(offsets), Span: cfg.Schedule.Span(), TimerSlack: quantiles(slack)}
	var sent []*export.Received
	var index []int // outcomes index of each sent answer
	for i, o := range outcomes {
		if o.got != nil && !outcomes[0].intended.IsZero() {
			res.Elapsed = max(res.Elapsed, o.got.Start.Add(o.got.Latency).Sub(outcomes[0].intended))
		}
		switch {
		case o.dropped:
			res.Dropped++
		case o.got == nil:
			res.Unsent++
		default:
			sent = append(sent, o.got)
			index = append(index, i)
			if o.got.Start.Sub(o.intended) > cfg.Tolerance {
				res.Late++
			}
		}
	}
	res.Sent = len(sent)
	res.replay = Capture(sent)
	var v Result
	v.Errors = map[string]int{}
	if cfg.unverified {
		unverified(&v, sent)
	} else {
		verify(&v, sent) // one Sample per sent answer, in order
	}
	res.Failed, res.Errors, res.Examples, res.Tally = v.Failed, v.Errors, v.Examples, v.Tally
	res.Completed = v.CSV.OK + v.PDF.OK
	hists := map[string]formatHists{export.CSV: newFormatHists(), export.PDF: newFormatHists()}
	for k, s := range v.Samples {
		if s.Failure != "" && s.Failure != "content_headers" {
			continue
		}
		o, h := outcomes[index[k]], hists[s.Format]
		sendDelay := o.got.Start.Sub(o.intended)
		record(h.latency, sendDelay+s.Latency)
		record(h.service, s.Latency)
		record(h.firstByte, s.FirstByte)
		record(h.sendDelay, sendDelay)
		record(h.firstWait, sendDelay+s.FirstByte)
	}
	for _, s := range v.Samples {
		switch {
		case s.Failure == "":
			res.Rows += int64(s.Rows)
			res.Bytes += s.Bytes
		case s.Status == http.StatusServiceUnavailable:
			res.Saturated++
		case s.Status == http.StatusTooManyRequests:
			res.RateLimited++
		}
	}
	res.CSV, res.PDF = hists[export.CSV].quantiles(v.CSV), hists[export.PDF].quantiles(v.PDF)
	if secs := res.Span.Seconds(); secs > 0 {
		res.OfferedRate = float64(res.Arrivals) / secs
		res.AchievedRate = float64(res.Completed) / secs
	}
	return res
}

// unverified fills res from the fetches alone, one Sample per answer in order, as verify does for
// answers that need no verifying: a complete answer counts OK, any other failed.
func unverified(res *Result, got []*export.Received) {
	for _, r := range got {
		s := Sample{Format: r.Format, Path: r.Path, FirstByte: r.FirstByte, Latency: r.Latency, Bytes: r.Bytes, Status: r.Status}
		fr := &res.CSV
		if r.Format == export.PDF {
			fr = &res.PDF
		}
		fr.Requests++
		if !r.Complete {
			s.Failure = "incomplete"
		}
		res.Samples = append(res.Samples, s)
		if res.counted(s, fr, describe(r.Fetch, nil)) {
			fr.Bytes += s.Bytes
		}
	}
}
