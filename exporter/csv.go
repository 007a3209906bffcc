package exporter

import (
	"io"

	"github.com/exportatscale/exportatscale/exporter/internal/csvenc"
)

// csvFormat is RFC 4180 CSV, streamed: see package exporter/internal/csvenc for the quoting, the
// formula guard on string columns and the BOM.
var csvFormat = Format{
	Name:        "csv",
	ContentType: "text/csv; charset=utf-8",
	Ext:         "csv",
	Capacity:    Streamed,
	BOM:         true,
	New:         newCSVEncoder,
}

// csvEncoder writes rows as CSV records.
type csvEncoder struct{ w *csvenc.Writer }

// newCSVEncoder writes the header record of t onto w and returns the encoder of its rows. The id
// and the cells of the typed columns are canonical texts that never need quotes, so the encoder
// copies them without looking (csvenc.Writer.Plain); string cells get the quoting scan and the
// formula guard.
func newCSVEncoder(w io.Writer, t Table) Encoder {
	enc := csvenc.New(w)
	enc.BOM = t.BOM
	enc.Strings = make([]bool, 1+len(t.Types))
	enc.Plain = make([]bool, 1+len(t.Types))
	enc.Plain[0] = true
	for i, ty := range t.Types {
		enc.Strings[1+i] = ty == TypeString
		enc.Plain[1+i] = ty != TypeString
	}
	head := make([][]byte, len(t.Header))
	for i, h := range t.Header {
		head[i] = []byte(h)
	}
	// The header's names are not canonical texts: written with no column plain, then the flags back.
	plain := enc.Plain
	enc.Plain = nil
	_ = enc.Write(head) // an error stays with the writer: Encode and Close return it
	enc.Plain = plain
	return &csvEncoder{w: enc}
}

func (e *csvEncoder) Encode(row [][]byte) error { return e.w.Write(row) }

func (e *csvEncoder) Close() error { return e.w.Close() }
