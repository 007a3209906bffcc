package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/exportatscale/exportatscale/exporter"
)

type pgSnapshot struct {
	ctx    context.Context
	tx     pgx.Tx
	name   string
	schema exporter.Schema
	rows   int64
}

func (s *pgSnapshot) Schema() exporter.Schema { return s.schema }

func (s *pgSnapshot) Rows() uint64 {
	if s.rows < 0 {
		if err := s.tx.QueryRow(s.ctx, "SELECT count(*) FROM "+pgTable(s.name)).Scan(&s.rows); err != nil {
			s.rows = 0
		}
	}
	return uint64(s.rows)
}

// Scan streams the rows with a binary COPY of the primary key range, turning each row into
// the canonical cell texts that the encoders take: a string's cell is its field as received, the
// others are formatted into one buffer of the decoder, all valid until fn returns.
func (s *pgSnapshot) Scan(after uint64, limit int64, fn func(id uint64, cells [][]byte) error) error {
	return s.copyScan(after, limit, newCopyDecoder(s.schema, fn))
}

// copyScan streams the rows whose ids follow after (at most limit of them, if not negative) in id
// order, with a binary COPY, through d.
func (s *pgSnapshot) copyScan(after uint64, limit int64, d *copyDecoder) error {
	if after >= 1<<63-1 || limit == 0 {
		return nil
	}
	var sel strings.Builder
	sel.WriteString("id")
	for _, c := range s.schema.Columns {
		sel.WriteString(", ")
		sel.WriteString(pgx.Identifier{c.Name}.Sanitize())
	}
	for i, c := range s.schema.Columns {
		if c.Type == exporter.TypeTimestamp {
			sel.WriteString(", " + pgNanos(i))
		}
	}
	sql := fmt.Sprintf("COPY (SELECT %s FROM %s WHERE id > %d ORDER BY id", sel.String(), pgTable(s.name), after)
	if limit > 0 {
		sql += " LIMIT " + strconv.FormatInt(limit, 10)
	}
	sql += ") TO STDOUT (FORMAT binary)"

	// The COPY is received on a goroutine of its own, in chunks, while this one decodes the rows
	// and fn encodes and sends them: the database, the decoding and the client's socket each keep
	// going instead of taking turns. At most pgChunks chunks are in flight, so memory stays bounded.
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	chunks := make(chan []byte, pgChunks)
	free := make(chan []byte, pgChunks+2)
	var copyErr error
	go func() {
		defer close(chunks)
		cw := &chunkWriter{ctx: ctx, out: chunks, free: free}
		end := batchReads(s.tx.Conn().PgConn().Conn(), pgReadMark, &cw.n)
		_, copyErr = s.tx.Conn().PgConn().CopyTo(ctx, cw, sql)
		end()
		if copyErr == nil {
			copyErr = cw.flush()
		}
	}()
	for c := range chunks {
		if d.err == nil {
			if _, err := d.Write(c); err != nil {
				cancel() // fn's error (a stop, the client gone) ends the COPY
			}
		}
		select {
		case free <- c[:0]:
		default:
		}
	}
	if d.err != nil { // fn's own error comes first
		return d.err
	}
	if copyErr != nil {
		return pgError(copyErr)
	}
	return d.finish()
}

// pgChunks and pgChunkSize bound what a scan holds of the COPY stream: 4 chunks of 1 MiB.
const (
	pgChunks    = 4
	pgChunkSize = 1 << 20
)

// chunkWriter gathers the COPY stream's messages (one per row) into chunks for the decoder.
type chunkWriter struct {
	ctx  context.Context
	out  chan<- []byte
	free chan []byte
	buf  []byte
	n    atomic.Int64 // bytes written
}

// pgReadMark is the low-water mark of an export's connection while its COPY streams (see
// batchReads).
const pgReadMark = 64 << 10

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	if w.buf == nil {
		select {
		case w.buf = <-w.free:
		default:
			w.buf = make([]byte, 0, pgChunkSize)
		}
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= pgChunkSize-16<<10 {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	select {
	case w.out <- w.buf:
		w.buf = nil
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}
