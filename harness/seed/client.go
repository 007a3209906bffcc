package seed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/exportatscale/exportatscale/harness/internal/ratelimit"
	"github.com/exportatscale/exportatscale/internal/ctxwait"
)

// Mode is how records travel: NDJSON batches or one JSON object per request.
type Mode string

// The two ingest modes of the API; they are also the mode label of exporter_ingest_records_total.
const (
	ModeBatch  Mode = "batch"
	ModeSingle Mode = "single"
)

// API builds the requests of the API a Client seeds, with its credentials (harness/api makes one
// from a profile).
type API interface {
	// CreateDataset is the request that declares dataset with schema.
	CreateDataset(ctx context.Context, dataset string, schema Schema) (*http.Request, error)
	// Ingest is the request that sends recs (one record in ModeSingle).
	Ingest(ctx context.Context, dataset string, schema Schema, mode Mode, recs []Record) (*http.Request, error)
	// Accepted checks that a successful ingest answer confirms all sent records.
	Accepted(body []byte, sent int) error
	// Authorize adds the API's credentials to a request.
	Authorize(req *http.Request)
	// Existed reports whether a successful create's status says the dataset was there already.
	Existed(status int) bool
}

// Loader is an API that takes records through a program of its own rather than requests (a
// profile's ingest command): Load runs it once for recs.
type Loader interface {
	Load(ctx context.Context, dataset string, schema Schema, recs []Record) error
}

// Client talks to one exporter's dataset and ingest API. The zero value is not usable: API is
// required. A Client is safe for concurrent use.
type Client struct {
	API  API
	HTTP *http.Client // nil: a client with a 60 s timeout and enough idle connections for Seed

	// MaxRetries bounds how often one request is retried after a 429 (0: 8). MaxRetryWait caps a
	// single Retry-After wait (0: 10 s), so a silly header cannot stall a run.
	MaxRetries   int
	MaxRetryWait time.Duration

	// Progress, when set, is called at most every 100 ms while Seed runs and once at the end.
	Progress func(Progress)
}

// Job is one seeding run.
type Job struct {
	Dataset     string
	Schema      Schema
	Seed        uint64 // recorded in the manifest; the records themselves are in Records
	Records     []Record
	Mode        Mode
	ChunkSize   int // batch mode: records per request (0: 1000)
	Concurrency int // requests in flight (0: 1 in batch mode, 8 in single mode)
}

// Progress is a snapshot of a running Seed.
type Progress struct {
	Done, Total      int
	Elapsed          time.Duration
	RecordsPerSecond float64
	ETA              time.Duration
}

// Manifest records what a Seed sent and the exporter accepted.
type Manifest struct {
	Dataset          string        `json:"dataset"`
	Mode             Mode          `json:"mode"`
	Seed             uint64        `json:"seed"`
	Rows             int           `json:"rows"` // records the exporter confirmed
	FirstID          int64         `json:"first_id"`
	LastID           int64         `json:"last_id"`
	SHA256           string        `json:"sha256"` // hex SHA-256 of the NDJSON of all records, one line each, in the given order
	Requests         int           `json:"requests"`
	RateLimited      int           `json:"rate_limited"` // 429 responses received (and retried)
	Started          time.Time     `json:"started"`
	Duration         time.Duration `json:"duration_ns"`
	RecordsPerSecond float64       `json:"records_per_second"`
}

// APIError is a non-success answer of the exporter, with its JSON error body when it had one.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// ErrRateLimited is wrapped by the error of a request that was still refused with 429 after every
// retry.
var ErrRateLimited = errors.New("rate limited")

// CreateDataset declares dataset with schema. It reports whether the dataset was created, or
// already existed (a success the API says so with, API.Existed); any other answer is an *APIError.
func (c *Client) CreateDataset(ctx context.Context, dataset string, schema Schema) (created bool, err error) {
	req, err := c.API.CreateDataset(ctx, dataset, schema)
	if err != nil {
		return false, fmt.Errorf("create dataset %s: %w", dataset, err)
	}
	resp, err := c.do(req)
	if err != nil {
		return false, fmt.Errorf("create dataset %s: %w", dataset, err)
	}
	if resp.status/100 == 2 {
		return !c.API.Existed(resp.status), nil
	}
	return false, fmt.Errorf("create dataset %s: %w", dataset, resp.apiError())
}

// Seed sends job.Records to the exporter and returns the manifest. On error the manifest still
// counts what the exporter confirmed before the failure, so a caller's bookkeeping stays honest.
func (c *Client) Seed(ctx context.Context, job Job) (Manifest, error) {
	m := Manifest{Dataset: job.Dataset, Mode: job.Mode, Seed: job.Seed, Started: time.Now()}
	if len(job.Records) > 0 {
		m.FirstID, m.LastID = job.Records[0].ID, job.Records[len(job.Records)-1].ID
	}
	sum, err := digest(job.Schema, job.Records)
	if err != nil {
		return m, err
	}
	m.SHA256 = sum
	units, conc, err := requestUnits(job)
	if err != nil {
		return m, err
	}
	if err := c.send(ctx, job, units, conc, len(job.Records), &m); err != nil {
		return m, fmt.Errorf("seed %s (%s): %w", job.Dataset, job.Mode, err)
	}
	return m, nil
}

// digest is the manifest's hex SHA-256 of the records: over each one's canonical JSON line
// (MarshalRecord), so it names the records whatever encoding the API takes them in.
func digest(schema Schema, records []Record) (string, error) {
	sum := sha256.New()
	for _, rec := range records {
		b, err := schema.MarshalRecord(rec)
		if err != nil {
			return "", err
		}
		sum.Write(b)
		sum.Write([]byte{'\n'})
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// requestUnits splits the records into those of each request, as job.Mode sends them, and
// returns how many requests go in flight: the defaults differ by mode, since a batch request
// carries a thousand times the records of a single one.
func requestUnits(job Job) (units [][]Record, conc int, err error) {
	lines := job.Records
	conc = job.Concurrency
	switch job.Mode {
	case ModeBatch:
		size := job.ChunkSize
		if size <= 0 {
			size = 1000
		}
		for i := 0; i < len(lines); i += size {
			units = append(units, lines[i:min(i+size, len(lines))])
		}
		if conc <= 0 {
			conc = 1
		}
	case ModeSingle:
		for i := range lines {
			units = append(units, lines[i:i+1])
		}
		if conc <= 0 {
			conc = 8
		}
	default:
		return nil, 0, fmt.Errorf("unknown mode %q (want %q or %q)", job.Mode, ModeSingle, ModeBatch)
	}
	return units, conc, nil
}

// send posts units with conc requests in flight and counts into m the requests, the 429s and
// the records the exporter confirmed. The first failure stops the feed, since the seed is wrong
// however the rest goes; send returns its cause, and m keeps what was confirmed until then.
func (c *Client) send(ctx context.Context, job Job, units [][]Record, conc, total int, m *Manifest) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex // guards m and progress
	progress := throttledProgress{fn: c.Progress}
	work := make(chan []Record)
	var wg sync.WaitGroup
	for range min(conc, max(len(units), 1)) {
		wg.Go(func() {
			for unit := range work {
				limited, err := c.post(ctx, job, unit)
				mu.Lock()
				m.Requests++
				m.RateLimited += limited
				if err == nil {
					m.Rows += len(unit)
				}
				progress.report(m, total, false)
				mu.Unlock()
				if err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for _, u := range units {
		select {
		case work <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	m.Duration = time.Since(m.Started)
	if s := m.Duration.Seconds(); s > 0 {
		m.RecordsPerSecond = float64(m.Rows) / s
	}
	progress.report(m, total, true)
	return context.Cause(ctx)
}

// throttledProgress calls fn at most every 100 ms, and once more at the end, so that a seed of
// small requests spends its time sending, not reporting.
type throttledProgress struct {
	fn   func(Progress)
	last time.Time
}

// report reports m's progress unless fn is nil or the last report was too recent; final
// reports in any case.
func (p *throttledProgress) report(m *Manifest, total int, final bool) {
	if p.fn == nil || (!final && time.Since(p.last) < 100*time.Millisecond) {
		return
	}
	p.last = time.Now()
	p.fn(progressOf(m.Rows, total, time.Since(m.Started)))
}

func progressOf(done, total int, elapsed time.Duration) Progress {
	p := Progress{Done: done, Total: total, Elapsed: elapsed}
	if s := elapsed.Seconds(); s > 0 && done > 0 {
		p.RecordsPerSecond = float64(done) / s
		p.ETA = time.Duration(float64(total-done) / p.RecordsPerSecond * float64(time.Second))
	}
	return p
}

// post sends one request's records, retrying after 429 as Retry-After says. It returns how many
// 429s it saw.
func (c *Client) post(ctx context.Context, job Job, unit []Record) (limited int, err error) {
	retries := c.MaxRetries
	if retries <= 0 {
		retries = 8
	}
	if l, ok := c.API.(Loader); ok {
		return 0, l.Load(ctx, job.Dataset, job.Schema, unit)
	}
	for attempt := 0; ; attempt++ {
		req, err := c.API.Ingest(ctx, job.Dataset, job.Schema, job.Mode, unit)
		if err != nil {
			return limited, err
		}
		resp, err := c.do(req)
		if err != nil {
			return limited, err
		}
		if resp.status == http.StatusTooManyRequests {
			limited++
			if attempt >= retries {
				return limited, fmt.Errorf("%w: still 429 after %d retries", ErrRateLimited, retries)
			}
			if !ctxwait.Sleep(ctx, c.retryWait(resp.header)) {
				return limited, context.Cause(ctx)
			}
			continue
		}
		if resp.status/100 != 2 {
			return limited, resp.apiError()
		}
		return limited, c.API.Accepted(resp.body, len(unit))
	}
}

// retryWait reads Retry-After (delay-seconds or an HTTP date); a missing or invalid one means one
// second. The wait is capped.
func (c *Client) retryWait(h http.Header) time.Duration {
	limit := c.MaxRetryWait
	if limit <= 0 {
		limit = 10 * time.Second
	}
	d, ok := ratelimit.RetryAfter(h.Get("Retry-After"))
	if !ok {
		d = time.Second
	}
	return min(d, limit)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// apiError decodes the contract's {"error":{"code","message"}} body if there is one.
func (r response) apiError() *APIError {
	e := &APIError{Status: r.status}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(r.body, &body) == nil {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	}
	if e.Code == "" && len(r.body) > 0 {
		e.Code, e.Message = "unparsed_body", truncate(r.body)
	}
	return e
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// defaultHTTP keeps enough idle connections for concurrent single-record seeding, so the run does
// not churn through ephemeral ports.
var defaultHTTP = sync.OnceValue(func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: 60 * time.Second, Transport: t}
})

func (c *Client) do(req *http.Request) (response, error) {
	c.API.Authorize(req)
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP()
	}
	resp, err := hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return response{}, fmt.Errorf("read answer: %w", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// SendBatch posts recs to dataset as one batch, once: a refusal is not retried, so a caller that
// stages faults sees every answer. It returns the status and the Retry-After the answer carried
// (0 when it had none); an error means no answer came.
func (c *Client) SendBatch(ctx context.Context, dataset string, schema Schema, recs []Record) (status int, retryAfter time.Duration, err error) {
	req, err := c.API.Ingest(ctx, dataset, schema, ModeBatch, recs)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.do(req)
	if err != nil {
		return 0, 0, err
	}
	if d, ok := ratelimit.RetryAfter(resp.header.Get("Retry-After")); ok {
		retryAfter = d
	}
	return resp.status, retryAfter, nil
}
