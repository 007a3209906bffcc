package pdftext

import (
	"reflect"
	"testing"
)

const testCMap = `/CIDInit /ProcSet findresource begin
12 dict begin begincmap
1 begincodespacerange <0000> <FFFF> endcodespacerange
2 beginbfchar
<0003> <0020>
<0010> <D83DDE00>
endbfchar
2 beginbfrange
<0024> <0026> <0041>
<0030> <0031> [<00FC> <2713>]
endbfrange
endcmap end end`

func TestToUnicode(t *testing.T) {
	cm, err := parseToUnicode([]byte(testCMap))
	if err != nil {
		t.Fatal(err)
	}
	dec := &fontDecoder{codeLen: cm.codeLen, cmap: cm}
	got := layout([]run{{text: dec.decode([]byte("\x00\x24\x00\x26\x00\x03\x00\x30\x00\x31\x00\x10\x00\x99"))}})
	// A, C, space, ü, ✓, a surrogate pair (😀), and an unmapped code read as UTF-16.
	if want := "AC ü✓😀\u0099"; got.Lines[0][0] != want {
		t.Errorf("got %q, want %q", got.Lines[0][0], want)
	}
}

func TestInterpret(t *testing.T) {
	fonts := map[string]*fontDecoder{"F1": {codeLen: 1}}
	content := `q 1 0 0 1 0 0 cm BT /F1 12 Tf 100 700 Td (Page 2 of 3) Tj ET Q
BT /F1 9 Tf 1 0 0 1 50 650 Tm (id) Tj 14 TL T* <3432> Tj ET
BT 200 650 Td [(qu) -20 (an) -300 (tity)] TJ ET
% a comment (ignored) Tj
BT 60 636 Td (\(a\)\\b\101\
c) Tj ET
BI /W 1 /H 1 ID xyzEI bytes EI
/Span << /ActualText (x) /MCID 0 >> BDC EMC
BT 300 650.5 Td (\223x\224) Tj ET`
	runs, err := interpret([]byte(content), fonts)
	if err != nil {
		t.Fatal(err)
	}
	got := layout(runs).Lines
	want := [][]string{{"Page 2 of 3"}, {"id", "quan tity", "“x”"}, {"42", `(a)\bAc`}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestObjects(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want any
	}{
		{`<< /Type /Page /Kids [1 0 R 2 0 R] /N 3 /F -1.5 /S (a\)b) /H <41 42 4> /E null /B true >>`, dict{
			"Type": name("Page"), "Kids": array{ref{1}, ref{2}}, "N": 3.0, "F": -1.5, "S": "a)b", "H": "AB@", "E": nil, "B": true,
		}},
		{`[/A#20B 1 R 0 0 R +.5]`, array{name("A B"), 1.0, keyword("R"), ref{0}, 0.5}},
		{`1.2.3`, keyword("1.2.3")},
	} {
		got, err := (&lexer{b: []byte(tt.in)}).object(0)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("object(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{`<< /A >>`, `<< 1 2 >>`, `[1 2`, `(abc`, `<41`, `<4G>`, `)`, `>`, `]`, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"} {
		if got, err := (&lexer{b: []byte(in)}).object(0); err == nil {
			t.Errorf("object(%q) = %#v, want an error", in, got)
		}
	}
}
