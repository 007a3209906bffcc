package export

import (
	"bufio"
	"bytes"
	"strconv"
)

// Prefix is the part of a CSV body that a client can trust when the body was cut: the header and
// every record after it that ended with its CRLF, up to the first one that did not.
type Prefix struct {
	HeaderLen int   // bytes of the header record, its CRLF (and a BOM) included; 0: no whole header
	Len       int   // bytes of the header and the whole records
	Rows      int   // whole data records
	LastID    int64 // id of the last whole record; 0 when there is none
}

// CompletePrefix finds the Prefix of body, the start of a CSV export in the v1 format (the id in
// the first column). A record counts only once its CRLF arrived: a cut inside a record, even
// between two fields, leaves it out, so resuming with after=LastID loses and repeats nothing.
func CompletePrefix(body []byte) Prefix {
	var p Prefix
	start := 0
	if bytes.HasPrefix(body, []byte("\xEF\xBB\xBF")) {
		start = 3
	}
	src := bytes.NewReader(body[start:])
	parser := &csvParser{r: bufio.NewReaderSize(src, 64<<10)}
	consumed := func() int { return len(body) - src.Len() - parser.r.Buffered() }
	width := -1
	for {
		rec, err := parser.record()
		if err != nil {
			return p
		}
		end := consumed()
		if end < 2 || string(body[end-2:end]) != "\r\n" {
			return p // the body ends inside this record's line end (or the record was never ended)
		}
		if width < 0 {
			width = len(rec)
			p.HeaderLen, p.Len = end, end
			continue
		}
		id, err := strconv.ParseInt(rec[0], 10, 64)
		if err != nil || len(rec) != width {
			return p
		}
		p.Len, p.Rows, p.LastID = end, p.Rows+1, id
	}
}
