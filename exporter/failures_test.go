package exporter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/exportatscale/exportatscale/internal/testkit"
)

// logSink collects the server's JSON log lines.
type logSink struct{ testkit.Buffer }

// records parses the sink's JSON log lines.
func (l *logSink) records(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Bytes())
		}
		out = append(out, rec)
	}
	return out
}

// count returns how many log records match every key=value of want (values compared as text).
func (l *logSink) count(t testing.TB, want ...string) int {
	t.Helper()
	n := 0
next:
	for _, rec := range l.records(t) {
		for i := 0; i+1 < len(want); i += 2 {
			if fmt.Sprint(rec[want[i]]) != want[i+1] {
				continue next
			}
		}
		n++
	}
	return n
}

// errVolumeFull is how a write to a full volume fails, as bbolt passes it on from File.WriteAt.
var errVolumeFull = &os.PathError{Op: "write", Path: "exporter.db", Err: syscall.ENOSPC}

// newFillableStore opens a bolt store whose writes fail as on a full volume while the returned
// flag is set. What a store does with such a write (bbolt rolls it back) is the store's own test
// (bboltstore's TestFailedWrite); here it is what the HTTP layer makes of it.
func newFillableStore(t testing.TB) (Store, *atomic.Bool) {
	t.Helper()
	full := &atomic.Bool{}
	return &fillableStore{Store: newBoltStore(t), full: full}, full
}

// fillableStore refuses every write with ErrStoreFull while full is set.
type fillableStore struct {
	Store
	full *atomic.Bool
}

func (s *fillableStore) PutSchema(name string, sc Schema) (bool, error) {
	if s.full.Load() {
		return false, fmt.Errorf("%w: %w", ErrStoreFull, errVolumeFull)
	}
	return s.Store.PutSchema(name, sc)
}

func (s *fillableStore) Upsert(name string, recs []Record, group bool) error {
	if s.full.Load() {
		return fmt.Errorf("%w: %w", ErrStoreFull, errVolumeFull)
	}
	return s.Store.Upsert(name, recs, group)
}

// A full data volume answers every write with 507 store_full and stores nothing of it; exports and
// reads go on, and once there is room again the same writes succeed.
func TestStoreFull(t *testing.T) {
	store, full := newFillableStore(t)
	sink := &logSink{}
	ts := startTestServerLogging(t, testSetup{cfg: testConfig(t.TempDir())}, store, slog.New(slog.NewJSONHandler(sink, nil)))
	ts.seedTestDataset(t, "trades", plainRecords(1, 10))
	_, before := ts.exportCSV(t, "trades", "")

	full.Store(true)
	changed := plainRecord(5)
	changed.Note = "changed"
	batch := ndjson(append(plainRecords(11, 20), changed))
	ndjsonCT := []string{"Content-Type", "application/x-ndjson"}
	writes := []struct {
		name, method, path string
		body               []byte
		header             []string
	}{
		{"batch", http.MethodPost, "/v1/datasets/trades/records", batch, ndjsonCT},
		{"single new", http.MethodPost, "/v1/datasets/trades/records", plainRecord(21).JSON(), nil},
		{"single replacing", http.MethodPost, "/v1/datasets/trades/records", changed.JSON(), nil},
		{"new dataset", http.MethodPut, "/v1/datasets/other", []byte(testSchema), nil},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			resp, body := ts.do(t, w.method, w.path, w.body, w.header...)
			e := assertAPIError(t, resp, body, http.StatusInsufficientStorage, "store_full")
			if !strings.Contains(e.Error.Message, "store is full") || !strings.Contains(e.Error.Message, "nothing") {
				t.Errorf("507 message %q does not say the store is full and nothing was written", e.Error.Message)
			}
		})
	}

	// Nothing was written, and reads go on.
	_, after := ts.exportCSV(t, "trades", "")
	if !bytes.Equal(before, after) {
		t.Errorf("a refused write changed the dataset:\n%s", after)
	}
	resp, body := ts.do(t, http.MethodGet, "/v1/datasets/trades/export?format=pdf", nil)
	assertStatus(t, resp, body, http.StatusOK)
	resp, body = ts.do(t, http.MethodGet, "/v1/datasets/other/export?format=csv", nil)
	assertAPIError(t, resp, body, http.StatusNotFound, "dataset_not_found")
	assertSeries(t, scrape(t, ts.client, ts.URL), []series{
		{"exporter_store_records", []string{"dataset", "trades"}, 10},
		{"exporter_ingest_records_total", []string{"mode", "batch", "outcome", "store_full"}, 11},
		{"exporter_ingest_records_total", []string{"mode", "single", "outcome", "store_full"}, 2},
		{"exporter_ingest_records_total", []string{"mode", "batch", "outcome", "server_error"}, 0},
		{"exporter_ingest_records_total", []string{"mode", "single", "outcome", "server_error"}, 0},
		{"exporter_ingest_records_total", []string{"mode", "batch", "outcome", "ok"}, 10},
		{"exporter_exports_total", []string{"format", "csv", "outcome", "ok"}, 2},
		{"exporter_exports_total", []string{"format", "pdf", "outcome", "ok"}, 1},
	})
	if n := sink.count(t, "msg", "store full", "level", "ERROR"); n != len(writes) {
		t.Errorf("%d store full errors logged, want %d", n, len(writes))
	}
	if n := sink.count(t, "msg", "request", "status", "507"); n != len(writes) {
		t.Errorf("%d requests logged with status 507, want %d", n, len(writes))
	}
	if n := sink.count(t, "msg", "request failed"); n != 0 {
		t.Errorf("a full store was logged as an unexpected failure %d times", n)
	}

	// With room again, the same writes succeed.
	full.Store(false)
	ts.ingest(t, "trades", batch)
	ts.createDataset(t, "other", testSchema)
	recs := plainRecords(1, 20)
	recs[4] = changed
	_, csvBody := ts.exportCSV(t, "trades", "")
	assertRows(t, parseCSV(t, csvBody), recs)
}

// panickyStore is a Store whose scans panic after panicAfter rows (never when it is negative),
// standing in for a bug anywhere on the export path.
type panickyStore struct {
	Store
	panicAfter atomic.Int64
}

const injectedPanic = "injected export panic"

func (p *panickyStore) View(name string, fn func(Snapshot) error) error {
	after := p.panicAfter.Load()
	return p.Store.View(name, func(snap Snapshot) error { return fn(panickySnapshot{snap, after}) })
}

type panickySnapshot struct {
	Snapshot
	panicAfter int64
}

func (s panickySnapshot) Scan(after uint64, limit int64, fn func(id uint64, cells [][]byte) error) error {
	if s.panicAfter < 0 {
		return s.Snapshot.Scan(after, limit, fn)
	}
	var n int64
	return s.Snapshot.Scan(after, limit, func(id uint64, cells [][]byte) error {
		if n == s.panicAfter {
			panic(injectedPanic)
		}
		n++
		return fn(id, cells)
	})
}

// A panic during an export is a server_error. Once the status line is out, the connection is reset,
// so the body cannot look complete (no terminating chunk, no trailers); before it, the answer is a
// 500 JSON error. Either way the export's slot is freed.
func TestExportPanic(t *testing.T) {
	ps := &panickyStore{Store: openTestStore(t, testConfig(t.TempDir()))}
	ps.panicAfter.Store(-1)
	sink := &logSink{}
	cfg := testConfig(t.TempDir())
	cfg.MaxCSVExports, cfg.MaxPDFExports = 1, 1
	ts := startTestServerLogging(t, testSetup{cfg: cfg}, ps, slog.New(slog.NewJSONHandler(sink, nil)))
	ts.seedTestDataset(t, "trades", plainRecords(1, 20000))
	_, whole := ts.exportCSV(t, "trades", "")

	// CSV: the panic comes after the first chunks (of chunkSize) have gone out.
	ps.panicAfter.Store(15000)
	resp, err := ts.client.Get(ts.URL + "/v1/datasets/trades/export?format=csv")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200 (the panic should come after the status line): %.300s", resp.StatusCode, got)
	}
	if err == nil {
		t.Errorf("the body of a panicked export ended cleanly after %d bytes", len(got))
	}
	if len(got) == 0 || len(got) >= len(whole) || !bytes.HasPrefix(whole, got) {
		t.Errorf("got %d bytes of the %d-byte export, want a true prefix of it", len(got), len(whole))
	}
	if resp.Trailer.Get("Content-Digest") != "" || resp.Trailer.Get("Export-Rows") != "" {
		t.Errorf("a panicked export has trailers %v", resp.Trailer)
	}

	// PDF: the panic comes while the document is rendered, before any byte is sent.
	ps.panicAfter.Store(10)
	resp, err = ts.client.Get(ts.URL + "/v1/datasets/trades/export?format=pdf&limit=100")
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the 500: %v", err)
	}
	assertAPIError(t, resp, got, http.StatusInternalServerError, "internal")

	assertSeries(t, scrape(t, ts.client, ts.URL), []series{
		{"exporter_exports_total", []string{"format", "csv", "outcome", "server_error"}, 1},
		{"exporter_exports_total", []string{"format", "csv", "outcome", "aborted"}, 0},
		{"exporter_exports_total", []string{"format", "csv", "outcome", "ok"}, 1},
		{"exporter_exports_total", []string{"format", "pdf", "outcome", "server_error"}, 1},
		{"exporter_exports_in_flight", []string{"format", "csv"}, 0},
		{"exporter_exports_in_flight", []string{"format", "pdf"}, 0},
		{"exporter_export_rows_total", []string{"format", "csv"}, 20000},
		{"exporter_export_duration_seconds", []string{"format", "csv"}, 2},
		{"exporter_export_duration_seconds", []string{"format", "pdf"}, 1},
	})
	if n := sink.count(t, "msg", "panic", "level", "ERROR", "panic", injectedPanic); n != 2 {
		t.Errorf("%d panics logged, want 2", n)
	}
	for _, rec := range sink.records(t) {
		if rec["msg"] == "panic" && !strings.Contains(fmt.Sprint(rec["stack"]), "panickySnapshot") {
			t.Errorf("the panic is logged without its stack: %v", rec)
		}
	}

	// The slots (one per format) were freed, and exports work again.
	ps.panicAfter.Store(-1)
	if _, again := ts.exportCSV(t, "trades", ""); !bytes.Equal(again, whole) {
		t.Errorf("the export after the panic differs from the one before")
	}
	resp, body := ts.do(t, http.MethodGet, "/v1/datasets/trades/export?format=pdf&limit=100", nil)
	assertStatus(t, resp, body, http.StatusOK)
}

// A panic in any handler is a 500 JSON error before the response has started, and a reset
// connection after.
func TestHandlerPanic(t *testing.T) {
	sink := &logSink{}
	ts := startTestServerLogging(t, testSetup{cfg: testConfig(t.TempDir())}, openTestStore(t, testConfig(t.TempDir())), slog.New(slog.NewJSONHandler(sink, nil)))
	ts.srv.mux.HandleFunc("/test/panic-before", func(http.ResponseWriter, *http.Request) { panic("before") })
	ts.srv.mux.HandleFunc("/test/panic-after", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		http.NewResponseController(w).Flush()
		panic("after")
	})

	resp, err := ts.client.Get(ts.URL + "/test/panic-before")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	assertAPIError(t, resp, body, http.StatusInternalServerError, "internal")

	resp, err = ts.client.Get(ts.URL + "/test/panic-after")
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("a response cut by a panic ended cleanly: %q", body)
	}
	if string(body) != "partial" {
		t.Errorf("body %q, want what was flushed before the panic", body)
	}
	if n := sink.count(t, "msg", "panic", "level", "ERROR"); n != 2 {
		t.Errorf("%d panics logged, want 2", n)
	}
}

// newBoltStore opens a bolt store in a temp dir, closed when the test ends.
func newBoltStore(t testing.TB) Store {
	t.Helper()
	store, err := openBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// TestFullVolume is TestStoreFull on a real full filesystem instead of an injected error. It runs
// only when EXPORTER_TEST_FULL_VOLUME names a directory on a small filesystem, since making one
// takes root, for example:
//
//	mkdir -p /tmp/full && mount -t tmpfs -o size=8m tmpfs /tmp/full
//	EXPORTER_TEST_FULL_VOLUME=/tmp/full go test -count=1 -v -run TestFullVolume ./exporter/
//	umount /tmp/full
//
// It fills the volume with batches until one is refused with 507, then checks that bbolt's failed
// commit left the store consistent, that nothing of the refused batch is stored, that exports still
// work, and that the store reopens with the same data.
func TestFullVolume(t *testing.T) {
	vol := os.Getenv("EXPORTER_TEST_FULL_VOLUME")
	if vol == "" {
		t.Skip("EXPORTER_TEST_FULL_VOLUME is not set: it names a directory on a small filesystem to fill")
	}
	dir, err := os.MkdirTemp(vol, "store-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	store, err := openBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sink := &logSink{}
	cfg := testConfig(t.TempDir())
	cfg.DataDir = dir
	ts := startTestServerLogging(t, testSetup{cfg: cfg}, store, slog.New(slog.NewJSONHandler(sink, nil)))
	ts.createDataset(t, "trades", testSchema)

	const batchRows = 1000 // about 1 MiB a batch
	stored, refused := 0, false
	for from := 1; !refused && from < 1<<22; from += batchRows {
		recs := plainRecords(uint64(from), uint64(from+batchRows-1))
		for i := range recs {
			recs[i].Note = strings.Repeat("n", 1000)
		}
		resp, body := ts.do(t, http.MethodPost, "/v1/datasets/trades/records", ndjson(recs), "Content-Type", "application/x-ndjson")
		switch resp.StatusCode {
		case http.StatusOK:
			stored += batchRows
		case http.StatusInsufficientStorage:
			assertAPIError(t, resp, body, http.StatusInsufficientStorage, "store_full")
			refused = true
		default:
			t.Fatalf("batch from id %d: status %d: %s", from, resp.StatusCode, body)
		}
	}
	if !refused {
		t.Fatal("the volume never filled")
	}
	t.Logf("%d records stored before the volume was full", stored)
	for _, rec := range sink.records(t) {
		if rec["msg"] == "store full" {
			t.Logf("logged: store full: %v", rec["err"])
		}
	}
	checkBolt(t, store)
	if got := ts.metric(t, "exporter_store_records", "dataset", "trades"); got != float64(stored) {
		t.Errorf("store_records = %v, want %d", got, stored)
	}
	resp, _ := ts.exportCSV(t, "trades", "")
	if got := resp.Trailer.Get("Export-Rows"); got != fmt.Sprint(stored) {
		t.Errorf("Export-Rows %s, want %d", got, stored)
	}
	_, before := ts.exportCSV(t, "trades", "&columns=qty")
	resp, body := ts.do(t, http.MethodPost, "/v1/datasets/trades/records", plainRecord(1<<30).JSON())
	t.Logf("one small record after the full batch: %d %s", resp.StatusCode, bytes.TrimSpace(body))
	if resp.StatusCode != http.StatusOK {
		assertAPIError(t, resp, body, http.StatusInsufficientStorage, "store_full")
	}
	small := 0
	if resp.StatusCode == http.StatusOK {
		small = 1
	}

	// Reopened, the store holds what was acknowledged, and nothing else.
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	reopened, err := openBolt(dir)
	if err != nil {
		t.Fatalf("reopening the store on the full volume: %v", err)
	}
	t.Cleanup(func() { reopened.Close() })
	checkBolt(t, reopened)
	ts2 := newTestServerOn(t, reopened)
	if got := ts2.metric(t, "exporter_store_records", "dataset", "trades"); got != float64(stored+small) {
		t.Errorf("store_records after reopening = %v, want %d", got, stored+small)
	}
	_, after := ts2.exportCSV(t, "trades", fmt.Sprintf("&columns=qty&limit=%d", stored))
	if !bytes.Equal(before, after) {
		t.Errorf("the reopened store exports different data")
	}
}

// checkBolt runs bbolt's consistency check over the store.
func checkBolt(t testing.TB, s Store) {
	t.Helper()
	c, ok := s.(interface{ Check() error })
	if !ok {
		t.Fatalf("%T has no consistency check", s)
	}
	if err := c.Check(); err != nil {
		t.Errorf("bbolt check: %v", err)
	}
}
