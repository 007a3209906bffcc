package pdftext

import (
	"bytes"
	"compress/zlib"
	"encoding/ascii85"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// document is the objects of a PDF file, by object number.
type document struct {
	objects map[int]any
	root    int // object number of the catalog, or -1
	budget  int // bytes streams may still decode to
}

// parse reads every object of a PDF file. It scans the file for "n g obj" rather than reading the
// cross-reference table, as a reader repairing a damaged file would: a table that is wrong cannot
// mislead it, and an object defined again later (an incremental update) replaces the earlier one.
func parse(b []byte) (*document, error) {
	if !bytes.Contains(b[:min(len(b), 1024)], []byte("%PDF-")) {
		return nil, errors.New("not a PDF: no %PDF- header")
	}
	d := &document{objects: map[int]any{}, root: -1, budget: maxDocBytes}
	var objStms []*stream
	// Bytes read by objects that did not parse: bounded, so that a file of broken objects, each
	// read to the end of the file, costs a few passes over it rather than one per object.
	wasted, maxWasted := 0, 8*len(b)+1<<20
	for i := 0; i < len(b); {
		k := bytes.Index(b[i:], []byte("obj"))
		if k < 0 {
			break
		}
		at := i + k
		i = at + 3
		num, ok := objHeader(b, at)
		if !ok || (i < len(b) && !isSpace(b[i]) && !isDelim(b[i])) {
			continue
		}
		l := &lexer{b: b, pos: i}
		v, err := l.indirect()
		if err != nil {
			if wasted += l.pos - i; wasted > maxWasted {
				return nil, errors.New("too many damaged objects")
			}
			continue // a damaged object: an error later if it is needed
		}
		i = l.pos
		d.objects[num] = v
		if s, ok := v.(*stream); ok && s.dict["Type"] == name("ObjStm") {
			objStms = append(objStms, s)
		}
	}
	// Objects in object streams, unless defined directly.
	inStreams := map[int]any{}
	for _, s := range objStms {
		if err := d.readObjStm(s, inStreams); err != nil {
			return nil, fmt.Errorf("object stream: %w", err)
		}
	}
	for num, v := range inStreams {
		if _, ok := d.objects[num]; !ok {
			d.objects[num] = v
		}
	}
	if len(d.objects) == 0 {
		return nil, errors.New("no objects")
	}
	// The catalog: the document's only /Type /Catalog (the last, in number order, if updated).
	for num, v := range d.objects {
		if dv, ok := v.(dict); ok && dv["Type"] == name("Catalog") && num > d.root {
			d.root = num
		}
	}
	if d.root < 0 {
		return nil, errors.New("no document catalog")
	}
	return d, nil
}

// objHeader reads the object number of "n g obj" whose "obj" starts at b[at].
func objHeader(b []byte, at int) (int, bool) {
	i := at
	digits := func() (int, bool) {
		end := i
		for i > 0 && b[i-1] >= '0' && b[i-1] <= '9' && end-i < 10 {
			i--
		}
		if i == end || i > 0 && b[i-1] >= '0' && b[i-1] <= '9' {
			return 0, false
		}
		n, err := strconv.Atoi(string(b[i:end]))
		return n, err == nil && n <= math.MaxInt32
	}
	spaces := func() bool {
		end := i
		for i > 0 && isSpace(b[i-1]) {
			i--
		}
		return i < end
	}
	if !spaces() {
		return 0, false
	}
	if _, ok := digits(); !ok || !spaces() {
		return 0, false
	}
	num, ok := digits()
	if !ok || i > 0 && !isSpace(b[i-1]) && !isDelim(b[i-1]) {
		return 0, false
	}
	return num, true
}

// indirect reads the body of an indirect object after its "obj" keyword: a value and endobj, or
// a dictionary and a stream.
func (l *lexer) indirect() (any, error) {
	v, err := l.object(0)
	if err != nil {
		return nil, err
	}
	if _, ok := v.(keyword); ok {
		return nil, fmt.Errorf("object starts with %q", v)
	}
	save := l.pos
	t, err := l.token()
	if err != nil || t != keyword("stream") {
		l.pos = save // endobj or not, the value stands
		return v, nil
	}
	sd, ok := v.(dict)
	if !ok {
		return nil, errors.New("stream without a dictionary")
	}
	// The data starts after the end of line that follows the keyword.
	if l.pos < len(l.b) && l.b[l.pos] == '\r' {
		l.pos++
	}
	if l.pos < len(l.b) && l.b[l.pos] == '\n' {
		l.pos++
	}
	start := l.pos
	if n, ok := objNum(sd["Length"]); ok && n <= len(l.b)-start {
		after := &lexer{b: l.b, pos: start + n}
		if t, err := after.token(); err == nil && t == keyword("endstream") {
			l.pos = after.pos
			return &stream{dict: sd, raw: l.b[start : start+n]}, nil
		}
	}
	// No usable /Length (an indirect one, or wrong): the data ends at endstream.
	k := bytes.Index(l.b[start:], []byte("endstream"))
	if k < 0 {
		return nil, errors.New("unterminated stream")
	}
	raw := l.b[start : start+k]
	raw = bytes.TrimSuffix(raw, []byte("\n"))
	raw = bytes.TrimSuffix(raw, []byte("\r"))
	l.pos = start + k + len("endstream")
	return &stream{dict: sd, raw: raw}, nil
}

// readObjStm adds the objects of an object stream (ISO 32000-1 §7.5.7) to into.
func (d *document) readObjStm(s *stream, into map[int]any) error {
	data, err := d.decode(s)
	if err != nil {
		return err
	}
	n, ok1 := objNum(d.resolve(s.dict["N"]))
	first, ok2 := objNum(d.resolve(s.dict["First"]))
	if !ok1 || !ok2 || first > len(data) || n > first {
		return errors.New("bad /N or /First")
	}
	head := &lexer{b: data[:first]}
	type entry struct{ num, off int }
	entries := make([]entry, n)
	for k := range entries {
		a, err1 := head.object(0)
		b, err2 := head.object(0)
		num, ok1 := objNum(a)
		off, ok2 := objNum(b)
		if err1 != nil || err2 != nil || !ok1 || !ok2 || off > len(data)-first {
			return errors.New("bad object offsets")
		}
		entries[k] = entry{num, first + off}
	}
	// Each object ends where the next one starts, so no byte is read twice.
	ends := make([]int, 0, n+1)
	for _, e := range entries {
		ends = append(ends, e.off)
	}
	ends = append(ends, len(data))
	slices.Sort(ends)
	for _, e := range entries {
		k, _ := slices.BinarySearch(ends, e.off+1)
		end := len(data)
		if k < len(ends) {
			end = ends[k]
		}
		v, err := (&lexer{b: data[:end], pos: e.off}).object(0)
		if err != nil {
			return fmt.Errorf("object %d: %w", e.num, err)
		}
		into[e.num] = v
	}
	return nil
}

// resolve follows references; a missing object is null.
func (d *document) resolve(v any) any {
	for range maxRefHops {
		r, ok := v.(ref)
		if !ok {
			return v
		}
		v = d.objects[r.num]
	}
	return nil
}

func (d *document) dict(v any) dict {
	switch v := d.resolve(v).(type) {
	case dict:
		return v
	case *stream:
		return v.dict
	}
	return nil
}

// decode returns the data of a stream with its filters applied.
func (d *document) decode(s *stream) ([]byte, error) {
	var filters, parms []any
	switch f := d.resolve(s.dict["Filter"]).(type) {
	case name:
		filters = []any{f}
	case array:
		filters = f
	}
	switch p := d.resolve(s.dict["DecodeParms"]).(type) {
	case dict:
		parms = []any{p}
	case array:
		parms = p
	}
	data := s.raw
	for i, f := range filters {
		if i < len(parms) {
			if p := d.dict(parms[i]); p != nil {
				if pred, _ := d.resolve(p["Predictor"]).(float64); pred > 1 {
					return nil, fmt.Errorf("filter %v: predictors are not supported", f)
				}
			}
		}
		var err error
		switch d.resolve(f) {
		case name("FlateDecode"), name("Fl"):
			data, err = inflate(data)
		case name("ASCIIHexDecode"), name("AHx"):
			if k := bytes.IndexByte(data, '>'); k >= 0 {
				data = data[:k]
			}
			data, err = hexBytes(data)
		case name("ASCII85Decode"), name("A85"):
			data, err = ascii85Decode(data)
		default:
			err = errors.New("not supported")
		}
		if err != nil {
			return nil, fmt.Errorf("filter %v: %w", f, err)
		}
		if d.budget -= len(data); d.budget < 0 {
			return nil, fmt.Errorf("streams decode to more than %d bytes", maxDocBytes)
		}
	}
	return data, nil
}

func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxStreamBytes+1))
	if len(out) > maxStreamBytes {
		return nil, fmt.Errorf("more than %d bytes", maxStreamBytes)
	}
	// A stream cut short or with a wrong checksum still gives the text it holds, as viewers show it.
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, zlib.ErrChecksum) {
		return nil, err
	}
	return out, nil
}

func ascii85Decode(b []byte) ([]byte, error) {
	b = bytes.TrimPrefix(bytes.TrimLeftFunc(b, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) }), []byte("<~"))
	if k := bytes.Index(b, []byte("~>")); k >= 0 {
		b = b[:k]
	}
	out := make([]byte, 4*len(b)+4) // "z" is four zero bytes
	n, _, err := ascii85.Decode(out, b, true)
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}
