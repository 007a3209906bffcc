package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/harness/api"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/harness/seed"
)

func body(t *testing.T, req *http.Request) string {
	t.Helper()
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestV1 builds each request of the v1 API from the embedded profile: the requests the exporter
// documents (docs/api.md), with the bearer token added by Authorize only.
func TestV1(t *testing.T) {
	ctx := context.Background()
	a := api.V1("http://127.0.0.1:9", "tok")
	schema := seed.Schema{{Name: "note", Type: seed.TypeString}, {Name: "n", Type: seed.TypeInt}}
	recs := []seed.Record{{ID: 1, Values: []any{"a <b>", int64(2)}}, {ID: 2, Values: []any{"", int64(-3)}}}

	req, err := a.CreateDataset(ctx, "my set", schema)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Method + " " + req.URL.String(); got != "PUT http://127.0.0.1:9/v1/datasets/my%20set" {
		t.Errorf("create: %s", got)
	}
	if got := body(t, req); got != `{"columns":[{"name":"note","type":"string"},{"name":"n","type":"int"}]}` {
		t.Errorf("create body: %s", got)
	}
	if req.Header.Get("Authorization") != "" {
		t.Error("credentials before Authorize")
	}
	a.Authorize(req)
	if got := req.Header.Get("Authorization"); got != "Bearer tok" {
		t.Errorf("Authorization %q", got)
	}

	req, err = a.Ingest(ctx, "s", schema, seed.ModeBatch, recs)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"id\":1,\"note\":\"a <b>\",\"n\":2}\n{\"id\":2,\"note\":\"\",\"n\":-3}\n"
	if got := body(t, req); got != want || req.URL.Path != "/v1/datasets/s/records" ||
		req.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Errorf("batch: %s %s %q", req.URL.Path, req.Header.Get("Content-Type"), got)
	}
	req, err = a.Ingest(ctx, "s", schema, seed.ModeSingle, recs[:1])
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, req); got != `{"id":1,"note":"a <b>","n":2}` || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("single: %q", got)
	}
	if err := a.Accepted([]byte(`{"accepted":2}`), 2); err != nil {
		t.Error(err)
	}
	if err := a.Accepted([]byte(`{"accepted":1}`), 2); err == nil {
		t.Error("a short count accepted")
	}

	for _, tt := range []struct {
		format string
		opt    export.Options
		query  string
	}{
		{export.CSV, export.Options{}, "format=csv"},
		{export.CSV, export.Options{Columns: []string{"n"}, After: 5, Limit: 7, BOM: true}, "after=5&bom=1&columns=n&format=csv&limit=7"},
		{export.PDF, export.Options{BOM: true}, "format=pdf"},
	} {
		req, err := a.Export(ctx, tt.format, "s", tt.opt, []string{"n"})
		if err != nil {
			t.Fatal(err)
		}
		if req.Method != http.MethodGet || req.URL.Path != "/v1/datasets/s/export" || req.URL.RawQuery != tt.query {
			t.Errorf("export %s %+v: %s %s", tt.format, tt.opt, req.Method, req.URL)
		}
	}
}

const second = `name: second
connection:
  auth: {kind: query, name: key, token_env: SECOND_KEY}
types:
  string: text
  int: bigint
  decimal: {name: "numeric(18,4)", ingest: number}
  timestamp: {name: datetime, ingest: "2006-01-02 15:04:05", zone: Europe/Zurich, precision: 1s, min: "1970-01-01T00:00:00Z", max: "2105-12-31T23:59:59Z"}
  bool: {name: tinyint, ingest: number}
dataset:
  create:
    method: POST
    path: /
    query: {q: "CREATE TABLE {dataset} (id bigint, {columns})"}
  column: "{name} {type}"
  remove: {method: POST, path: /, query: {q: "DROP TABLE {dataset}"}}
ingest:
  batch:
    method: POST
    path: /api/{dataset}/rows
    format: json_array
    body: "{records}"
export:
  csv:
    request:
      method: GET
      path: /
      query: {q: "SELECT id, {columns} FROM {dataset} WHERE id > {after} ORDER BY id LIMIT {limit}"}
    options: [columns, after, limit]
    unset: {columns: all, after: "0", limit: "18446744073709551615"}
    dialect:
      header: true
      delimiter: ","
      line_ending: lf
      quoting: strings
      timestamps: {layouts: ["2006-01-02 15:04:05"], zone: Europe/Zurich}
      decimals_as_numbers: true
      bools: {"true": "1", "false": "0"}
      formula_guard: none
integrity: {kind: none}
service: {kind: url}
`

// TestSecondShape builds the requests of an API shaped nothing like v1: SQL in the query,
// columns as text, a JSON-array ingest with decimals as numbers, bools as 1/0 and timestamps in a
// layout of their own, and its key in the query, added by Authorize only.
func TestSecondShape(t *testing.T) {
	path := filepath.Join(t.TempDir(), "second.yaml")
	if err := os.WriteFile(path, []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.New(p, "http://127.0.0.1:9", func(string) (string, bool) { return "", false }); err == nil ||
		!strings.Contains(err.Error(), "$SECOND_KEY") {
		t.Errorf("a missing secret: %v", err)
	}
	a, err := api.New(p, "http://127.0.0.1:9/", api.Over(map[string]string{"SECOND_KEY": "s3cret"}, api.Env))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	schema := seed.Schema{{Name: "px", Type: seed.TypeDecimal}, {Name: "ts", Type: seed.TypeTimestamp}, {Name: "ok", Type: seed.TypeBool}}
	req, err := a.CreateDataset(ctx, "t1", schema)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.Query().Get("q"); got != "CREATE TABLE t1 (id bigint, px numeric(18,4), ts datetime, ok tinyint)" {
		t.Errorf("create: %q", got)
	}
	recs := []seed.Record{{ID: 7, Values: []any{"1.5000", "2026-01-02T08:00:00.25+01:00", true}},
		{ID: 8, Values: []any{json.Number("-2"), "2026-07-01T00:00:00Z", false}}}
	req, err = a.Ingest(ctx, "t1", schema, seed.ModeBatch, recs)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"id":7,"px":1.5000,"ts":"2026-01-02 08:00:00","ok":1},{"id":8,"px":-2,"ts":"2026-07-01 02:00:00","ok":0}]`
	if got := body(t, req); got != want || req.URL.Path != "/api/t1/rows" {
		t.Errorf("batch %s:\n got %s\nwant %s", req.URL.Path, got, want)
	}
	if _, err := a.Ingest(ctx, "t1", schema, seed.ModeSingle, recs[:1]); err == nil {
		t.Error("a single-record request from an API without one")
	}
	for _, tt := range []struct {
		opt  export.Options
		want string
	}{
		{export.Options{}, "SELECT id, px,ts,ok FROM t1 WHERE id > 0 ORDER BY id LIMIT 18446744073709551615"},
		{export.Options{Columns: []string{"ok"}, After: 3, Limit: 2}, "SELECT id, ok FROM t1 WHERE id > 3 ORDER BY id LIMIT 2"},
	} {
		cols := tt.opt.Columns
		if cols == nil {
			cols = schema.Names()
		}
		req, err := a.Export(ctx, export.CSV, "t1", tt.opt, cols)
		if err != nil {
			t.Fatal(err)
		}
		if got := req.URL.Query().Get("q"); got != tt.want || req.URL.Query().Has("key") {
			t.Errorf("export %+v: %q (%s)", tt.opt, got, req.URL)
		}
		a.Authorize(req)
		if got := req.URL.Query().Get("key"); got != "s3cret" {
			t.Errorf("key %q after Authorize", got)
		}
	}
	if _, err := a.Export(ctx, export.PDF, "t1", export.Options{}, nil); err == nil {
		t.Error("a PDF export from an API without one")
	}
	bad := []seed.Record{{ID: 9, Values: []any{"1", "2200-01-01T00:00:00Z", true}}, {ID: 10, Values: []any{"1", "1969-12-31T23:59:59Z", true}}}
	got := a.Unstorable(schema, append(recs, bad...))
	if len(got) != 2 || !strings.HasPrefix(got[0].String(), "record 9, ts: 2200-01-01T00:00:00Z is after the latest instant datetime holds") ||
		got[1].Record != 10 || got[1].Field != "ts" {
		t.Errorf("unstorable: %q", got)
	}
}

// TestV1Dialect: the v1 profile's dialect is the strict one the verifier knew before profiles.
func TestV1Dialect(t *testing.T) {
	d, err := api.V1("http://127.0.0.1:9", "").Dialect()
	if err != nil {
		t.Fatal(err)
	}
	strict := export.StrictDialect()
	if d.Header != strict.Header || d.Delimiter != ',' || d.LF || d.QuoteAll || d.QuoteStrings || d.Null != "" ||
		!d.Guard || d.DecimalsAsNumbers || d.TimestampPrecision != 0 || d.True != "true" || d.False != "false" {
		t.Errorf("v1 dialect %+v, want the strict one %+v", d, strict)
	}
}

// TestIngestCommand: a profile that ingests through a command runs it once per batch with the
// records as NDJSON on its standard input; a command that fails is an error with its output.
func TestIngestCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LOADED_DIR", dir)
	src := strings.Replace(second, `  batch:
    method: POST
    path: /api/{dataset}/rows
    format: json_array
    body: "{records}"`, `  command: [sh, -c, 'cat > "$LOADED_DIR/{dataset}.ndjson"; test -z "$FAIL" || { echo refused >&2; exit 3; }']`, 1)
	path := filepath.Join(dir, "cmd.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(p, "http://127.0.0.1:9", api.Over(map[string]string{"SECOND_KEY": "k"}, api.Env))
	if err != nil {
		t.Fatal(err)
	}
	loader, ok := a.Seeder().(seed.Loader)
	if !ok {
		t.Fatal("a command profile's seeder is no Loader")
	}
	schema := seed.Schema{{Name: "ok", Type: seed.TypeBool}}
	recs := []seed.Record{{ID: 1, Values: []any{true}}, {ID: 2, Values: []any{false}}}
	if err := loader.Load(context.Background(), "t9", schema, recs); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "t9.ndjson"))
	if err != nil || string(got) != "{\"id\":1,\"ok\":1}\n{\"id\":2,\"ok\":0}\n" {
		t.Errorf("the command read %q (%v)", got, err)
	}
	t.Setenv("FAIL", "1")
	if err := loader.Load(context.Background(), "t9", schema, recs); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("a failing command: %v", err)
	}
	if _, ok := api.V1("http://127.0.0.1:9", "").Seeder().(seed.Loader); ok {
		t.Error("the v1 API's seeder runs a command")
	}
}
