package pdftext

import (
	"errors"
	"fmt"
)

// Page is the text of one PDF page: lines from top to bottom, each line's text runs from left to
// right. A run is the text of one show-text sequence, which for a table is one cell.
type Page struct {
	Lines [][]string
}

// Extract returns the text of every page of a PDF document. Text is decoded through each font's
// ToUnicode CMap (bfchar and bfrange entries), which is how a UTF-8 TrueType font embedded by fpdf
// (Type0, Identity-H, two-byte codes) is read back; fonts without one fall back to WinAnsi for
// simple fonts and to UTF-16 for two-byte fonts. Text in form XObjects is not read. A document
// that cannot be read is an error.
func Extract(doc []byte) ([]Page, error) {
	d, err := parse(doc)
	if err != nil {
		return nil, err
	}
	pages, err := d.pages()
	if err != nil {
		return nil, err
	}
	fonts := map[int]*fontDecoder{} // by object number, shared across pages
	out := make([]Page, 0, len(pages))
	for n, p := range pages {
		content, err := d.content(p.dict["Contents"])
		if err != nil {
			return nil, fmt.Errorf("page %d content: %w", n+1, err)
		}
		decoders, err := d.pageFonts(p.resources, fonts)
		if err != nil {
			return nil, fmt.Errorf("page %d fonts: %w", n+1, err)
		}
		runs, err := interpret(content, decoders)
		if err != nil {
			return nil, fmt.Errorf("page %d content: %w", n+1, err)
		}
		out = append(out, layout(runs))
	}
	return out, nil
}

// page is a leaf of the page tree with the resources it has or inherits.
type page struct {
	dict      dict
	resources dict
}

// pages walks the page tree (ISO 32000-1 §7.7.3) in order.
func (d *document) pages() ([]page, error) {
	root := d.dict(d.objects[d.root])["Pages"]
	var out []page
	seen := map[int]bool{}
	var walk func(v any, res dict, depth int) error
	walk = func(v any, res dict, depth int) error {
		if depth > maxDepth {
			return errors.New("page tree too deep")
		}
		if r, ok := v.(ref); ok {
			if seen[r.num] {
				return fmt.Errorf("page tree visits object %d twice", r.num)
			}
			seen[r.num] = true
		}
		node, ok := d.resolve(v).(dict)
		if !ok {
			return errors.New("page tree node is not a dictionary")
		}
		if r := d.dict(node["Resources"]); r != nil {
			res = r
		}
		kids, hasKids := d.resolve(node["Kids"]).(array)
		if node["Type"] == name("Page") || node["Type"] != name("Pages") && !hasKids {
			out = append(out, page{dict: node, resources: res})
			return nil
		}
		for _, k := range kids {
			if err := walk(k, res, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, nil, 0); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no pages")
	}
	return out, nil
}

// content returns the decoded content of a page: one stream or an array of them, joined.
func (d *document) content(v any) ([]byte, error) {
	var streams []any
	switch c := d.resolve(v).(type) {
	case nil:
		return nil, nil
	case *stream:
		streams = []any{c}
	case array:
		streams = c
	default:
		return nil, errors.New("contents are not a stream")
	}
	var out []byte
	for _, s := range streams {
		st, ok := d.resolve(s).(*stream)
		if !ok {
			return nil, errors.New("contents are not a stream")
		}
		b, err := d.decode(st)
		if err != nil {
			return nil, err
		}
		if len(out)+len(b) > maxStreamBytes {
			return nil, fmt.Errorf("more than %d bytes", maxStreamBytes)
		}
		out = append(append(out, b...), '\n')
	}
	return out, nil
}

// pageFonts returns a decoder for every font resource name of a page.
func (d *document) pageFonts(res dict, cache map[int]*fontDecoder) (map[string]*fontDecoder, error) {
	out := map[string]*fontDecoder{}
	for key, v := range d.dict(res["Font"]) {
		r, isRef := v.(ref)
		if dec, ok := cache[r.num]; isRef && ok {
			out[string(key)] = dec
			continue
		}
		dec, err := d.newFontDecoder(d.dict(v))
		if err != nil {
			return nil, fmt.Errorf("font %s: %w", key, err)
		}
		if isRef {
			cache[r.num] = dec
		}
		out[string(key)] = dec
	}
	return out, nil
}

func (d *document) newFontDecoder(font dict) (*fontDecoder, error) {
	if font == nil {
		return nil, errors.New("not a dictionary")
	}
	dec := &fontDecoder{codeLen: 1}
	if font["Subtype"] == name("Type0") {
		dec.codeLen = 2
	}
	s, ok := d.resolve(font["ToUnicode"]).(*stream)
	if !ok {
		return dec, nil
	}
	b, err := d.decode(s)
	if err != nil {
		return nil, fmt.Errorf("ToUnicode: %w", err)
	}
	if dec.cmap, err = parseToUnicode(b); err != nil {
		return nil, fmt.Errorf("ToUnicode: %w", err)
	}
	if dec.codeLen == 2 && dec.cmap.codeLen > 0 {
		dec.codeLen = dec.cmap.codeLen // a composite font's codes are as long as its codespace says
	}
	return dec, nil
}
