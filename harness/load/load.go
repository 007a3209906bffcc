// Package load drives an exporter with bounded, fully verified load: a concurrent mix of CSV and
// PDF exports with exact latency percentiles and throughput, a burst over the rate limit, and a
// saturation probe over the export capacity. Every loop is bounded in count and time.
package load

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/harness/export"
)

// Config is one load run.
type Config struct {
	Client      *export.Client
	CSV         *export.Expected // what every CSV export must contain
	PDF         *export.Expected // what every PDF export must contain (may be nil when PDFShare is 0)
	Requests    int              // exports in total
	Concurrency int              // exports in flight (0: 4)
	PDFShare    float64          // fraction of the requests that are PDF, 0..1, spread evenly
	// PDFConcurrency caps the PDF exports in flight (0: no cap beyond Concurrency). Keep it below
	// the exporter's PDF capacity: an exporter frees its slot a moment after the client has the
	// last byte, so a client at exactly the capacity can race into a 503 and measure load shedding
	// instead of exports.
	PDFConcurrency int
	Timeout        time.Duration // per export (0: 2 minutes)
}

// Latencies are exact nearest-rank percentiles of a sample.
type Latencies struct {
	Count                   int
	P50, P90, P95, P99, Max time.Duration
}

// Percentiles computes Latencies from samples (nearest rank: the p-th percentile is the smallest
// sample with at least p% of the samples at or below it).
func Percentiles(samples []time.Duration) Latencies {
	s := slices.Clone(samples)
	slices.Sort(s)
	l := Latencies{Count: len(s)}
	if len(s) == 0 {
		return l
	}
	rank := func(p float64) time.Duration {
		return s[max(int(math.Ceil(p/100*float64(len(s))))-1, 0)]
	}
	l.P50, l.P90, l.P95, l.P99, l.Max = rank(50), rank(90), rank(95), rank(99), s[len(s)-1]
	return l
}

// FormatResult is the outcome of one format's share of the load.
type FormatResult struct {
	Requests  int
	OK        int       // exports complete and exactly right
	Latency   Latencies // of the OK exports, request to last byte
	FirstByte Latencies // of the OK exports
	Rows      int64     // rows of the OK exports
	Bytes     int64     // bytes of the OK exports
}

// Result is the outcome of Run.
type Result struct {
	Requests      int
	Wall          time.Duration // first request to last answer
	CSV, PDF      FormatResult
	RowsPerSecond float64 // rows of OK exports (both formats) per second of Wall
	MBPerSecond   float64 // MiB of OK exports (both formats) per second of Wall
	// CSVRowsPerSecond is the CSV rows of OK exports per second of Wall: the CSV throughput while
	// sharing the exporter with the PDF part of the mix.
	CSVRowsPerSecond float64
	Failed           int            // exports that were not OK
	Errors           map[string]int // failed exports by kind: status_<code>, transport, truncated, digest_mismatch, parse_error, wrong_rows
	Examples         []string       // the first few failures
	Counts           export.Counts
	CSVTotals        export.CSVTotals
	PDFTotals        export.PDFTotals
}

// Run drives cfg.Requests exports through cfg.Concurrency workers and verifies every response. It
// stops early when ctx ends; requests not sent by then count as transport failures.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Client == nil || cfg.CSV == nil || cfg.Requests <= 0 {
		return Result{}, fmt.Errorf("load: Client, CSV and Requests are required")
	}
	if cfg.PDFShare < 0 || cfg.PDFShare > 1 || (cfg.PDFShare > 0 && cfg.PDF == nil) {
		return Result{}, fmt.Errorf("load: PDFShare %v needs 0..1 and a PDF expectation", cfg.PDFShare)
	}
	conc := cfg.Concurrency
	if conc <= 0 {
		conc = 4
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	res := Result{Requests: cfg.Requests, Errors: map[string]int{}}
	var (
		mu                 sync.Mutex
		csvLat, pdfLat     []time.Duration
		csvFirst, pdfFirst []time.Duration
		jobs               = make(chan string)
		wg                 sync.WaitGroup
	)
	record := func(format, failure string, f export.Fetch, rows int, example string) {
		mu.Lock()
		defer mu.Unlock()
		fr := &res.CSV
		lat, first := &csvLat, &csvFirst
		if format == export.PDF {
			fr, lat, first = &res.PDF, &pdfLat, &pdfFirst
		}
		fr.Requests++
		if failure != "" {
			res.Failed++
			res.Errors[failure]++
			if len(res.Examples) < 10 {
				res.Examples = append(res.Examples, fmt.Sprintf("%s: %s: %s", format, failure, example))
			}
			return
		}
		fr.OK++
		fr.Rows += int64(rows)
		fr.Bytes += f.Bytes
		*lat = append(*lat, f.Latency)
		*first = append(*first, f.FirstByte)
	}
	var pdfSlots chan struct{}
	if cfg.PDFConcurrency > 0 {
		pdfSlots = make(chan struct{}, cfg.PDFConcurrency)
	}
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for format := range jobs {
				rctx, cancel := context.WithTimeout(ctx, timeout)
				if format == export.PDF {
					if pdfSlots != nil {
						pdfSlots <- struct{}{}
					}
					r := cfg.Client.PDF(rctx, cfg.PDF)
					if pdfSlots != nil {
						<-pdfSlots
					}
					mu.Lock()
					res.Counts.AddPDF(r)
					res.PDFTotals.Add(r)
					mu.Unlock()
					record(format, r.Failure(), r.Fetch, r.IDs, describe(r.Fetch, r.Examples))
				} else {
					r := cfg.Client.CSV(rctx, cfg.CSV)
					mu.Lock()
					res.Counts.AddCSV(r)
					res.CSVTotals.Add(r)
					mu.Unlock()
					record(format, r.Failure(), r.Fetch, r.Rows, describe(r.Fetch, r.Examples))
				}
				cancel()
			}
		})
	}
	sent := 0
feed:
	for i := range cfg.Requests {
		format := export.CSV
		if math.Floor(float64(i+1)*cfg.PDFShare) > math.Floor(float64(i)*cfg.PDFShare) {
			format = export.PDF
		}
		select {
		case jobs <- format:
			sent++
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.Wall = time.Since(start)
	if unsent := cfg.Requests - sent; unsent > 0 {
		res.Failed += unsent
		res.Errors["transport"] += unsent
		res.Examples = append(res.Examples, fmt.Sprintf("%d exports never sent: %v", unsent, ctx.Err()))
	}
	res.CSV.Latency, res.CSV.FirstByte = Percentiles(csvLat), Percentiles(csvFirst)
	res.PDF.Latency, res.PDF.FirstByte = Percentiles(pdfLat), Percentiles(pdfFirst)
	if s := res.Wall.Seconds(); s > 0 {
		res.RowsPerSecond = float64(res.CSV.Rows+res.PDF.Rows) / s
		res.MBPerSecond = float64(res.CSV.Bytes+res.PDF.Bytes) / (1 << 20) / s
		res.CSVRowsPerSecond = float64(res.CSV.Rows) / s
	}
	return res, nil
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
