package exporter

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"
)

// copyBatch writes recs as a PostgreSQL binary COPY stream (header, one tuple per record, trailer)
// of the columns id, the schema's columns, then the nanoseconds column of each timestamp: the
// table's own layout (see pgTypes), encoded straight from the canonical cell texts, no value
// boxed on the way.
func copyBatch(dst []byte, sc Schema, recs []Record) ([]byte, error) {
	dst = append(dst, pgCopySignature...)
	dst = binary.BigEndian.AppendUint32(dst, 0) // flags
	dst = binary.BigEndian.AppendUint32(dst, 0) // no header extension
	fields := 1 + len(sc.Columns)
	for _, c := range sc.Columns {
		if c.Type == TypeTimestamp {
			fields++
		}
	}
	cells := make([][]byte, 0, len(sc.Columns))
	var nanos []int16
	for _, r := range recs {
		var err error
		if cells, err = decodeCells(cells, r.Value, len(sc.Columns)); err != nil {
			return nil, fmt.Errorf("record %d: %w", r.ID, err)
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(fields))
		dst = binary.BigEndian.AppendUint32(dst, 8)
		dst = binary.BigEndian.AppendUint64(dst, r.ID)
		nanos = nanos[:0]
		for i, c := range sc.Columns {
			cell := cells[i]
			switch c.Type {
			case TypeString:
				dst = binary.BigEndian.AppendUint32(dst, uint32(len(cell)))
				dst = append(dst, cell...)
			case TypeInt:
				n, err := strconv.ParseInt(string(cell), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("record %d: %w", r.ID, errCorrupt)
				}
				dst = binary.BigEndian.AppendUint32(dst, 8)
				dst = binary.BigEndian.AppendUint64(dst, uint64(n))
			case TypeBool:
				dst = binary.BigEndian.AppendUint32(dst, 1)
				if string(cell) == "true" {
					dst = append(dst, 1)
				} else {
					dst = append(dst, 0)
				}
			case TypeTimestamp:
				t, err := time.Parse(time.RFC3339Nano, string(cell))
				if err != nil {
					return nil, fmt.Errorf("record %d: %w", r.ID, errCorrupt)
				}
				dst = binary.BigEndian.AppendUint32(dst, 8)
				dst = binary.BigEndian.AppendUint64(dst, uint64(t.UnixMicro()-pgEpochMicros))
				nanos = append(nanos, int16(t.Nanosecond()%1000))
			case TypeDecimal:
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

// numericBinary appends the binary numeric of a canonical decimal (-?digits[.digits], see
// canonicalDecimal), its display scale the number of fractional digits: base-10000 digit groups
// aligned on the decimal point, without leading or trailing zero groups.
func numericBinary(dst, d []byte) ([]byte, error) {
	neg := len(d) > 0 && d[0] == '-'
	if neg {
		d = d[1:]
	}
	intPart, frac := d, []byte(nil)
	for i, c := range d {
		if c == '.' {
			intPart, frac = d[:i], d[i+1:]
			break
		}
	}
	if len(intPart) == 0 || len(frac) > 0x3fff {
		return dst, errCorrupt
	}
	digit := func(b byte) (int, error) {
		if b < '0' || b > '9' {
			return 0, errCorrupt
		}
		return int(b - '0'), nil
	}
	// Groups of the integer part, from the most significant; the first may be short.
	var groups []uint16
	first := len(intPart) % 4
	if first == 0 {
		first = 4
	}
	for at, end := 0, first; at < len(intPart); at, end = end, end+4 {
		g := 0
		for _, b := range intPart[at:end] {
			v, err := digit(b)
			if err != nil {
				return dst, err
			}
			g = g*10 + v
		}
		groups = append(groups, uint16(g))
	}
	weight := len(groups) - 1
	for at := 0; at < len(frac); at += 4 {
		g := 0
		for k := range 4 {
			v := 0
			if at+k < len(frac) {
				var err error
				if v, err = digit(frac[at+k]); err != nil {
					return dst, err
				}
			}
			g = g*10 + v
		}
		groups = append(groups, uint16(g))
	}
	for len(groups) > 0 && groups[0] == 0 {
		groups = groups[1:]
		weight--
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	sign := uint16(0)
	if neg && len(groups) > 0 {
		sign = 0x4000
	}
	if len(groups) == 0 {
		weight = 0
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(groups)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(weight)))
	dst = binary.BigEndian.AppendUint16(dst, sign)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(frac)))
	for _, g := range groups {
		dst = binary.BigEndian.AppendUint16(dst, g)
	}
	return dst, nil
}
