package compare

import (
	"encoding/json"
	"time"
)

// Sample is one export of the load test as load-result.json records it: the fields of
// harness/load's Sample that a comparison reads. Reading the file rather than importing the load
// package keeps the evidence command free of the harness; a test holds the two to the same rule.
type Sample struct {
	Format    string        `json:"format"` // "csv" or "pdf"
	FirstByte time.Duration `json:"first_byte_ns"`
	Latency   time.Duration `json:"latency_ns"` // request sent to last body byte
	Bytes     int64         `json:"bytes"`
	Failure   string        `json:"failure,omitempty"` // "" when complete and exactly right
}

// minRateBytes is the smallest body whose streaming rate is measured (load.MinRateBytes).
const minRateBytes = 64 << 10

// StreamRate is the body's bytes per second from its first to its last byte, as
// load.Sample.StreamRate takes it: none for a failed export or a body too small to time.
func (s Sample) StreamRate() (bytesPerSecond float64, ok bool) {
	d := s.Latency - s.FirstByte
	if s.Failure != "" || s.Bytes < minRateBytes || d <= 0 {
		return 0, false
	}
	return float64(s.Bytes) / d.Seconds(), true
}

// ParseSamples reads the samples of a load-result.json.
func ParseSamples(loadResult []byte) ([]Sample, error) {
	var res struct {
		Samples []Sample `json:"samples"`
	}
	if err := json.Unmarshal(loadResult, &res); err != nil {
		return nil, err
	}
	return res.Samples, nil
}

// distribution is one per-export quantity of the load test, taken from every export that ended
// complete and exactly right, as the load package's own distributions are.
type distribution struct {
	name   string // samples.<key>_<unit>, as Rules name it
	key    string // what the baseline check's measures are named by: baseline.<key>_…
	label  string
	unit   string
	format string
	value  func(Sample) (float64, bool)
}

func latency(s Sample) (float64, bool)   { return s.Latency.Seconds(), true }
func firstByte(s Sample) (float64, bool) { return s.FirstByte.Seconds(), true }

// streamRateMiB is the sample's streaming rate in MiB/s.
func streamRateMiB(s Sample) (float64, bool) {
	v, ok := s.StreamRate()
	return v / (1 << 20), ok
}

// distributions are the distributions compared, in the order they are shown.
var distributions = []distribution{
	{"samples.csv_latency_seconds", "csv_latency", "CSV latency", "s", "csv", latency},
	{"samples.csv_first_byte_seconds", "csv_first_byte", "CSV first byte", "s", "csv", firstByte},
	{"samples.csv_stream_mib_per_second", "csv_stream", "CSV stream rate", "MiB/s", "csv", streamRateMiB},
	{"samples.pdf_latency_seconds", "pdf_latency", "PDF latency", "s", "pdf", latency},
	{"samples.pdf_first_byte_seconds", "pdf_first_byte", "PDF first byte", "s", "pdf", firstByte},
	{"samples.pdf_stream_mib_per_second", "pdf_stream", "PDF stream rate", "MiB/s", "pdf", streamRateMiB},
}

// Distributions returns the names of the distributions Rules may judge.
func Distributions() []string {
	names := make([]string, len(distributions))
	for i, d := range distributions {
		names[i] = d.name
	}
	return names
}

// values are d's values over samples: the OK exports of d's format that have one.
func (d distribution) values(samples []Sample) []float64 {
	var out []float64
	for _, s := range samples {
		if s.Format != d.format || s.Failure != "" {
			continue
		}
		if v, ok := d.value(s); ok {
			out = append(out, v)
		}
	}
	return out
}

// findDistribution returns the distribution of that name.
func findDistribution(name string) (distribution, bool) {
	for _, d := range distributions {
		if d.name == name {
			return d, true
		}
	}
	return distribution{}, false
}
