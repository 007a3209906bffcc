package exporter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// testSchema declares one column of every type, plus a second string column for free text.
const testSchema = `{"columns":[{"name":"symbol","type":"string"},{"name":"qty","type":"int"},` +
	`{"name":"price","type":"decimal"},{"name":"ts","type":"timestamp"},{"name":"open","type":"bool"},` +
	`{"name":"note","type":"string"}]}`

// testHeader is the CSV header of testSchema.
var testHeader = []string{"id", "symbol", "qty", "price", "ts", "open", "note"}

// testRecord is one record of testSchema. TS is given in canonical UTC form, so the expected export
// text of every field is the field itself.
type testRecord struct {
	ID     uint64
	Symbol string
	Qty    int64
	Price  string // decimal digits, sent as a JSON string
	TS     string
	Open   bool
	Note   string
}

func (r testRecord) JSON() []byte {
	b, err := json.Marshal(map[string]any{"id": r.ID, "symbol": r.Symbol, "qty": r.Qty,
		"price": r.Price, "ts": r.TS, "open": r.Open, "note": r.Note})
	if err != nil {
		panic(err)
	}
	return b
}

// cells is the record as an export row, before the formula guard.
func (r testRecord) cells() []string {
	return []string{strconv.FormatUint(r.ID, 10), r.Symbol, strconv.FormatInt(r.Qty, 10), r.Price, r.TS,
		strconv.FormatBool(r.Open), r.Note}
}

// plainRecord is a deterministic record without any text that needs quoting or guarding.
func plainRecord(id uint64) testRecord {
	return testRecord{
		ID:     id,
		Symbol: fmt.Sprintf("SYM%d", id%97),
		Qty:    int64(id%1000) - 500,
		Price:  fmt.Sprintf("%d.%02d", id%10000, id%100),
		TS:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(id) * time.Second).Format(time.RFC3339),
		Open:   id%2 == 0,
		Note:   fmt.Sprintf("note %d", id),
	}
}

func ndjson(recs []testRecord) []byte {
	var b bytes.Buffer
	for _, r := range recs {
		b.Write(r.JSON())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func plainRecords(from, to uint64) []testRecord {
	recs := make([]testRecord, 0, to-from+1)
	for id := from; id <= to; id++ {
		recs = append(recs, plainRecord(id))
	}
	return recs
}

// testSetup is what a test server is built from.
type testSetup struct {
	cfg         Config
	tokens      string           // tokens file contents; empty: auth off
	tinyBuffers bool             // shrink the server's socket send buffers so a stalled reader blocks it fast
	clock       func() time.Time // the rate limiter's clock; nil: time.Now
}

type setupOption func(*testSetup)

func withConfig(f func(*Config)) setupOption { return func(s *testSetup) { f(&s.cfg) } }
func withTokens(file string) setupOption     { return func(s *testSetup) { s.tokens = file } }
func withTinySocketBuffers() setupOption     { return func(s *testSetup) { s.tinyBuffers = true } }
func withClock(c *fakeClock) setupOption     { return func(s *testSetup) { s.clock = c.Now } }

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testServer is a Server over a fresh bolt store in a temp dir, behind httptest.
type testServer struct {
	URL    string
	srv    *Server
	store  Store
	client *http.Client
}

// testConfig is DefaultConfig over dir with rate limiting off, so tests meet only the limits they set.
func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.DataDir = dir
	if testOverPostgres() {
		cfg.PostgresDSN = testDSN(dir)
	}
	cfg.Rate = 0
	return cfg
}

func newTestServer(t testing.TB, opts ...setupOption) *testServer {
	t.Helper()
	setup := testSetup{cfg: testConfig(t.TempDir())}
	for _, o := range opts {
		o(&setup)
	}
	if setup.tokens != "" {
		setup.cfg.TokensFile = filepath.Join(t.TempDir(), "tokens.txt")
		if err := os.WriteFile(setup.cfg.TokensFile, []byte(setup.tokens), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := setup.cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	store, err := OpenTestStore(setup.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return startTestServer(t, setup, store)
}

// newTestServerOn starts a second server over the store of another, with default test settings.
func newTestServerOn(t testing.TB, store Store) *testServer {
	t.Helper()
	return startTestServer(t, testSetup{cfg: testConfig(t.TempDir())}, store)
}

func startTestServer(t testing.TB, setup testSetup, store Store) *testServer {
	t.Helper()
	return startTestServerLogging(t, setup, store, newCheckedLogger(t)) // checked after the server has stopped
}

// startTestServerLogging is startTestServer logging to logger, for a test that provokes errors and
// checks the log itself.
func startTestServerLogging(t testing.TB, setup testSetup, store Store, logger *slog.Logger) *testServer {
	t.Helper()
	srv, err := NewServer(setup.cfg, store, logger)
	if err != nil {
		t.Fatal(err)
	}
	if setup.clock != nil {
		if srv.limiter == nil {
			t.Fatal("a clock for a server without rate limiting")
		}
		srv.limiter.clock = setup.clock
	}
	hs := httptest.NewUnstartedServer(srv)
	hs.Config.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	if setup.tinyBuffers {
		hs.Listener = tinyBufferListener{hs.Listener}
	}
	hs.Start()
	t.Cleanup(hs.Close)
	return &testServer{URL: hs.URL, srv: srv, store: store, client: hs.Client()}
}

// tinyBufferListener shrinks each accepted connection's send buffer, so that a client that stops
// reading blocks the server's writes after a few kilobytes instead of megabytes.
type tinyBufferListener struct{ net.Listener }

func (l tinyBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// smallBufferClient is an HTTP client whose connections have a receive buffer of rcvbuf bytes; with
// a body it does not read, the server soon cannot write. (Loopback receive buffers may otherwise
// grow to tens of megabytes.) A tiny buffer makes reading slow, so use one only for a body that is
// not read.
func smallBufferClient(t testing.TB, rcvbuf int) *http.Client {
	t.Helper()
	d := &net.Dialer{}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(rcvbuf)
			}
			return c, err
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// newCheckedLogger returns a logger whose output is checked when the test ends: a panic, an error
// other than a deliberate 503, or a net/http warning (a superfluous WriteHeader, say) fails the test.
// Create it before the server that uses it, so the check runs after that server has stopped.
func newCheckedLogger(t testing.TB) *slog.Logger {
	t.Helper()
	return newCheckedLoggerAt(t, slog.LevelDebug)
}

// newCheckedLoggerAt is newCheckedLogger keeping only records at level and above.
func newCheckedLoggerAt(t testing.TB, level slog.Level) *slog.Logger {
	t.Helper()
	sink := &logSink{}
	t.Cleanup(func() {
		sc := bufio.NewScanner(bytes.NewReader(sink.Bytes()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec struct {
				Level  string
				Msg    string
				Status int
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Errorf("log line is not JSON: %q", sc.Bytes())
				continue
			}
			if rec.Msg == "request" && rec.Status >= 500 && rec.Status != http.StatusServiceUnavailable {
				t.Errorf("server answered %d: %s", rec.Status, sc.Bytes())
				continue
			}
			if (rec.Level == "ERROR" || rec.Level == "WARN") && !(rec.Msg == "request" && rec.Status == http.StatusServiceUnavailable) {
				t.Errorf("server logged %s: %s", rec.Level, sc.Bytes())
			}
		}
	})
	return slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: level}))
}

// do sends one request and reads the whole response, trailers included. Every error response must
// be the documented JSON error, and nothing may be a 5xx other than a deliberate 503 or 507.
func (ts *testServer) do(t testing.TB, method, path string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	return doRequest(t, ts.client, method, ts.URL+path, body, header...)
}

func doRequest(t testing.TB, client *http.Client, method, url string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if len(header)%2 != 0 {
		t.Fatalf("header needs key, value pairs: %q", header)
	}
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return send(t, client, req)
}

// send sends req with client and reads the answer whole. A 5xx other than 503 and 507 is an error,
// and so is an error status whose body is not the documented error body.
func send(t testing.TB, client *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusInsufficientStorage {
		t.Errorf("%s %s: status %d: %s", req.Method, req.URL, resp.StatusCode, got)
	}
	// A not-ready /readyz reports its state, {"status":"..."}; everything else failing is an error.
	if resp.StatusCode >= 400 && resp.Request.URL.Path != "/readyz" {
		checkErrorBody(t, resp, got)
	}
	return resp, got
}

// apiErrorBody is the documented error response.
type apiErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Line    int    `json:"line"`
	} `json:"error"`
}

// checkErrorBody asserts that body is exactly {"error":{"code","message"[,"line"]}} as JSON.
func checkErrorBody(t testing.TB, resp *http.Response, body []byte) apiErrorBody {
	t.Helper()
	var e apiErrorBody
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("status %d: Content-Type %q, want application/json; body %q", resp.StatusCode, ct, body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Errorf("status %d: body is not a JSON error: %v: %q", resp.StatusCode, err, body)
		return e
	}
	if dec.More() {
		t.Errorf("status %d: data after the JSON error: %q", resp.StatusCode, body)
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("status %d: error without code or message: %q", resp.StatusCode, body)
	}
	return e
}

// assertAPIError asserts the status and error code of an error response and returns the error.
func assertAPIError(t testing.TB, resp *http.Response, body []byte, status int, code string) apiErrorBody {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	e := checkErrorBody(t, resp, body)
	if e.Error.Code != code {
		t.Errorf("error code %q, want %q (message %q)", e.Error.Code, code, e.Error.Message)
	}
	return e
}

func assertStatus(t testing.TB, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %.300s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
	}
}

// createDataset PUTs schema under name and requires 201.
func (ts *testServer) createDataset(t testing.TB, name, schema string, header ...string) {
	t.Helper()
	resp, body := ts.do(t, http.MethodPut, "/v1/datasets/"+name, []byte(schema), header...)
	assertStatus(t, resp, body, http.StatusCreated)
}

// ingest POSTs an NDJSON batch and requires all of it accepted.
func (ts *testServer) ingest(t testing.TB, name string, batch []byte, header ...string) {
	t.Helper()
	header = append([]string{"Content-Type", "application/x-ndjson"}, header...)
	resp, body := ts.do(t, http.MethodPost, "/v1/datasets/"+name+"/records", batch, header...)
	assertStatus(t, resp, body, http.StatusOK)
	want := bytes.Count(bytes.TrimSpace(batch), []byte("\n")) + 1
	assertAccepted(t, body, want)
}

func assertAccepted(t testing.TB, body []byte, want int) {
	t.Helper()
	var got struct{ Accepted int }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("ingest response %q: %v", body, err)
	}
	if got.Accepted != want {
		t.Fatalf("accepted %d, want %d", got.Accepted, want)
	}
}

// seedTestDataset creates name with testSchema and ingests recs in one batch.
func (ts *testServer) seedTestDataset(t testing.TB, name string, recs []testRecord) {
	t.Helper()
	ts.createDataset(t, name, testSchema)
	ts.ingest(t, name, ndjson(recs))
}

// exportCSV runs a CSV export and checks what every successful one must have: 200, the CSV content
// type, and the trailers, with a digest of the body and a row count.
func (ts *testServer) exportCSV(t testing.TB, name, query string) (*http.Response, []byte) {
	t.Helper()
	resp, body := ts.do(t, http.MethodGet, "/v1/datasets/"+name+"/export?format=csv"+query, nil)
	assertStatus(t, resp, body, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if got, want := resp.Trailer.Get("Content-Digest"), contentDigest(body); got != want {
		t.Errorf("trailer Content-Digest %q, want %q (of the %d bytes received)", got, want, len(body))
	}
	if resp.Trailer.Get("Export-Rows") == "" {
		t.Errorf("no Export-Rows trailer; trailers %v", resp.Trailer)
	}
	return resp, body
}

func contentDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

// parseCSV parses an export with encoding/csv (strict: no lazy quotes, every row as wide as the
// header) and checks that every record ends with CRLF.
func parseCSV(t testing.TB, body []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(body))
	var rows [][]string
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("CSV does not parse: %v", err)
		}
		if end := int(r.InputOffset()); end < 2 || string(body[end-2:end]) != "\r\n" {
			t.Fatalf("record %d does not end with CRLF: %q", len(rows)+1, body[max(0, end-20):end])
		}
		rows = append(rows, row)
	}
	return rows
}

// unguard inverts the documented formula guard: drop one leading ' from a string cell.
func unguard(cell string) string { return strings.TrimPrefix(cell, "'") }

// getOK sends a GET to url with client and returns the answer with its body unread, for a test
// that reads the body at its own pace (or not at all); the caller closes the body. A request that
// fails or is answered with a status other than 200 fails the test.
func getOK(t testing.TB, client *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	return resp
}

// scrape reads /metrics as metric families.
func scrape(t testing.TB, client *http.Client, baseURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp := getOK(t, client, baseURL+"/metrics")
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// metricValue finds the series of name with exactly labels (name=value pairs); for a histogram it
// returns the sample count. ok is false when there is no such series.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// series is a value a test expects of one series in /metrics: the series of name with exactly
// labels (name=value pairs), whose value (for a histogram, its sample count) is want.
type series struct {
	name   string
	labels []string
	want   float64
}

// assertSeries checks every series of want against one scrape, fams, each in a subtest of its own:
// a test states what the metrics must say after it as one table rather than a loop of its own.
func assertSeries(t *testing.T, fams map[string]*dto.MetricFamily, want []series) {
	t.Helper()
	for _, c := range want {
		t.Run(fmt.Sprint(c.name, c.labels), func(t *testing.T) {
			if got, ok := metricValue(fams, c.name, c.labels...); !ok || got != c.want {
				t.Errorf("= %v (present %v), want %v", got, ok, c.want)
			}
		})
	}
}

func (ts *testServer) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	v, ok := metricValue(scrape(t, ts.client, ts.URL), name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}
