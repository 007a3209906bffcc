// Package load drives an exporter with bounded load and measures it as an instrument should: on
// the timed path each worker only sends a request and reads the body as fast as the socket
// delivers it (hashing, counting and keeping it), and every response is verified in full
// afterwards, off the clock. The same client against an in-process replay of the captured bodies
// gives the instrument's own ceiling, measured in the same run (Ceiling). A burst over the rate
// limit and a saturation probe over the export capacity complete the package. Every loop is
// bounded in count and time.
package load

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/internal/ratelimit"
)

// Job is one export of a load mix.
type Job struct {
	Format   string           // export.CSV or export.PDF
	Expected *export.Expected // what it must contain (and so which query it sends)
}

// Plan is a mix of n exports: a pdfShare fraction of them PDF, spread evenly, and each format
// cycling through its expectations (one per combination of export options), so every option is
// exercised under load.
func Plan(n int, pdfShare float64, csv, pdf []*export.Expected) []Job {
	var jobs []Job
	var nc, np int
	for i := range n {
		if len(pdf) > 0 && math.Floor(float64(i+1)*pdfShare) > math.Floor(float64(i)*pdfShare) {
			jobs = append(jobs, Job{export.PDF, pdf[np%len(pdf)]})
			np++
			continue
		}
		if len(csv) > 0 {
			jobs = append(jobs, Job{export.CSV, csv[nc%len(csv)]})
			nc++
		}
	}
	return jobs
}

// Config is one load run.
type Config struct {
	Client      *export.Client
	Jobs        []Job // the exports, sent in this order
	Concurrency int   // exports in flight (0: 4)
	// PDFConcurrency caps the PDF exports in flight (0: no cap beyond Concurrency). Keep it below
	// the exporter's PDF capacity: an exporter frees its slot a moment after the client has the
	// last byte, so a client at exactly the capacity can race into a 503 and measure load shedding
	// instead of exports.
	PDFConcurrency int
	Timeout        time.Duration // per export (0: 2 minutes)
	// Progress, when set, is told after each export how many have been received of how many
	// planned. It is called from the workers, one call at a time; keep it quick.
	Progress func(done, planned int)
}

// orDefault is v, or def where v is not positive: a zero setting of a config asks for its default.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func (cfg Config) validate() error {
	if cfg.Client == nil || len(cfg.Jobs) == 0 {
		return fmt.Errorf("load: a Client and Jobs are required")
	}
	for i, j := range cfg.Jobs {
		if (j.Format != export.CSV && j.Format != export.PDF) || j.Expected == nil {
			return fmt.Errorf("load: job %d: format %q with an expectation is required", i, j.Format)
		}
	}
	return nil
}

// Sample is one export of the run as measured on the timed path, and its verdict from the
// verification afterwards.
type Sample struct {
	Format    string        `json:"format"`
	Path      string        `json:"path"`     // request path and query
	Offset    time.Duration `json:"start_ns"` // request sent, since the run started
	FirstByte time.Duration `json:"first_byte_ns"`
	Latency   time.Duration `json:"latency_ns"` // request sent to last body byte
	Bytes     int64         `json:"bytes"`
	Rows      int           `json:"rows"`
	Status    int           `json:"status"`
	Failure   string        `json:"failure,omitempty"` // "" when complete and exactly right
}

// StreamRate is the sample's body bytes per second from its first to its last byte; ok is false
// for a body too small to time (under MinRateBytes) or a failed export. An export whose only fault
// is its content headers (A2 judges them) delivered its body whole and exactly right: it is timed.
func (s Sample) StreamRate() (bytesPerSecond float64, ok bool) {
	d := s.Latency - s.FirstByte
	if (s.Failure != "" && s.Failure != "content_headers") || s.Bytes < MinRateBytes || d <= 0 {
		return 0, false
	}
	return float64(s.Bytes) / d.Seconds(), true
}

// MinRateBytes is the smallest body whose streaming rate is measured: below it the time from
// first to last byte is a few scheduler ticks, not a rate.
const MinRateBytes = 64 << 10

// Distribution is a sample's nearest-rank percentiles (the p-th percentile is the smallest value
// with at least p% of the samples at or below it).
type Distribution struct {
	Count int     `json:"count"`
	P5    float64 `json:"p5"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Percentiles computes the Distribution of values.
func Percentiles(values []float64) Distribution {
	s := slices.Clone(values)
	slices.Sort(s)
	d := Distribution{Count: len(s)}
	if len(s) == 0 {
		return d
	}
	rank := func(p float64) float64 { return s[max(int(math.Ceil(p/100*float64(len(s))))-1, 0)] }
	d.P5, d.P50, d.P95, d.P99, d.Max = rank(5), rank(50), rank(95), rank(99), s[len(s)-1]
	return d
}

// FormatResult is one format's share of the run. Its distributions are over the OK exports:
// latencies in seconds, streaming rates in bytes per second.
type FormatResult struct {
	Requests   int          `json:"requests"`
	OK         int          `json:"ok"` // exports complete and exactly right
	Rows       int64        `json:"rows"`
	Bytes      int64        `json:"bytes"`
	FirstByte  Distribution `json:"first_byte_seconds"` // request sent to first response byte
	Latency    Distribution `json:"latency_seconds"`    // request sent to last body byte
	StreamRate Distribution `json:"stream_bytes_per_second"`
}

// Result is the outcome of Run.
type Result struct {
	Requests int           `json:"requests"`
	Wall     time.Duration `json:"wall_ns"` // first request sent to last body byte
	CSV      FormatResult  `json:"csv"`
	PDF      FormatResult  `json:"pdf"`
	// RowsPerSecond and MiBPerSecond are the rows and MiB of OK exports (both formats) per second
	// of Wall; CSVRowsPerSecond the CSV rows alone per second of CSVSpan (first CSV request sent to
	// last CSV byte), while sharing the exporter with the PDFs.
	CSVSpan          time.Duration `json:"csv_span_ns"`
	RowsPerSecond    float64       `json:"rows_per_second"`
	MiBPerSecond     float64       `json:"mib_per_second"`
	CSVRowsPerSecond float64       `json:"csv_rows_per_second"`
	Failed           int           `json:"failed"` // exports that were not OK
	// RateLimitedRetries counts the 429s the load honoured: it sent the export again after their
	// Retry-After (see maxRetries).
	RateLimitedRetries int            `json:"rate_limited_retries"`
	Errors             map[string]int `json:"errors"` // failed exports by kind (export.CSVReport.Failure)
	Examples           []string       `json:"examples,omitempty"`
	Samples            []Sample       `json:"samples"`
	Tally              export.Tally   `json:"tally"`
	// Ceiling is the instrument's own ceiling, when measured (see Ceiling).
	Ceiling *CeilingResult `json:"ceiling,omitempty"`
}

// Run sends cfg.Jobs through cfg.Concurrency workers on the timed path, then verifies every
// response, and returns the measurements and one captured answer per query (for Ceiling). It
// stops early when ctx ends; jobs not sent by then count as transport failures.
func Run(ctx context.Context, cfg Config) (Result, Replay, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, nil, err
	}
	got, refused, wall := fetchAll(ctx, cfg)
	replay := Capture(got)
	res := Result{Requests: len(cfg.Jobs), Wall: wall, Errors: map[string]int{}}
	verify(&res, got)
	for _, fs := range refused {
		for _, f := range fs {
			res.Tally.AddRefused(f)
			res.RateLimitedRetries++
		}
	}
	return res, replay, nil
}

// A job answered 429 with a Retry-After of at most maxRetryWait is sent again after that wait, up
// to maxRetries times: the load test is a client that honours the rate limit, as the contract asks
// of every client, and a refusal it honoured is not a failed export. The refused answers still
// count (Tally.AddRefused: A5 judges their Retry-After, A6 finds them in the exporter's
// rejections), and the export's timings are those of its last attempt. A longer Retry-After, a
// 429 without one, or a fourth 429 fails the export.
const (
	maxRetries   = 3
	maxRetryWait = 2 * time.Second
)

// retryWait is how long to wait before sending again the job r answered, if it is to be sent again.
func retryWait(r *export.Received) (time.Duration, bool) {
	if r.Status != http.StatusTooManyRequests || r.Header == nil {
		return 0, false
	}
	d, ok := ratelimit.RetryAfter(r.Header.Get("Retry-After"))
	return d, ok && d <= maxRetryWait
}

// fetchAll is the timed path: each worker sends its next job and reads the answer to its end.
// With PDFConcurrency set, PDF jobs have their own PDFConcurrency workers and CSV jobs the rest, so
// a CSV export never waits behind a PDF one for a slot. A job not sent (ctx ended) has a nil entry.
func fetchAll(ctx context.Context, cfg Config) (got []*export.Received, refused [][]export.Fetch, wall time.Duration) {
	conc := orDefault(cfg.Concurrency, 4)
	timeout := orDefault(cfg.Timeout, 2*time.Minute)
	got = make([]*export.Received, len(cfg.Jobs))
	refused = make([][]export.Fetch, len(cfg.Jobs)) // the 429s a job was sent again after
	lanes, workers := splitLanes(conc, cfg.PDFConcurrency)
	var (
		wg     sync.WaitGroup
		doneMu sync.Mutex
		done   int
	)
	start := time.Now()
	for format, n := range workers {
		for range n {
			wg.Go(func() {
				for i := range lanes[format] {
					got[i], refused[i] = fetch(ctx, cfg.Client, cfg.Jobs[i], timeout)
					if cfg.Progress != nil {
						doneMu.Lock()
						done++
						cfg.Progress(done, len(cfg.Jobs))
						doneMu.Unlock()
					}
				}
			})
		}
	}
	feedLanes(ctx, cfg.Jobs, lanes, workers)
	wg.Wait()
	return got, refused, wallTime(start, got)
}

// splitLanes gives each format its lane of job indexes and its number of workers out of conc.
// Without pdfConcurrency the formats share one lane and its conc workers, and PDF has none of
// its own.
func splitLanes(conc, pdfConcurrency int) (lanes map[string]chan int, workers map[string]int) {
	lanes = map[string]chan int{export.CSV: make(chan int), export.PDF: make(chan int)}
	workers = map[string]int{export.CSV: conc, export.PDF: 0}
	if p := pdfConcurrency; p > 0 {
		workers[export.PDF] = min(p, conc)
		workers[export.CSV] = max(conc-p, 1)
	} else {
		lanes[export.PDF] = lanes[export.CSV]
	}
	return lanes, workers
}

// fetch sends job and reads its answer, sending it again after a 429 that retryWait allows.
// It returns the last answer and the refusals before it, which count apart (see maxRetries).
func fetch(ctx context.Context, c *export.Client, job Job, timeout time.Duration) (got *export.Received, refused []export.Fetch) {
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		got = c.Get(rctx, job.Format, job.Expected)
		cancel()
		wait, again := retryWait(got)
		if !again || attempt == maxRetries {
			return got, refused
		}
		refused = append(refused, got.Fetch)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
}

// feedLanes puts every job's index on its format's lane, in job order, and closes the lanes
// once all are taken or ctx ends. Each lane has a feeder of its own, so that a lane whose
// workers are busy does not hold up the other.
func feedLanes(ctx context.Context, jobs []Job, lanes map[string]chan int, workers map[string]int) {
	var sending sync.WaitGroup
	for format, lane := range lanes {
		if format == export.PDF && workers[export.PDF] == 0 {
			continue // shares the CSV lane
		}
		sending.Go(func() {
			defer close(lane)
			for i, j := range jobs {
				if workers[export.PDF] > 0 && j.Format != format {
					continue
				}
				select {
				case lane <- i:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	sending.Wait()
}

// wallTime is from start to the end of the last answer received, not to when the workers
// noticed: verification and bookkeeping after it are not the exporter's time.
func wallTime(start time.Time, got []*export.Received) time.Duration {
	var last time.Time
	for _, r := range got {
		if r != nil {
			last = maxTime(last, r.Start.Add(r.Latency))
		}
	}
	if last.IsZero() {
		return time.Since(start)
	}
	return last.Sub(start)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// verify judges every received export in full, off the clock, and fills res. Identical CSV bodies
// of one expectation (same bytes, same fields) verify identically, so each is verified once.
func verify(res *Result, got []*export.Received) {
	type key struct {
		exp                 *export.Expected
		sum, fields, status string
		complete            bool
	}
	csvSeen := map[key]export.CSVReport{}
	var start time.Time
	for _, r := range got {
		if r != nil && (start.IsZero() || r.Start.Before(start)) {
			start = r.Start
		}
	}
	var lat, first, rate = map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	unsent := 0
	for _, r := range got {
		if r == nil {
			unsent++
			continue
		}
		s := Sample{Format: r.Format, Path: r.Path, Offset: r.Start.Sub(start), FirstByte: r.FirstByte,
			Latency: r.Latency, Bytes: r.Bytes, Status: r.Status}
		var example string
		if r.Format == export.PDF {
			rep := r.PDF()
			res.Tally.Add(rep)
			s.Rows, s.Failure, example = rep.IDs, rep.Failure(), describe(rep.Fetch, rep.Examples)
		} else {
			k := key{r.Expected(), string(r.Sum()), fieldsOf(r.Fetch), fmt.Sprint(r.Status), r.Complete}
			rep, ok := csvSeen[k]
			if !ok || !r.Complete {
				rep = r.CSV()
				csvSeen[k] = rep
			}
			rep.Fetch = r.Fetch
			res.Tally.Add(rep)
			s.Rows, s.Failure, example = rep.Rows, rep.Failure(), describe(rep.Fetch, rep.Examples)
		}
		r.Drop()
		fr := &res.CSV
		if s.Format == export.PDF {
			fr = &res.PDF
		}
		fr.Requests++
		res.Samples = append(res.Samples, s)
		if !res.counted(s, fr, example) {
			continue
		}
		fr.Rows += int64(s.Rows)
		fr.Bytes += s.Bytes
		lat[s.Format] = append(lat[s.Format], s.Latency.Seconds())
		first[s.Format] = append(first[s.Format], s.FirstByte.Seconds())
		if v, ok := s.StreamRate(); ok {
			rate[s.Format] = append(rate[s.Format], v)
		}
	}
	if unsent > 0 {
		res.Failed += unsent
		res.Errors["transport"] += unsent
		res.Examples = append(res.Examples, fmt.Sprintf("%d exports never sent: the run ended first", unsent))
	}
	for f, fr := range map[string]*FormatResult{export.CSV: &res.CSV, export.PDF: &res.PDF} {
		fr.Latency, fr.FirstByte, fr.StreamRate = Percentiles(lat[f]), Percentiles(first[f]), Percentiles(rate[f])
	}
	if s := res.Wall.Seconds(); s > 0 {
		res.RowsPerSecond = float64(res.CSV.Rows+res.PDF.Rows) / s
		res.MiBPerSecond = float64(res.CSV.Bytes+res.PDF.Bytes) / (1 << 20) / s
	}
	res.CSVSpan = span(got, export.CSV)
	if s := res.CSVSpan.Seconds(); s > 0 {
		res.CSVRowsPerSecond = float64(res.CSV.Rows) / s
	}
}

// counted counts s as succeeded or failed and reports whether it is timed: a body that arrived
// whole and exactly right, whatever its content headers (A2 judges those).
func (res *Result) counted(s Sample, fr *FormatResult, example string) (timed bool) {
	if s.Failure == "" {
		fr.OK++
		return true
	}
	res.Failed++
	res.Errors[s.Failure]++
	if len(res.Examples) < 10 {
		res.Examples = append(res.Examples, fmt.Sprintf("%s %s: %s: %s", s.Format, s.Path, s.Failure, example))
	}
	return s.Failure == "content_headers"
}

// span is the time from the first request of format sent to the last body byte of format received.
func span(got []*export.Received, format string) time.Duration {
	var first, last time.Time
	for _, r := range got {
		if r == nil || r.Format != format {
			continue
		}
		if first.IsZero() || r.Start.Before(first) {
			first = r.Start
		}
		last = maxTime(last, r.Start.Add(r.Latency))
	}
	return last.Sub(first)
}

// fieldsOf is what a CSV verification reads besides the body: the content headers and the
// integrity fields.
func fieldsOf(f export.Fetch) string {
	var b strings.Builder
	for _, k := range []string{"Content-Type", "Content-Disposition", "Content-Digest", "Export-Rows"} {
		b.WriteString(f.Header.Get(k) + "\x00" + f.Trailer.Get(k) + "\x00")
	}
	return b.String()
}

func describe(f export.Fetch, examples []string) string {
	switch {
	case f.Err != "":
		return f.Err
	case f.Status != 200:
		return strings.TrimSpace(fmt.Sprintf("HTTP %d %s", f.Status, f.Body))
	case len(examples) > 0:
		return examples[0]
	}
	return "?"
}
