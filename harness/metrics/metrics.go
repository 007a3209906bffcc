// Package metrics scrapes an exporter's /metrics, parses the Prometheus text format, computes
// per-series deltas between two scrapes, checks that the nine exporter metrics are declared with
// HELP and TYPE, and lints the exposition with promlint.
package metrics

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Family is what a scrape declared about one metric.
type Family struct {
	Type string // counter, gauge, histogram, summary, untyped
	Help string
}

// Snapshot is one parsed scrape. Samples are keyed by series: the metric name (with _count, _sum
// or _bucket for histograms and summaries) and its labels sorted by name, as in
// exporter_exports_total{format="csv",outcome="ok"}.
type Snapshot struct {
	Time     time.Time
	Raw      []byte // the exposition as received, for the evidence bundle and the lint
	Families map[string]Family
	Samples  Samples
}

// Scrape fetches and parses baseURL/metrics. token, when set, is sent as a bearer token.
func Scrape(ctx context.Context, hc *http.Client, baseURL, token string) (Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return Snapshot{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return Fetch(hc, req)
}

// Fetch sends req, a scrape already addressed and authorized, and parses the answer.
func Fetch(hc *http.Client, req *http.Request) (Snapshot, error) {
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Snapshot{}, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return Snapshot{}, fmt.Errorf("scrape: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Snapshot{}, fmt.Errorf("scrape: HTTP %d", resp.StatusCode)
	}
	return Parse(raw)
}

// Parse parses an exposition in the Prometheus text format.
func Parse(raw []byte) (Snapshot, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		return Snapshot{}, fmt.Errorf("parse metrics: %w", err)
	}
	s := Snapshot{Time: time.Now(), Raw: raw, Families: map[string]Family{}, Samples: Samples{}}
	for name, mf := range mfs {
		s.Families[name] = Family{Type: strings.ToLower(mf.GetType().String()), Help: mf.GetHelp()}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			add := func(suffix string, v float64, extra ...string) {
				l := labels
				if len(extra) == 2 {
					l = copyWith(labels, extra[0], extra[1])
				}
				s.Samples[Series(name+suffix, l)] = v
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				add("", m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add("", m.GetGauge().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				add("_count", float64(h.GetSampleCount()))
				add("_sum", h.GetSampleSum())
				for _, b := range h.GetBucket() {
					add("_bucket", float64(b.GetCumulativeCount()), "le", formatLe(b.GetUpperBound()))
				}
				add("_bucket", float64(h.GetSampleCount()), "le", "+Inf")
			case dto.MetricType_SUMMARY:
				add("_count", float64(m.GetSummary().GetSampleCount()))
				add("_sum", m.GetSummary().GetSampleSum())
			default:
				add("", m.GetUntyped().GetValue())
			}
		}
	}
	return s, nil
}

func formatLe(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func copyWith(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// Series is the canonical key of a series: name{k="v",...} with labels sorted, or the bare name.
func Series(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// Samples is a set of series values, as in a Snapshot or a Delta.
type Samples map[string]float64

// Delta returns after minus before for every series of after (a series new in after counts from
// zero).
func Delta(before, after Snapshot) Samples {
	d := Samples{}
	for k, v := range after.Samples {
		d[k] = v - before.Samples[k]
	}
	return d
}

// Get returns the value of one series; labels are name, value pairs. ok is false when the series
// does not exist.
func (s Samples) Get(name string, labels ...string) (v float64, ok bool) {
	v, ok = s[Series(name, pairs(labels))]
	return v, ok
}

// Sum adds every series of name whose labels include the given name, value pairs; n is how many
// series matched.
func (s Samples) Sum(name string, labels ...string) (sum float64, n int) {
	want := pairs(labels)
	for key, v := range s {
		sname, slabels := splitSeries(key)
		if sname != name {
			continue
		}
		match := true
		for k, lv := range want {
			match = match && slabels[k] == lv
		}
		if match {
			sum += v
			n++
		}
	}
	return sum, n
}

func pairs(labels []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		m[labels[i]] = labels[i+1]
	}
	return m
}

// splitSeries parses a key made by Series.
func splitSeries(key string) (string, map[string]string) {
	name, rest, ok := strings.Cut(key, "{")
	labels := map[string]string{}
	if !ok {
		return name, labels
	}
	rest = strings.TrimSuffix(rest, "}")
	for rest != "" {
		k, v, _ := strings.Cut(rest, "=")
		q, err := strconv.QuotedPrefix(v)
		if err != nil {
			break
		}
		labels[k], _ = strconv.Unquote(q)
		rest = strings.TrimPrefix(v[len(q):], ",")
	}
	return name, labels
}

// Required are the nine exporter metrics of docs/design.md with their types and the label values every
// one of them must have initialised before the first request.
var Required = []struct {
	Name   string
	Type   string
	Labels [][]string // each entry is one required series, as name, value pairs
}{
	{"exporter_exports_total", "counter", product("format", []string{"csv", "pdf"}, "outcome", []string{"ok", "client_error", "server_error", "aborted"})},
	{"exporter_export_rows_total", "counter", product("format", []string{"csv", "pdf"}, "", nil)},
	{"exporter_export_bytes_total", "counter", product("format", []string{"csv", "pdf"}, "", nil)},
	{"exporter_export_duration_seconds", "histogram", product("format", []string{"csv", "pdf"}, "", nil)},
	{"exporter_export_first_byte_seconds", "histogram", product("format", []string{"csv", "pdf"}, "", nil)},
	{"exporter_exports_in_flight", "gauge", product("format", []string{"csv", "pdf"}, "", nil)},
	{"exporter_requests_rejected_total", "counter", product("reason", []string{"rate_limited", "saturated", "too_large", "unauthorized"}, "", nil)},
	{"exporter_ingest_records_total", "counter", product("mode", []string{"single", "batch"}, "outcome", []string{"ok"})},
	{"exporter_store_records", "gauge", nil},
}

func product(k1 string, v1 []string, k2 string, v2 []string) [][]string {
	var out [][]string
	for _, a := range v1 {
		if k2 == "" {
			out = append(out, []string{k1, a})
			continue
		}
		for _, b := range v2 {
			out = append(out, []string{k1, a, k2, b})
		}
	}
	return out
}

// Missing lists what is wrong with the nine metrics in s, one line each: a metric absent, without
// HELP, of the wrong type, or without one of its initialised series. Use a scrape taken after a
// dataset exists: exporter_store_records has one series per dataset, so it is legitimately absent
// from an exporter that has none.
func Missing(s Snapshot) []string {
	var out []string
	for _, r := range Required {
		f, ok := s.Families[r.Name]
		switch {
		case !ok:
			out = append(out, r.Name+": not exposed")
			continue
		case f.Help == "":
			out = append(out, r.Name+": no HELP")
		case f.Type != r.Type:
			out = append(out, fmt.Sprintf("%s: TYPE %s (untyped when the TYPE line is missing), want %s", r.Name, f.Type, r.Type))
		}
		name := r.Name
		if r.Type == "histogram" {
			name += "_count"
		}
		for _, l := range r.Labels {
			if _, ok := s.Samples.Get(name, l...); !ok {
				out = append(out, fmt.Sprintf("%s: series %s not initialised", r.Name, Series(name, pairs(l))))
			}
		}
	}
	return out
}

// Lint runs promlint over the raw exposition and returns its problems, one line each.
func Lint(raw []byte) ([]string, error) {
	problems, err := promlint.New(bytes.NewReader(raw)).Lint()
	if err != nil {
		return nil, fmt.Errorf("lint: %w", err)
	}
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = p.Metric + ": " + p.Text
	}
	return out, nil
}

// WaitIdle polls /metrics until no export is in flight (exporter_exports_in_flight sums to zero),
// so a scrape taken afterwards sees every export finished and counted. It returns the last snapshot.
func WaitIdle(ctx context.Context, hc *http.Client, baseURL, token string) (Snapshot, error) {
	for {
		s, err := Scrape(ctx, hc, baseURL, token)
		if err == nil {
			if v, _ := s.Samples.Sum("exporter_exports_in_flight"); v == 0 {
				return s, nil
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("exports still in flight: %w", ctx.Err())
			}
			return s, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Renamed is s with each family named in names (as the service calls it) under the name it maps
// to (as the harness reads it): its samples, histogram and summary series (_count, _sum,
// _bucket) included. Raw stays as received.
func (s Snapshot) Renamed(names map[string]string) Snapshot {
	if len(names) == 0 {
		return s
	}
	out := Snapshot{Time: s.Time, Raw: s.Raw, Families: map[string]Family{}, Samples: Samples{}}
	rename := func(name string) string {
		if to, ok := names[name]; ok {
			return to
		}
		for _, suffix := range []string{"_count", "_sum", "_bucket"} {
			if to, ok := names[strings.TrimSuffix(name, suffix)]; ok && strings.HasSuffix(name, suffix) {
				return to + suffix
			}
		}
		return name
	}
	for name, f := range s.Families {
		out.Families[rename(name)] = f
	}
	for key, v := range s.Samples {
		name, labels := splitSeries(key)
		out.Samples[Series(rename(name), labels)] = v
	}
	return out
}
