package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/exportatscale/exportatscale/exporter"
	"github.com/exportatscale/exportatscale/internal/pgtmp"
)

// TestNumericText compares numericText, on the binary form PostgreSQL sends, with PostgreSQL's own
// text for the same numbers, and numericBinary, on that text (the canonical decimal, which the
// exporter's own TestCanonicalDecimalAsPostgres checks), with that binary form.
func TestNumericText(t *testing.T) {
	c := pgtmp.ForTest(t, pgtmp.Options{NoFsync: true})
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
		if enc, err := numericBinary(nil, []byte(text)); err != nil || string(enc) != string(bin) {
			t.Errorf("numericBinary(%s) = %x, %v; PostgreSQL sends %x", text, enc, err, bin)
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
		if got, err := numericText(nil, bin); !errors.Is(err, exporter.ErrCorrupt) {
			t.Errorf("%s: numericText = %q, %v; want ErrCorrupt", name, got, err)
		}
	}
}
