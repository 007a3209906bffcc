package metrics

import (
	"bytes"
	"fmt"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// Sum adds up the scrapes of several exporters that serve one deployment (replicas behind a
// proxy) into the snapshot of the deployment as a whole, whose Raw is a valid exposition of the
// sums with every family's HELP and TYPE, so it can be checked and linted like one exporter's.
//
// Counters, histograms (count, sum and each bucket) and untyped values are summed series by
// series. Gauges are summed too (exports in flight, memory: the deployment's totals), except the
// families named in shared: gauges every replica reads from the store they share (such as
// exporter_store_records), which take the highest replica's value instead, since summing them
// would count the one store once per replica. A summary keeps its count and sum, summed, and
// drops its quantiles, which cannot be added. Histograms whose buckets differ between scrapes
// cannot be added either, and are an error.
func Sum(snaps []Snapshot, shared ...string) (Snapshot, error) {
	if len(snaps) == 0 {
		return Snapshot{}, fmt.Errorf("sum of no scrapes")
	}
	merged := map[string]*dto.MetricFamily{}
	byLabels := map[string]map[string]*dto.Metric{}
	var latest Snapshot
	for i, s := range snaps {
		if s.Time.After(latest.Time) {
			latest.Time = s.Time
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(bytes.NewReader(s.Raw))
		if err != nil {
			return Snapshot{}, fmt.Errorf("scrape %d: parse metrics: %w", i+1, err)
		}
		for name, mf := range mfs {
			into, ok := merged[name]
			if !ok {
				into = &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type}
				merged[name], byLabels[name] = into, map[string]*dto.Metric{}
			}
			if into.GetType() != mf.GetType() {
				return Snapshot{}, fmt.Errorf("scrape %d: %s is a %s, elsewhere a %s", i+1, name, mf.GetType(), into.GetType())
			}
			for _, m := range mf.GetMetric() {
				key := Series("", labelMap(m))
				have, ok := byLabels[name][key]
				if !ok {
					c := proto.Clone(m).(*dto.Metric)
					c.TimestampMs = nil
					if c.Summary != nil {
						c.Summary.Quantile = nil
					}
					byLabels[name][key] = c
					into.Metric = append(into.Metric, c)
					continue
				}
				if err := add(have, m, mf.GetType(), slices.Contains(shared, name)); err != nil {
					return Snapshot{}, fmt.Errorf("scrape %d: %s: %w", i+1, Series(name, labelMap(m)), err)
				}
			}
		}
	}
	var raw bytes.Buffer
	names := make([]string, 0, len(merged))
	for name := range merged {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if _, err := expfmt.MetricFamilyToText(&raw, merged[name]); err != nil {
			return Snapshot{}, fmt.Errorf("render %s: %w", name, err)
		}
	}
	s, err := Parse(raw.Bytes())
	if err != nil {
		return Snapshot{}, err
	}
	s.Time = latest.Time
	return s, nil
}

// add adds m into have, series of one family of type t.
func add(have, m *dto.Metric, t dto.MetricType, shared bool) error {
	switch t {
	case dto.MetricType_COUNTER:
		have.Counter.Value = proto.Float64(have.Counter.GetValue() + m.Counter.GetValue())
	case dto.MetricType_GAUGE:
		v := have.Gauge.GetValue() + m.Gauge.GetValue()
		if shared {
			v = max(have.Gauge.GetValue(), m.Gauge.GetValue())
		}
		have.Gauge.Value = proto.Float64(v)
	case dto.MetricType_HISTOGRAM:
		h, o := have.Histogram, m.Histogram
		if len(h.Bucket) != len(o.Bucket) {
			return fmt.Errorf("%d buckets, elsewhere %d", len(o.Bucket), len(h.Bucket))
		}
		for i, b := range o.Bucket {
			if b.GetUpperBound() != h.Bucket[i].GetUpperBound() {
				return fmt.Errorf("bucket le=%v, elsewhere le=%v", b.GetUpperBound(), h.Bucket[i].GetUpperBound())
			}
			h.Bucket[i].CumulativeCount = proto.Uint64(h.Bucket[i].GetCumulativeCount() + b.GetCumulativeCount())
		}
		h.SampleCount = proto.Uint64(h.GetSampleCount() + o.GetSampleCount())
		h.SampleSum = proto.Float64(h.GetSampleSum() + o.GetSampleSum())
	case dto.MetricType_SUMMARY:
		have.Summary.SampleCount = proto.Uint64(have.Summary.GetSampleCount() + m.Summary.GetSampleCount())
		have.Summary.SampleSum = proto.Float64(have.Summary.GetSampleSum() + m.Summary.GetSampleSum())
	default:
		have.Untyped.Value = proto.Float64(have.Untyped.GetValue() + m.Untyped.GetValue())
	}
	return nil
}

func labelMap(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, lp := range m.GetLabel() {
		l[lp.GetName()] = lp.GetValue()
	}
	return l
}
