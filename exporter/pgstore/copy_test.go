package pgstore

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/exporter"
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
