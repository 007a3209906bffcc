package pgstore

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/exporter"
	"github.com/exportatscale/exportatscale/exporter/internal/csvenc"
)

// TestCopyRoundTrip encodes records as a binary COPY stream (copyBatch, what ingest sends) and
// decodes it (copyDecoder, what an export reads), handed over in pieces cut anywhere: the cells
// (canonical texts, as ingest makes them) come back as they went in.
func TestCopyRoundTrip(t *testing.T) {
	sc := exporter.Schema{Columns: []exporter.Column{{Name: "s", Type: exporter.TypeString}, {Name: "i", Type: exporter.TypeInt}, {Name: "d", Type: exporter.TypeDecimal}, {Name: "t", Type: exporter.TypeTimestamp}, {Name: "b", Type: exporter.TypeBool}}}
	var recs []exporter.Record
	var want [][]string
	base := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	for id := 1; id <= 300; id++ {
		row := []string{
			fmt.Sprint(id),
			fmt.Sprintf("%srow %d, \"q\"\r\n%s", []string{"", "=", "-"}[id%3], id, strings.Repeat("é", id%7)),
			fmt.Sprint(id*7919 - 100000),
			fmt.Sprintf("%d.%0*d", id-150, id%5+1, id%10),
			base.Add(time.Duration(id) * 86_399_123_456_789).Format(time.RFC3339Nano),
			fmt.Sprint(id%2 == 0),
		}
		var v []byte
		for _, c := range row[1:] {
			v = binary.AppendUvarint(v, uint64(len(c)))
			v = append(v, c...)
		}
		recs = append(recs, exporter.Record{ID: uint64(id), Value: v})
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

// benchTrades is a binary COPY stream of n rows shaped like the benchmark's trades (a timestamp,
// strings, an int, two decimals, a bool, a note that sometimes needs quotes), and their schema.
func benchTrades(b *testing.B, n int) (exporter.Schema, []byte) {
	b.Helper()
	col := func(name string, t exporter.Type) exporter.Column { return exporter.Column{Name: name, Type: t} }
	sc := exporter.Schema{Columns: []exporter.Column{col("trade_ts", exporter.TypeTimestamp), col("account", exporter.TypeString),
		col("symbol", exporter.TypeString), col("quantity", exporter.TypeInt), col("price", exporter.TypeDecimal),
		col("notional", exporter.TypeDecimal), col("is_amended", exporter.TypeBool), col("note", exporter.TypeString)}}
	notes := []string{"", "settled, T+2", `client said "urgent"`, "=HYPERLINK(\"x\")", "partial fill; remainder cancelled"}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := make([]exporter.Record, n)
	for i := range recs {
		row := []string{ts.Add(time.Duration(i) * 1237 * time.Millisecond).Format(time.RFC3339Nano),
			fmt.Sprintf("ACC-%06d", i*7919%50000), "ACME", fmt.Sprint(i%10000 - 500),
			fmt.Sprintf("%d.%04d", i%500, i%10000), fmt.Sprintf("%d.%02d", i*37%100000, i%100), fmt.Sprint(i%10 == 0), notes[i%len(notes)]}
		var v []byte
		for _, c := range row {
			v = binary.AppendUvarint(v, uint64(len(c)))
			v = append(v, c...)
		}
		recs[i] = exporter.Record{ID: uint64(i + 1), Value: v}
	}
	stream, err := copyBatch(nil, sc, recs)
	if err != nil {
		b.Fatal(err)
	}
	return sc, stream
}

// BenchmarkCopyDecodeCSV is the exporter's side of a PostgreSQL CSV export without the network:
// a binary COPY stream of trades decoded into cells (copyDecoder) and written as CSV records
// (csvenc, typed cells plain, as the exporter's CSV encoder sets it). Per row.
func BenchmarkCopyDecodeCSV(b *testing.B) {
	const rows = 10000
	sc, stream := benchTrades(b, rows)
	enc := csvenc.New(io.Discard)
	enc.Strings = make([]bool, 1+len(sc.Columns))
	enc.Plain = make([]bool, 1+len(sc.Columns))
	enc.Plain[0] = true
	for i, c := range sc.Columns {
		enc.Strings[1+i] = c.Type == exporter.TypeString
		enc.Plain[1+i] = c.Type != exporter.TypeString
	}
	row := make([][]byte, 1+len(sc.Columns))
	b.SetBytes(int64(len(stream)) / rows)
	b.ResetTimer()
	for i := 0; i < b.N; i += rows {
		d := newCopyDecoder(sc, func(id uint64, cells [][]byte) error {
			row[0] = strconv.AppendUint(row[0][:0], id, 10)
			copy(row[1:], cells)
			return enc.Write(row)
		})
		if _, err := d.Write(stream); err != nil {
			b.Fatal(err)
		}
		if err := d.finish(); err != nil {
			b.Fatal(err)
		}
	}
}
