package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/exportatscale/exportatscale/internal/pgtmp"
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

// TestCanonicalDecimalAsPostgres: the canonical text that ingest makes of a decimal is the text
// PostgreSQL keeps for it (numeric's output), which the PostgreSQL store's numericBinary takes
// and its numericText gives back (pgstore's TestNumericText).
func TestCanonicalDecimalAsPostgres(t *testing.T) {
	c := startTestCluster(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	inputs := []string{"0", "-0", "00", "0.0", "-0.000", "007", "0012.500", "-0012.500", "1.50",
		"10000", "-10000.0001", "0.00001", "123456789012345678901234567890.123456789", "000.000100"}
	for i := range 50 {
		inputs = append(inputs, fmt.Sprintf("-%03d.%0*d", i*i*7919%100003, i%7+1, i*31337%100000))
	}
	for _, in := range inputs {
		var text string
		if err := conn.QueryRow(ctx, "SELECT $1::numeric::text", in).Scan(&text); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := canonicalDecimal(nil, []byte(in)); string(got) != text {
			t.Errorf("canonicalDecimal(%s) = %q; PostgreSQL keeps %q", in, got, text)
		}
	}
}
