package pgstore

import (
	"encoding/binary"
	"strconv"

	"github.com/exportatscale/exportatscale/exporter"
)

// pgEpochMicros is 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix microseconds.
const pgEpochMicros = 946684800_000_000

// pgCellText appends the canonical cell text (see exporter.Type) of one binary COPY field of type t.
func pgCellText(dst []byte, t exporter.Type, b []byte, nanos int) ([]byte, error) {
	switch t {
	case exporter.TypeString:
		return append(dst, b...), nil
	case exporter.TypeInt:
		if len(b) != 8 {
			return dst, exporter.ErrCorrupt
		}
		return strconv.AppendInt(dst, int64(binary.BigEndian.Uint64(b)), 10), nil
	case exporter.TypeBool:
		if len(b) != 1 {
			return dst, exporter.ErrCorrupt
		}
		return strconv.AppendBool(dst, b[0] != 0), nil
	case exporter.TypeTimestamp:
		if len(b) != 8 {
			return dst, exporter.ErrCorrupt
		}
		return appendTimestamp(dst, int64(binary.BigEndian.Uint64(b))+pgEpochMicros, nanos), nil
	case exporter.TypeDecimal:
		return numericText(dst, b)
	}
	return dst, exporter.ErrCorrupt
}

// numericText appends the text of a binary numeric: ndigits, weight, sign and display scale, then
// ndigits base-10000 digits, the first of weight 10000^weight. The text has exactly dscale
// fractional digits, as PostgreSQL's own output does.
func numericText(dst, b []byte) ([]byte, error) {
	if len(b) < 8 {
		return dst, exporter.ErrCorrupt
	}
	ndigits := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(binary.BigEndian.Uint16(b[6:]))
	if len(b) != 8+2*ndigits || (sign != 0 && sign != 0x4000) {
		return dst, exporter.ErrCorrupt // NaN and the infinities are never stored
	}
	for k := range ndigits {
		if binary.BigEndian.Uint16(b[8+2*k:]) > 9999 {
			return dst, exporter.ErrCorrupt
		}
	}
	digit := func(k int) int {
		if k < 0 || k >= ndigits {
			return 0
		}
		return int(binary.BigEndian.Uint16(b[8+2*k:]))
	}
	if sign == 0x4000 && ndigits > 0 {
		dst = append(dst, '-')
	}
	if weight < 0 || ndigits == 0 {
		dst = append(dst, '0')
	} else {
		dst = appendLead(dst, digit(0))
		for k := 1; k <= weight; k++ {
			dst = appendFour(dst, digit(k), 4)
		}
	}
	if dscale > 0 {
		dst = append(dst, '.')
		for p, left := 1, dscale; left > 0; p++ {
			d := digit(weight + p)
			dst = appendFour(dst, d, min(4, left))
			left -= 4
		}
	}
	return dst, nil
}

// appendLead appends a base-10000 digit d (0–9999) without leading zeros.
func appendLead(dst []byte, d int) []byte {
	switch {
	case d >= 1000:
		return appendFour(dst, d, 4)
	case d >= 100:
		return append(dst, byte('0'+d/100), decimalPairs[2*(d%100)], decimalPairs[2*(d%100)+1])
	case d >= 10:
		return append(dst, decimalPairs[2*d], decimalPairs[2*d+1])
	}
	return append(dst, byte('0'+d))
}

// appendFour appends the first n of the four decimal digits of a base-10000 digit d (0–9999).
func appendFour(dst []byte, d, n int) []byte {
	hi, lo := d/100, d%100
	four := [4]byte{decimalPairs[2*hi], decimalPairs[2*hi+1], decimalPairs[2*lo], decimalPairs[2*lo+1]}
	return append(dst, four[:n]...)
}

// appendTimestamp appends the RFC 3339 UTC text of a moment given as Unix microseconds and the
// nanoseconds beyond them, as time.RFC3339Nano formats it (fraction without trailing zeros), for
// the years 0000–9999 that ingest allows; a few times faster than time.Time.AppendFormat.
func appendTimestamp(dst []byte, micros int64, nanos int) []byte {
	const microsPerDay = 86400 * 1_000_000
	days := micros / microsPerDay
	rem := micros % microsPerDay
	if rem < 0 {
		days--
		rem += microsPerDay
	}
	// Days since 1970-01-01 to the civil date (H. Hinnant's algorithm, proleptic Gregorian).
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if month > 12 {
		month -= 12
	}
	year := yoe + era*400
	if month <= 2 {
		year++
	}
	secs := int(rem / 1_000_000)
	frac := int(rem%1_000_000)*1000 + nanos
	// Into an array first, two digits at a time from decimalPairs, then appended at once.
	var b [30]byte
	pair := func(at, v int) { b[at], b[at+1] = decimalPairs[2*v], decimalPairs[2*v+1] }
	pair(0, int(year/100))
	pair(2, int(year%100))
	b[4] = '-'
	pair(5, int(month))
	b[7] = '-'
	pair(8, int(day))
	b[10] = 'T'
	pair(11, secs/3600)
	b[13] = ':'
	pair(14, secs/60%60)
	b[16] = ':'
	pair(17, secs%60)
	n := 19
	if frac > 0 {
		b[19] = '.'
		hi, mid, lo := frac/1_000_000, frac/1000%1000, frac%1000
		b[20] = byte('0' + hi/100)
		pair(21, hi%100)
		b[23] = byte('0' + mid/100)
		pair(24, mid%100)
		b[26] = byte('0' + lo/100)
		pair(27, lo%100)
		n = 29
		for b[n-1] == '0' { // no trailing zeros; frac > 0, so a digit other than 0 stops it
			n--
		}
	}
	b[n] = 'Z'
	return append(dst, b[:n+1]...)
}

// decimalPairs holds the two-digit texts of 0 to 99, end to end.
const decimalPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

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
		return dst, exporter.ErrCorrupt
	}
	digit := func(b byte) (int, error) {
		if b < '0' || b > '9' {
			return 0, exporter.ErrCorrupt
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
