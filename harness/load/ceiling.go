package load

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/exportatscale/exportatscale/harness/export"
)

// CeilingResult is the instrument's own ceiling: the same client, jobs and concurrency against an
// in-process loopback server that replays the bodies the exporter sent, as fast as it can. What
// the exporter measured is reported as a fraction of it; a fraction near 1 means the run measured
// the instrument, not the exporter.
type CeilingResult struct {
	Wall             time.Duration `json:"wall_ns"`
	RowsPerSecond    float64       `json:"rows_per_second"`
	MiBPerSecond     float64       `json:"mib_per_second"`
	CSVRowsPerSecond float64       `json:"csv_rows_per_second"`
	CSV              FormatResult  `json:"csv"` // latencies and streaming rates of the replay (rows from the exporter's run)
	PDF              FormatResult  `json:"pdf"`
	// Fraction is the exporter's throughput (MiB/s of OK exports) over the ceiling's, and
	// CSVStreamFraction its median CSV streaming rate over the replay's.
	Fraction          float64 `json:"fraction"`
	CSVStreamFraction float64 `json:"csv_stream_fraction"`
	// InstrumentBound is true when the exporter came within BoundFraction of the ceiling: the
	// client, not the exporter, set the pace, so the exporter's figures are lower bounds.
	InstrumentBound bool `json:"instrument_bound"`
	Failed          int  `json:"failed"` // replayed exports the client did not receive whole
}

// BoundFraction is how close to the ceiling an exporter's throughput must come for the run to be
// called bound by the instrument.
const BoundFraction = 0.8

// Ceiling serves replay (the exporter's answers, as Run captured them) from an in-process server
// on loopback and sends cfg's jobs with the same client at the same concurrency, reading each
// body as Run does. res is the exporter's result the ceiling is compared with.
func Ceiling(ctx context.Context, cfg Config, replay Replay, res Result) (CeilingResult, error) {
	if err := cfg.validate(); err != nil {
		return CeilingResult{}, err
	}
	client, stop, err := replayed(cfg.Client, replay)
	if err != nil {
		return CeilingResult{}, err
	}
	defer stop()
	cfg.Client = client
	cfg.Progress = nil // the load test's progress was the exporter's
	got, _, wall := fetchAll(ctx, cfg)

	rows := map[string]int{} // rows per path, from the exporter's verified run
	for _, s := range res.Samples {
		if s.Failure == "" {
			rows[s.Path] = s.Rows
		}
	}
	out := CeilingResult{Wall: wall}
	lat, first, rate := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for _, r := range got {
		if r == nil || !r.Complete {
			out.Failed++
			continue
		}
		r.Drop() // the replay's bodies are the exporter's; only the timings count
		fr := &out.CSV
		if r.Format == export.PDF {
			fr = &out.PDF
		}
		fr.Requests++
		fr.OK++
		fr.Bytes += r.Bytes
		fr.Rows += int64(rows[r.Path])
		s := Sample{Bytes: r.Bytes, FirstByte: r.FirstByte, Latency: r.Latency}
		lat[r.Format] = append(lat[r.Format], r.Latency.Seconds())
		first[r.Format] = append(first[r.Format], r.FirstByte.Seconds())
		if v, ok := s.StreamRate(); ok {
			rate[r.Format] = append(rate[r.Format], v)
		}
	}
	for f, fr := range map[string]*FormatResult{export.CSV: &out.CSV, export.PDF: &out.PDF} {
		fr.Latency, fr.FirstByte, fr.StreamRate = Percentiles(lat[f]), Percentiles(first[f]), Percentiles(rate[f])
	}
	if s := wall.Seconds(); s > 0 {
		out.RowsPerSecond = float64(out.CSV.Rows+out.PDF.Rows) / s
		out.MiBPerSecond = float64(out.CSV.Bytes+out.PDF.Bytes) / (1 << 20) / s
	}
	if s := span(got, export.CSV).Seconds(); s > 0 {
		out.CSVRowsPerSecond = float64(out.CSV.Rows) / s
	}
	if out.MiBPerSecond > 0 {
		out.Fraction = res.MiBPerSecond / out.MiBPerSecond
	}
	if p := out.CSV.StreamRate.P50; p > 0 {
		out.CSVStreamFraction = res.CSV.StreamRate.P50 / p
	}
	out.InstrumentBound = out.Fraction >= BoundFraction || out.CSVStreamFraction >= BoundFraction
	return out, nil
}

// replayed serves replay from an in-process server on loopback and returns c sending its export
// requests there, and how to stop the server.
func replayed(c *export.Client, replay Replay) (*export.Client, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("ceiling: %w", err)
	}
	srv := httptest.NewUnstartedServer(replay)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	rc := *c
	rc.API = rebased{c.API, l.Addr().String()}
	return &rc, srv.Close, nil
}

// OpenCeilingResult is the open model's own ceiling: how many exports per second the open driver
// itself can schedule, send, read whole and account for, with the same client, jobs and slots,
// when the server is the in-process replay and answers at once. A capacity found near it is the
// instrument's limit, not the exporter's.
type OpenCeilingResult struct {
	Offered          float64       `json:"offered_per_second"` // far above what the driver can do
	ExportsPerSecond float64       `json:"exports_per_second"` // complete answers per second of Elapsed
	MiBPerSecond     float64       `json:"mib_per_second"`
	Completed        int           `json:"completed"`
	Failed           int           `json:"failed"`  // replayed answers not received whole
	Dropped          int           `json:"dropped"` // arrivals the driver could not send within its LateBound
	Late             int           `json:"late"`
	Elapsed          time.Duration `json:"elapsed_ns"`
	TimerSlack       Quantiles     `json:"timer_slack_seconds"`
}

// OpenCeilingRate and OpenCeilingSpan are what the open ceiling offers: a rate no driver on one
// machine keeps up with, for long enough to measure, bounded by OpenCeilingArrivals.
const (
	OpenCeilingRate     = 2000.0
	OpenCeilingSpan     = time.Second
	OpenCeilingArrivals = 2000
)

// OpenCeiling runs cfg's jobs open-model against an in-process replay of the exporter's answers,
// offering OpenCeilingRate for OpenCeilingSpan through cfg's slots, and measures how many exports
// per second complete. The answers are not verified (they are the exporter's, verified already)
// and each body is dropped once read, so only the driver's own timed path is measured.
func OpenCeiling(ctx context.Context, cfg OpenConfig, replay Replay) (OpenCeilingResult, error) {
	if len(replay) == 0 {
		return OpenCeilingResult{}, fmt.Errorf("open ceiling: nothing captured to replay")
	}
	client, stop, err := replayed(cfg.Client, replay)
	if err != nil {
		return OpenCeilingResult{}, err
	}
	defer stop()
	cfg.Client, cfg.unverified = client, true
	cfg.Schedule, cfg.MaxArrivals = Constant(OpenCeilingRate, OpenCeilingSpan), OpenCeilingArrivals
	cfg.Bound = 0 // the schedule's own
	res, _, err := Open(ctx, cfg)
	if err != nil {
		return OpenCeilingResult{}, err
	}
	if res.Completed == 0 { // a ceiling of 0 would read as "unknown" and leave the ramp unbounded
		return OpenCeilingResult{}, fmt.Errorf("open ceiling: none of the %d replayed exports completed (%d failed)", res.Arrivals, res.Failed)
	}
	out := OpenCeilingResult{Offered: res.OfferedRate, Completed: res.Completed, Failed: res.Failed, Dropped: res.Dropped + res.Unsent,
		Late: res.Late, Elapsed: res.Elapsed, TimerSlack: res.TimerSlack}
	if s := res.Elapsed.Seconds(); s > 0 {
		out.ExportsPerSecond = float64(res.Completed) / s
		out.MiBPerSecond = float64(res.Bytes) / (1 << 20) / s
	}
	return out, nil
}

// Replay serves captured export answers by request path and query: status, header, body and
// trailers as the exporter sent them, the body in one write.
type Replay map[string]captured

type captured struct {
	status  int
	header  http.Header
	trailer http.Header
	body    []byte
}

// Capture keeps, for each path got holds, the first answer received whole: what Ceiling replays.
// Call it before the bodies are dropped by verification.
func Capture(got []*export.Received) Replay {
	rp := Replay{}
	for _, r := range got {
		if r == nil || !r.Complete {
			continue
		}
		if _, ok := rp[r.Path]; !ok {
			rp[r.Path] = captured{status: r.Status, header: r.Header.Clone(), trailer: r.Trailer.Clone(), body: r.Body()}
		}
	}
	return rp
}

// ServeHTTP answers a request as the exporter answered the same path and query.
func (rp Replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, ok := rp[r.URL.RequestURI()]
	if !ok {
		http.Error(w, "nothing captured for "+r.URL.RequestURI(), http.StatusNotFound)
		return
	}
	h := w.Header()
	for k, v := range c.header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Transfer-Encoding", "Connection", "Date", "Trailer":
		default:
			h[k] = v
		}
	}
	var announced []string
	for k := range c.trailer {
		announced = append(announced, k)
	}
	if len(announced) > 0 {
		h.Set("Trailer", strings.Join(announced, ", "))
	} else if len(c.header.Values("Content-Length")) > 0 {
		h.Set("Content-Length", c.header.Get("Content-Length"))
	}
	w.WriteHeader(c.status)
	_, _ = w.Write(c.body)
	for k, v := range c.trailer {
		h[k] = v
	}
}

// rebased sends an API's export requests to another host: the ceiling's replay server.
type rebased struct {
	export.API
	host string
}

func (r rebased) Export(ctx context.Context, format, dataset string, opt export.Options, columns []string) (*http.Request, error) {
	req, err := r.API.Export(ctx, format, dataset, opt, columns)
	if err == nil {
		req.URL.Scheme, req.URL.Host, req.Host = "http", r.host, r.host
	}
	return req, err
}
