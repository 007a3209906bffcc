package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/internal/pgtmp"
	"github.com/jackc/pgx/v5"
)

// These tests are about PostgreSQL itself (its outage, its tables), so each starts a cluster of
// its own, whichever store the rest of the package runs over.

func startTestCluster(t *testing.T) *pgtmp.Cluster {
	return pgtmp.ForTest(t, pgtmp.Options{NoFsync: true})
}

// TestPostgresOutage stops the database under a running exporter: readiness, ingest and export
// answer 503 with Retry-After and no internal detail, nothing acknowledged is lost, and once the
// database is back the exporter serves again by itself.
func TestPostgresOutage(t *testing.T) {
	c := startTestCluster(t)
	cfg := testConfig(t.TempDir())
	cfg.PostgresDSN = c.DSN("postgres")
	ts := startTestServer(t, testSetup{cfg: cfg}, openTestStore(t, cfg))
	ts.seedTestDataset(t, "trades", plainRecords(1, 100))
	ctx := context.Background()

	if err := c.Stop(ctx, "fast"); err != nil {
		t.Fatal(err)
	}
	unavailable := func(what string, resp *http.Response, body []byte) {
		t.Helper()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s with the database down: %d, Retry-After %q; want 503 with Retry-After; body %s",
				what, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		for _, leak := range []string{"127.0.0.1", "dial", "SQLSTATE", "postgres://", "connect"} {
			if strings.Contains(string(body), leak) {
				t.Errorf("%s: the answer shows internal detail %q: %s", what, leak, body)
			}
		}
	}
	resp, body := ts.do(t, http.MethodGet, "/readyz", nil)
	unavailable("/readyz", resp, body)
	resp, body = ts.do(t, http.MethodPost, "/v1/datasets/trades/records", ndjson(plainRecords(101, 200)),
		"Content-Type", "application/x-ndjson")
	unavailable("a batch ingest", resp, body)
	resp, body = ts.do(t, http.MethodPost, "/v1/datasets/trades/records", plainRecord(201).JSON())
	unavailable("a single ingest", resp, body)
	resp, body = ts.do(t, http.MethodGet, "/v1/datasets/trades/export?format=csv", nil)
	unavailable("a CSV export", resp, body)
	resp, body = ts.do(t, http.MethodPut, "/v1/datasets/other", []byte(testSchema))
	unavailable("a new dataset", resp, body)
	if resp, body := ts.do(t, http.MethodGet, "/metrics", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("/metrics with the database down: %d %.200s", resp.StatusCode, body)
	}
	if got := ts.metric(t, "exporter_ingest_records_total", "mode", "batch", "outcome", "server_error"); got != 100 {
		t.Errorf("ingest server_error = %v, want the 100 records refused", got)
	}

	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, _ := ts.do(t, http.MethodGet, "/readyz", nil)
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d 15 s after the database came back", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ts.ingest(t, "trades", ndjson(plainRecords(101, 200)))
	_, body = ts.exportCSV(t, "trades", "")
	rows := parseCSV(t, body)
	if len(rows) != 201 {
		t.Fatalf("%d rows after the outage, want 200 and the header", len(rows)-1)
	}
	for i, r := range plainRecords(1, 200) {
		if got, want := strings.Join(rows[1+i], ","), strings.Join(r.cells(), ","); got != want {
			t.Fatalf("row %d = %s, want %s", i+1, got, want)
		}
	}
}

// TestPostgresTables checks that a dataset is a real table anyone can query: typed columns, the
// id primary key, the schema in the catalog, values as SQL sees them.
func TestPostgresTables(t *testing.T) {
	c := startTestCluster(t)
	cfg := testConfig(t.TempDir())
	cfg.PostgresDSN = c.DSN("postgres")
	ts := startTestServer(t, testSetup{cfg: cfg}, openTestStore(t, cfg))
	ts.createDataset(t, "trades-2026", testSchema)
	ts.ingest(t, "trades-2026", []byte(`{"id":7,"symbol":"ACME","qty":-5,"price":"0012.500","ts":"2026-01-02T03:04:05.123456789+01:00","open":true,"note":"x"}`))

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, cfg.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_schema = 'datasets' AND table_name = 'trades-2026' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var name, typ, null string
		if err := rows.Scan(&name, &typ, &null); err != nil {
			t.Fatal(err)
		}
		got = append(got, name+" "+typ+" "+null)
	}
	want := []string{"id bigint NO", "symbol text NO", "qty bigint NO", "price numeric NO",
		"ts timestamp with time zone NO", "open boolean NO", "note text NO", "ns.3 smallint NO"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("columns:\n got %q\nwant %q", got, want)
	}
	var pk string
	if err := conn.QueryRow(ctx, `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid
		AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'datasets."trades-2026"'::regclass AND i.indisprimary`).Scan(&pk); err != nil || pk != "id" {
		t.Errorf("primary key %q, %v; want id", pk, err)
	}
	var cols []byte
	if err := conn.QueryRow(ctx, `SELECT columns FROM exporter.datasets WHERE name = 'trades-2026'`).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	var catalog []Column
	if err := json.Unmarshal(cols, &catalog); err != nil || len(catalog) != 6 || catalog[3] != (Column{"ts", TypeTimestamp}) {
		t.Errorf("catalog columns %s (%v)", cols, err)
	}
	var qty int64
	var price, ts2 string
	var open bool
	var ns int16
	if err := conn.QueryRow(ctx, `SELECT qty, price::text, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), open, "ns.3"
		FROM datasets."trades-2026" WHERE id = 7 AND qty < 0 AND price > 12`).Scan(&qty, &price, &ts2, &open, &ns); err != nil {
		t.Fatal(err)
	}
	if qty != -5 || price != "12.500" || ts2 != "2026-01-02 02:04:05.123456" || !open || ns != 789 {
		t.Errorf("SQL sees qty %d price %s ts %s open %v ns %d", qty, price, ts2, open, ns)
	}
}

// TestNumericText compares numericText, on the binary form PostgreSQL sends, with PostgreSQL's own
// text for the same numbers, and numericBinary, on the canonical text, with that binary form.
func TestNumericText(t *testing.T) {
	c := startTestCluster(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	values := []string{"0", "0.0", "0.00000", "1", "-1", "10000", "9999", "10001", "-10000.0001", "0.0001",
		"0.00001", "-0.000000001", "123456789012345678901234567890.123456789", "1.50", "100000000", "0.1",
		"99999999.99999999", "-0.5", "12345.6789", "1000000000000000000000000000000000000000", "0.000100"}
	for i := range 200 {
		values = append(values, fmt.Sprintf("%d.%0*d", i*i*7919%100003, i%9+1, i*31337%1000000000))
	}
	for _, v := range values {
		var text string
		var bin []byte
		if err := conn.QueryRow(ctx, "SELECT $1::numeric::text, numeric_send($1::numeric)", v).Scan(&text, &bin); err != nil {
			t.Fatal(err)
		}
		got, err := numericText(nil, bin)
		if err != nil || string(got) != text {
			t.Errorf("numericText(%s) = %q, %v; PostgreSQL says %q", v, got, err, text)
		}
		canonical := canonicalDecimal(nil, []byte(v))
		if string(canonical) != text {
			t.Errorf("canonicalDecimal(%s) = %q; PostgreSQL keeps %q", v, canonical, text)
		}
		if enc, err := numericBinary(nil, canonical); err != nil || string(enc) != string(bin) {
			t.Errorf("numericBinary(%s) = %x, %v; PostgreSQL sends %x", canonical, enc, err, bin)
		}
	}
}

// TestAppendTimestamp compares appendTimestamp with time.Time.AppendFormat(time.RFC3339Nano) over
// the years ingest allows, fractions of every length included.
func TestAppendTimestamp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
	cases := []int64{lo, hi, 0, -1, 1, 951782400000000, 946684800000000 - 1}
	for range 200000 {
		cases = append(cases, lo+r.Int64N(hi-lo))
	}
	for i, us := range cases {
		ns := 0
		if i%3 == 0 {
			ns = r.IntN(1000)
		}
		if i%5 == 0 {
			us -= us % 1_000_000 // whole seconds
		}
		if i%7 == 0 {
			us -= us % 1000 // milliseconds
		}
		want := time.UnixMicro(us).Add(time.Duration(ns)).UTC().Format(time.RFC3339Nano)
		if got := string(appendTimestamp(nil, us, ns)); got != want {
			t.Fatalf("appendTimestamp(%d, %d) = %s, want %s", us, ns, got, want)
		}
	}
}

// TestCopyRoundTrip encodes records as a binary COPY stream (copyBatch, what ingest sends) and
// decodes it (copyDecoder, what an export reads), handed over in pieces cut anywhere: the cells
// come back as they went in.
func TestCopyRoundTrip(t *testing.T) {
	sc := Schema{Columns: []Column{{"s", TypeString}, {"i", TypeInt}, {"d", TypeDecimal}, {"t", TypeTimestamp}, {"b", TypeBool}}}
	p := newRecordParser(sc)
	var recs []Record
	var want [][]string
	for id := 1; id <= 300; id++ {
		line := fmt.Sprintf(`{"id":%d,"s":"%srow %d, \"q\"\r\n%s","i":%d,"d":"%d.%0*d","t":"2026-0%d-1%dT0%d:00:00.%09dZ","b":%t}`,
			id, []string{"", "=", "-"}[id%3], id, strings.Repeat("é", id%7), id*7919-100000, id-150, id%5, id, id%9+1, id%10, id%10, id*12345, id%2 == 0)
		_, v, err := p.parse(nil, []byte(line))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		recs = append(recs, Record{ID: uint64(id), Value: v})
		cells, err := decodeCells(nil, v, len(sc.Columns))
		if err != nil {
			t.Fatal(err)
		}
		row := []string{fmt.Sprint(id)}
		for _, c := range cells {
			row = append(row, string(c))
		}
		want = append(want, row)
	}
	stream, err := copyBatch(nil, sc, recs)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, piece := range []int{1, 2, 7, 64, 1000, len(stream)} {
		var got [][]string
		d := newCopyDecoder(sc, func(id uint64, cells [][]byte) error {
			row := []string{fmt.Sprint(id)}
			for _, c := range cells {
				row = append(row, string(c))
			}
			got = append(got, row)
			return nil
		})
		if err := feedPieces(d, stream, piece, r); err != nil {
			t.Fatalf("pieces of up to %d bytes: %v", piece, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("pieces of up to %d bytes: the cells differ\n got %q\nwant %q", piece, got[:2], want[:2])
		}
	}
	// A stream cut before its trailer is not a whole export.
	d := newCopyDecoder(sc, func(uint64, [][]byte) error { return nil })
	d.Write(stream[:len(stream)-2])
	if err := d.finish(); err == nil {
		t.Error("a stream without its trailer finished cleanly")
	}
}

// feedPieces hands stream to d in pieces of 1 to max bytes, then ends it.
func feedPieces(d *copyDecoder, stream []byte, max int, r *rand.Rand) error {
	for rest := stream; len(rest) > 0; {
		n := min(len(rest), 1+r.IntN(max))
		if _, err := d.Write(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return d.finish()
}

// BenchmarkAppendTimestamp formats trade timestamps (milliseconds, as the benchmark's trades have).
func BenchmarkAppendTimestamp(b *testing.B) {
	us := time.Date(2026, 1, 13, 2, 15, 7, 123_000_000, time.UTC).UnixMicro()
	buf := make([]byte, 0, 64)
	for i := 0; b.Loop(); i++ {
		buf = appendTimestamp(buf[:0], us+int64(i%4096)*1_001_000, 0)
	}
}

// BenchmarkNumericText formats the binary numerics of prices and notionals like the benchmark's.
func BenchmarkNumericText(b *testing.B) {
	var bins [][]byte
	for _, d := range []string{"1234.5678", "-51849.98", "0.0042", "987654321.12", "17.50", "3"} {
		bin, err := numericBinary(nil, []byte(d))
		if err != nil {
			b.Fatal(err)
		}
		bins = append(bins, bin)
	}
	buf := make([]byte, 0, 64)
	for i := 0; b.Loop(); i++ {
		var err error
		if buf, err = numericText(buf[:0], bins[i%len(bins)]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNumericTextCorrupt: a binary numeric PostgreSQL would never send is refused, not printed.
func TestNumericTextCorrupt(t *testing.T) {
	for name, bin := range map[string][]byte{
		"short":           {0, 1, 0, 0},
		"digit past 9999": {0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10},
		"NaN":             {0, 0, 0, 0, 0xc0, 0, 0, 0},
		"missing digit":   {0, 2, 0, 0, 0, 0, 0, 0, 0, 1},
	} {
		if got, err := numericText(nil, bin); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: numericText = %q, %v; want errCorrupt", name, got, err)
		}
	}
}
