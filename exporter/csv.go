package exporter

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/exportatscale/exportatscale/exporter/internal/csvenc"
)

// csv streams the export as CSV: csvenc encodes the rows (quoting, the formula guard on string
// columns, the BOM) onto a bodyStream, which sends them in chunks and ends with the trailers.
func (x *exportRun) csv(snap Snapshot, timeout time.Duration) error {
	x.setHeaders("text/csv; charset=utf-8", "csv")
	announceTrailers(x.w.Header())
	x.w.WriteHeader(http.StatusOK)
	x.sent = true
	st := newBodyStream(x.w, timeout, x.onFirst)
	defer func() { x.bytes = st.end() }() // on every path: no chunk may still be in flight once we return

	enc := csvenc.New(st)
	enc.BOM = x.q.bom
	enc.Strings = make([]bool, 1+len(x.cols)) // the id first, never a string
	for i, c := range x.cols {
		enc.Strings[1+i] = x.schema.Columns[c].Type == TypeString
	}
	header := x.header()
	head := make([][]byte, len(header))
	for i, h := range header {
		head[i] = []byte(h)
	}
	if err := enc.Write(head); err != nil {
		return err
	}
	var err error
	if cs, ok := snap.(csvScanner); ok {
		err = cs.ScanCSV(x.q.after, x.q.limit, x.cols, enc, func() error {
			if x.rows++; x.rows&1023 == 0 && x.ctx.Err() != nil {
				return errors.Join(errClientGone, x.ctx.Err())
			}
			return nil
		})
	} else {
		// The cells of the typed columns are canonical texts that never need quotes.
		enc.Plain = make([]bool, 1+len(x.cols))
		enc.Plain[0] = true
		for i := range x.cols {
			enc.Plain[1+i] = !enc.Strings[1+i]
		}
		var id []byte
		var prev uint64
		err = x.scan(snap, 1, func(n uint64, row [][]byte) error {
			id, prev = appendID(id, prev, n), n
			row[0] = id
			if err := enc.Write(row); err != nil {
				return err
			}
			x.rows++
			return nil
		})
	}
	if err == nil {
		err = enc.Close()
	}
	if err == nil {
		err = st.Flush()
	}
	if err != nil {
		return err
	}
	st.setTrailers(x.rows)
	return nil
}

// appendID turns id, the decimal text of prev (empty at first), into that of n. Ids mostly come one
// after another, so it counts up in place when n is prev+1: usually one digit changes.
func appendID(id []byte, prev, n uint64) []byte {
	if n != prev+1 || len(id) == 0 {
		return strconv.AppendUint(id[:0], n, 10)
	}
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] != '9' {
			id[i]++
			return id
		}
		id[i] = '0'
	}
	id[0] = '1' // it was all nines, now all zeros: one digit more
	return append(id, '0')
}
