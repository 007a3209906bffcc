package pgstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/exportatscale/exportatscale/exporter"
)

// copyBatch writes recs as a PostgreSQL binary COPY stream (header, one tuple per record, trailer)
// of the columns id, the schema's columns, then the nanoseconds column of each timestamp: the
// table's own layout (see pgTypes), encoded straight from the canonical cell texts, no value
// boxed on the way.
func copyBatch(dst []byte, sc exporter.Schema, recs []exporter.Record) ([]byte, error) {
	dst = append(dst, pgCopySignature...)
	dst = binary.BigEndian.AppendUint32(dst, 0) // flags
	dst = binary.BigEndian.AppendUint32(dst, 0) // no header extension
	fields := 1 + len(sc.Columns)
	for _, c := range sc.Columns {
		if c.Type == exporter.TypeTimestamp {
			fields++
		}
	}
	cells := make([][]byte, 0, len(sc.Columns))
	var nanos []int16
	for _, r := range recs {
		var err error
		if cells, err = exporter.DecodeCells(cells, r.Value, len(sc.Columns)); err != nil {
			return nil, fmt.Errorf("record %d: %w", r.ID, err)
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(fields))
		dst = binary.BigEndian.AppendUint32(dst, 8)
		dst = binary.BigEndian.AppendUint64(dst, r.ID)
		nanos = nanos[:0]
		for i, c := range sc.Columns {
			cell := cells[i]
			switch c.Type {
			case exporter.TypeString:
				dst = binary.BigEndian.AppendUint32(dst, uint32(len(cell)))
				dst = append(dst, cell...)
			case exporter.TypeInt:
				n, err := strconv.ParseInt(string(cell), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("record %d: %w", r.ID, exporter.ErrCorrupt)
				}
				dst = binary.BigEndian.AppendUint32(dst, 8)
				dst = binary.BigEndian.AppendUint64(dst, uint64(n))
			case exporter.TypeBool:
				dst = binary.BigEndian.AppendUint32(dst, 1)
				if string(cell) == "true" {
					dst = append(dst, 1)
				} else {
					dst = append(dst, 0)
				}
			case exporter.TypeTimestamp:
				t, err := time.Parse(time.RFC3339Nano, string(cell))
				if err != nil {
					return nil, fmt.Errorf("record %d: %w", r.ID, exporter.ErrCorrupt)
				}
				dst = binary.BigEndian.AppendUint32(dst, 8)
				dst = binary.BigEndian.AppendUint64(dst, uint64(t.UnixMicro()-pgEpochMicros))
				nanos = append(nanos, int16(t.Nanosecond()%1000))
			case exporter.TypeDecimal:
				at := len(dst)
				dst = binary.BigEndian.AppendUint32(dst, 0)
				if dst, err = numericBinary(dst, cell); err != nil {
					return nil, fmt.Errorf("record %d: %w", r.ID, err)
				}
				binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
			}
		}
		for _, ns := range nanos {
			dst = binary.BigEndian.AppendUint32(dst, 2)
			dst = binary.BigEndian.AppendUint16(dst, uint16(ns))
		}
	}
	return binary.BigEndian.AppendUint16(dst, 0xffff), nil // the trailer: a field count of -1
}

// copyDecoder parses PostgreSQL's binary COPY stream (header, tuples, trailer) as it arrives, in
// whatever pieces it arrives, and hands each tuple on to fn as cells.
type copyDecoder struct {
	schema  exporter.Schema
	fn      func(id uint64, cells [][]byte) error
	pending []byte // an incomplete tuple carried over from the last write
	header  bool
	done    bool
	err     error    // from fn: ends the COPY
	text    []byte   // the texts of the cells that are not strings, end to end
	cells   [][]byte // into text, or into the received fields for strings
	types   []exporter.Type
	strs    []bool // per column: a string, handed on as received
	fields  [][]byte
	nanoIdx []int // per schema column: the index of its nanoseconds field, or -1
}

var pgCopySignature = []byte("PGCOPY\n\xff\r\n\x00")

func newCopyDecoder(sc exporter.Schema, fn func(uint64, [][]byte) error) *copyDecoder {
	n := len(sc.Columns)
	d := &copyDecoder{schema: sc, fn: fn, nanoIdx: make([]int, n), cells: make([][]byte, n), types: make([]exporter.Type, n), strs: make([]bool, n)}
	next := 1 + n
	for i, c := range sc.Columns {
		d.types[i], d.strs[i] = c.Type, c.Type == exporter.TypeString
		d.nanoIdx[i] = -1
		if c.Type == exporter.TypeTimestamp {
			d.nanoIdx[i] = next
			next++
		}
	}
	d.fields = make([][]byte, next)
	return d
}

func (d *copyDecoder) Write(p []byte) (int, error) {
	n := len(p)
	if len(d.pending) > 0 {
		d.pending = append(d.pending, p...)
		p = d.pending
	}
	rest, err := d.parse(p)
	if err != nil {
		if d.err == nil {
			d.err = err
		}
		return 0, err
	}
	d.pending = append(d.pending[:0], rest...)
	return n, nil
}

// parse consumes every complete part of b and returns what is left.
func (d *copyDecoder) parse(b []byte) ([]byte, error) {
	if !d.header {
		const fixed = 11 + 4 + 4
		if len(b) < fixed {
			return b, nil
		}
		if string(b[:11]) != string(pgCopySignature) {
			return nil, errors.New("postgres: not a binary COPY stream")
		}
		ext := binary.BigEndian.Uint32(b[15:19])
		if uint32(len(b)-fixed) < ext {
			return b, nil
		}
		b = b[fixed+int(ext):]
		d.header = true
	}
	for len(b) >= 2 {
		count := int16(binary.BigEndian.Uint16(b))
		if count == -1 {
			d.done = true
			return b[2:], nil
		}
		if int(count) != len(d.fields) {
			return nil, fmt.Errorf("postgres: a COPY row of %d fields, want %d", count, len(d.fields))
		}
		pos := 2
		complete := true
		for i := range d.fields {
			if len(b)-pos < 4 {
				complete = false
				break
			}
			l := int32(binary.BigEndian.Uint32(b[pos:]))
			pos += 4
			if l < 0 {
				return nil, errors.New("postgres: a NULL in a NOT NULL column")
			}
			if len(b)-pos < int(l) {
				complete = false
				break
			}
			d.fields[i] = b[pos : pos+int(l)]
			pos += int(l)
		}
		if !complete {
			return b, nil
		}
		if err := d.row(); err != nil {
			return nil, err
		}
		b = b[pos:]
	}
	return b, nil
}

// row turns the fields of one tuple into cell texts and hands them on.
func (d *copyDecoder) row() error {
	f := d.fields
	if len(f[0]) != 8 {
		return exporter.ErrCorrupt
	}
	id := binary.BigEndian.Uint64(f[0])
	// A string's cell is its field as received (no copy); the other cells are written into
	// text. A cell made before text grows keeps the old array, whose bytes append left as they
	// were: it stays right without a second pass.
	text := d.text[:0]
	for i, str := range d.strs {
		if str {
			d.cells[i] = f[1+i][:len(f[1+i]):len(f[1+i])]
			continue
		}
		at := len(text)
		var err error
		if text, err = pgCellText(text, d.types[i], f[1+i], d.nanos(i)); err != nil {
			return fmt.Errorf("record %d: %w", id, err)
		}
		d.cells[i] = text[at:len(text):len(text)]
	}
	d.text = text
	return d.fn(id, d.cells)
}

func (d *copyDecoder) nanos(i int) int {
	if d.nanoIdx[i] < 0 {
		return 0
	}
	b := d.fields[d.nanoIdx[i]]
	if len(b) != 2 {
		return 0
	}
	return int(int16(binary.BigEndian.Uint16(b)))
}

func (d *copyDecoder) finish() error {
	if !d.done || len(d.pending) != 0 {
		return fmt.Errorf("%w: the COPY stream ended early", exporter.ErrStoreUnavailable)
	}
	return nil
}
