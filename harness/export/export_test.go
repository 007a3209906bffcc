package export_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/api"
	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/internal/fake"
	"github.com/exportatscale/exportatscale/harness/seed"
)

// seeded starts a fake exporter with cfg, loads n generated trades and returns a client for it.
func seeded(t *testing.T, cfg fake.Config, n int) (*export.Client, []seed.Record) {
	t.Helper()
	srv := fake.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := &seed.Client{API: api.V1(srv.URL, "")}
	if _, err := sc.CreateDataset(ctx, "trades", seed.Trades()); err != nil {
		t.Fatal(err)
	}
	recs := seed.Generate(7, n, 1)
	if _, err := sc.Seed(ctx, seed.Job{Dataset: "trades", Schema: seed.Trades(), Records: recs, Mode: seed.ModeBatch, ChunkSize: 100}); err != nil {
		t.Fatal(err)
	}
	return &export.Client{API: api.V1(srv.URL, "")}, recs
}

func expected(t *testing.T, recs []seed.Record, opt export.Options) *export.Expected {
	t.Helper()
	exp, err := export.NewExpected("trades", seed.Trades(), recs, opt)
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

func TestCSVHealthy(t *testing.T) {
	c, recs := seeded(t, fake.Config{}, 250)
	for _, opt := range []export.Options{
		{},
		{BOM: true},
		{Columns: []string{"note", "quantity", "trade_ts"}, After: 40, Limit: 100},
	} {
		t.Run(fmt.Sprintf("%+v", opt), func(t *testing.T) {
			exp := expected(t, recs, opt)
			r := c.CSV(context.Background(), exp)
			if f := r.Failure(); f != "" {
				t.Fatalf("failure %q: %v", f, r.Examples)
			}
			if r.Rows != exp.Rows() || !r.HeaderOK || r.BOM != opt.BOM || r.Bytes == 0 || r.Latency <= 0 {
				t.Errorf("report %+v", r)
			}
		})
	}
}

func TestCSVFaults(t *testing.T) {
	tests := []struct {
		name    string
		faults  fake.Faults
		failure string
		check   func(r export.CSVReport) bool
	}{
		{"dropped row", fake.Faults{DropID: 17}, "wrong_rows", func(r export.CSVReport) bool { return r.Missing == 1 && r.Integrity.OK() }},
		{"duplicated row", fake.Faults{DuplicateID: 17}, "wrong_rows", func(r export.CSVReport) bool { return r.Duplicates == 1 && r.OutOfOrder == 1 }},
		{"wrong value", fake.Faults{WrongValueID: 17}, "wrong_rows", func(r export.CSVReport) bool { return r.Mismatched == 1 }},
		{"no formula guard", fake.Faults{NoGuard: true}, "wrong_rows", func(r export.CSVReport) bool { return r.GuardViolations == 7 }},
		{"mis-quoted field", fake.Faults{MisquoteID: 7}, "parse_error", func(r export.CSVReport) bool { return r.ParseErrors > 0 }},
		{"truncated", fake.Faults{TruncateAfter: 30}, "truncated", func(r export.CSVReport) bool {
			return r.Missing == 50-30 && !r.DigestOK && !r.RowsOK
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, recs := seeded(t, fake.Config{Faults: tt.faults}, 50)
			r := c.CSV(context.Background(), expected(t, recs, export.Options{}))
			if got := r.Failure(); got != tt.failure || !tt.check(r) {
				t.Errorf("failure %q, want %q; report %+v", got, tt.failure, r)
			}
		})
	}
}

func TestCSVStatus(t *testing.T) {
	c, recs := seeded(t, fake.Config{Faults: fake.Faults{ErrorEvery: 1}}, 5)
	r := c.CSV(context.Background(), expected(t, recs, export.Options{}))
	if r.Failure() != "status_500" || !strings.Contains(r.Body, "injected") {
		t.Errorf("report %+v", r)
	}
	r = (&export.Client{API: api.V1("http://127.0.0.1:1", "")}).CSV(context.Background(), expected(t, recs, export.Options{}))
	if r.Failure() != "transport" || r.Err == "" {
		t.Errorf("report %+v", r)
	}
}

// TestCSVDigest serves bodies by hand to check the integrity fields. The body is right in every
// case, so each export counts as exact, and as untrailered only when neither field arrived.
func TestCSVDigest(t *testing.T) {
	recs := seed.Generate(1, 1, 1)
	exp := expected(t, recs, export.Options{Columns: []string{"quantity"}})
	body := fmt.Sprintf("id,quantity\r\n1,%d\r\n", recs[0].Values[4])
	tests := []struct {
		name, digest, rows, failure string
	}{
		{"right", "sha-256=:" + sha(body) + ":", "1", ""},
		{"with another algorithm", "sha-512=:AAAA:, sha-256=:" + sha(body) + ":", "1", ""},
		{"wrong digest", "sha-256=:" + sha("x") + ":", "1", "digest_mismatch"},
		{"wrong rows", "sha-256=:" + sha(body) + ":", "2", "wrong_rows"},
		{"no Export-Rows", "sha-256=:" + sha(body) + ":", "", "wrong_rows"},
		{"no Content-Digest", "", "1", "truncated"},
		{"no trailers", "", "", "trailers_missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "Content-Digest, Export-Rows")
				w.Header().Set("Content-Type", "text/csv; charset=utf-8")
				w.Header().Set("Content-Disposition", `attachment; filename="trades.csv"`)
				_, _ = w.Write([]byte(body))
				if tt.digest != "" {
					w.Header().Set("Content-Digest", tt.digest)
				}
				if tt.rows != "" {
					w.Header().Set("Export-Rows", tt.rows)
				}
			}))
			defer srv.Close()
			r := (&export.Client{API: api.V1(srv.URL, "")}).CSV(context.Background(), exp)
			if r.Failure() != tt.failure {
				t.Errorf("failure %q, want %q: %v", r.Failure(), tt.failure, r.Examples)
			}
			var tl export.Tally
			tl.Add(r)
			untrailered := tt.digest == "" && tt.rows == ""
			if tl.CSV.Exact != 1 || tl.CSV.Untrailered != map[bool]int{true: 1}[untrailered] || tl.CSV.TrailersStripped() != untrailered {
				t.Errorf("totals %+v: want exact, untrailered %v", tl.CSV, untrailered)
			}
		})
	}
}

// TestContentHeaders serves a right body under each Content-Type and Content-Disposition: only
// text/csv with charset=utf-8 and an attachment with a filename pass.
func TestContentHeaders(t *testing.T) {
	recs := seed.Generate(1, 1, 1)
	exp := expected(t, recs, export.Options{Columns: []string{"quantity"}})
	body := fmt.Sprintf("id,quantity\r\n1,%d\r\n", recs[0].Values[4])
	for _, tt := range []struct {
		name, ctype, disposition string
		ok                       bool
	}{
		{"right", "text/csv; charset=utf-8", `attachment; filename="trades.csv"`, true},
		{"charset in capitals, quoted", `text/csv; charset="UTF-8"`, `attachment; filename=trades.csv`, true},
		{"octet-stream", "application/octet-stream", `attachment; filename="trades.csv"`, false},
		{"no charset", "text/csv", `attachment; filename="trades.csv"`, false},
		{"latin-1", "text/csv; charset=iso-8859-1", `attachment; filename="trades.csv"`, false},
		{"no Content-Type", "", `attachment; filename="trades.csv"`, false},
		{"no Content-Disposition", "text/csv; charset=utf-8", "", false},
		{"inline", "text/csv; charset=utf-8", `inline; filename="trades.csv"`, false},
		{"attachment without a filename", "text/csv; charset=utf-8", "attachment", false},
		{"malformed", "text/csv; charset=utf-8", `attachment; filename="trades.csv`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "Content-Digest, Export-Rows")
				w.Header()["Content-Type"] = []string{tt.ctype}
				if tt.disposition != "" {
					w.Header().Set("Content-Disposition", tt.disposition)
				}
				_, _ = w.Write([]byte(body))
				w.Header().Set("Content-Digest", "sha-256=:"+sha(body)+":")
				w.Header().Set("Export-Rows", "1")
			}))
			defer srv.Close()
			r := (&export.Client{API: api.V1(srv.URL, "")}).CSV(context.Background(), exp)
			if r.Media.OK() != tt.ok || (r.Failure() == "") != tt.ok {
				t.Errorf("media %+v, failure %q; want ok %v", r.Media, r.Failure(), tt.ok)
			}
			if !tt.ok && r.Failure() != "content_headers" {
				t.Errorf("failure %q, want content_headers", r.Failure())
			}
		})
	}
}

func TestPDFHealthy(t *testing.T) {
	c, recs := seeded(t, fake.Config{}, 300)
	exp := expected(t, recs, export.Options{})
	r := c.PDF(context.Background(), exp)
	if f := r.Failure(); f != "" {
		t.Fatalf("failure %q: %v", f, r.Examples)
	}
	first, later := fake.RowsPerPage()
	pages := 1 + (300-first+later-1)/later
	if r.Pages != pages || r.PagesForRows != pages || r.Footers != pages || r.RowsPerPage != later || r.IDs != 300 {
		t.Errorf("report %+v", r)
	}
	// The title and the Unicode text survive the round trip through the font's ToUnicode CMap.
	if got := r.Text[0].Lines[0][0]; !strings.HasPrefix(got, "trades — 300 rows") {
		t.Errorf("title %q", got)
	}
	if !slices.ContainsFunc(r.Text[0].Lines, func(l []string) bool { return slices.Contains(l, "Zürich ✓ 東京") }) {
		t.Errorf("no Unicode note on page 1: %q", r.Text[0].Lines)
	}
}

func TestPDFFaults(t *testing.T) {
	t.Run("missing page", func(t *testing.T) {
		c, recs := seeded(t, fake.Config{Faults: fake.Faults{PDFDropPage: 2}}, 120)
		r := c.PDF(context.Background(), expected(t, recs, export.Options{}))
		_, later := fake.RowsPerPage()
		if r.Failure() != "parse_error" || !r.PageMismatch || r.Missing != later {
			t.Errorf("report %+v", r)
		}
	})
	t.Run("no header, wrong order", func(t *testing.T) {
		recs := seed.Generate(1, 60, 1)
		exp := expected(t, recs, export.Options{Columns: []string{"quantity"}})
		tb := fake.Table{Header: []string{"id", "qty"}} // wrong header text
		for i := len(recs) - 1; i >= 0; i-- {
			tb.Rows = append(tb.Rows, []string{fmt.Sprint(recs[i].ID), "1"})
		}
		var buf bytes.Buffer
		if err := fake.WritePDF(&buf, tb); err != nil {
			t.Fatal(err)
		}
		r := export.VerifyPDF(buf.Bytes(), exp)
		if !r.Valid || r.TableHeaderMissing != r.Pages || r.OutOfOrder != 59 || r.Missing != 0 {
			t.Errorf("report %+v", r)
		}
	})
	t.Run("not a PDF", func(t *testing.T) {
		r := export.VerifyPDF([]byte("%PDF-1.4\nnonsense"), expected(t, seed.Generate(1, 3, 1), export.Options{}))
		if r.Valid || r.Missing != 3 || !r.PageMismatch {
			t.Errorf("report %+v", r)
		}
	})
}

func TestPDFTruncatedHeader(t *testing.T) {
	// A header cell cut short with "…" still counts as the header.
	long := "a_column_name_far_too_long_for_its_cell_in_a_landscape_table_x"
	var schema seed.Schema
	tb := fake.Table{Header: []string{"id"}, Rows: [][]string{{"1"}, {"2"}}}
	recs := []seed.Record{{ID: 1}, {ID: 2}}
	for i := range 11 {
		name := fmt.Sprintf("c%d", i)
		if i == 10 {
			name = long
		}
		schema = append(schema, seed.Column{Name: name, Type: seed.TypeInt})
		tb.Header = append(tb.Header, name)
		for j := range recs {
			recs[j].Values = append(recs[j].Values, int64(i))
			tb.Rows[j] = append(tb.Rows[j], fmt.Sprint(i))
		}
	}
	exp, err := export.NewExpected("d", schema, recs, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := fake.WritePDF(&buf, tb); err != nil {
		t.Fatal(err)
	}
	r := export.VerifyPDF(buf.Bytes(), exp)
	if r.TableHeaderMissing != 0 || r.Missing != 0 || r.PageMismatch || r.IDs != 2 {
		t.Errorf("report %+v", r)
	}
	if !slices.ContainsFunc(r.Text[0].Lines, func(l []string) bool { return strings.HasSuffix(l[len(l)-1], "…") }) {
		t.Errorf("header not cut short: %q", r.Text[0].Lines)
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}
