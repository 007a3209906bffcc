package pdftext_test

import (
	"bytes"
	"compress/zlib"
	"encoding/ascii85"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/exportatscale/exportatscale/internal/pdftext"
)

// The documents under testdata/ were written once, by a throwaway test in package exporter (at
// 135d5a9), with the exporter's own PDF writer (renderPDF: fpdf, the Go fonts embedded as UTF-8
// TrueType, compressed content), created at the time below; except objstm.pdf, which is
// multipage.pdf rewritten by pdfcpu v0.15.0 (api.Optimize) with object streams and a
// cross-reference stream, and truncated.pdf, the first half of multipage.pdf. The exporter's own
// tests (exporter/pdf_test.go) read its current output through this package too.

const created = "2026-01-02T03:04:05Z"

var (
	header        = []string{"id", "symbol", "qty", "price", "at", "ok"}
	unicodeHeader = []string{"id", "name", "note"}
)

func title(name string, rows int) []string {
	return []string{fmt.Sprintf("%s — %d rows — exported %s", name, rows, created)}
}

func footer(n, of int) []string { return []string{fmt.Sprintf("Page %d of %d", n, of)} }

// multipageRows are the rows of multipage.pdf, as the generator wrote them.
func multipageRows(from, to int) [][]string {
	var rows [][]string
	for i := from; i < to; i++ {
		rows = append(rows, []string{fmt.Sprint(i + 1), fmt.Sprintf("S%03d", i+1), fmt.Sprint(i * 7),
			fmt.Sprintf("%d.%02d", i, i%100), created, fmt.Sprint(i%2 == 0)})
	}
	return rows
}

func multipage() [][][]string {
	page := func(n, from, to int) [][]string {
		return slices.Concat([][]string{title("multipage", 90), header}, multipageRows(from, to), [][]string{footer(n, 3)})
	}
	return [][][]string{page(1, 0, 42), page(2, 42, 84), page(3, 84, 90)}
}

func TestExtract(t *testing.T) {
	for _, tt := range []struct {
		file  string
		pages [][][]string // lines of text runs, page by page
		err   string       // or the error
	}{
		{file: "single.pdf", pages: [][][]string{{
			title("single", 3),
			header,
			{"1", "ACME", "10", "1.50", "2026-01-02T03:04:05Z", "true"},
			{"2", "BOLT", "-3", "0.25", "2026-01-02T03:04:06Z", "false"},
			{"3", "CRUX", "0", "100", "2026-01-02T03:04:07Z", "true"},
			footer(1, 1),
		}}},
		{file: "multipage.pdf", pages: multipage()},
		{file: "objstm.pdf", pages: multipage()},
		{file: "unicode.pdf", pages: [][][]string{{
			title("unicode", 5),
			unicodeHeader,
			{"1", "שלום", "עברית: שלום עולם"},
			{"2", "日本語", "中文 漢字 テキスト"},
			{"3", "café", "naïve Ä Ö Ü ß € — “quoted” Ωμέγα Привет"},
			{"4", "\uFFFD smile", "tab here, line break"}, // past U+FFFF: fpdf's fonts stop at the BMP
			{"5", "long", "a note far too long for its column, so that the exporter cuts it and ends it with an ellipsis, which the…"},
			footer(1, 1),
		}}},
		{file: "truncated.pdf", err: "no document catalog"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			pages, err := pdftext.Extract(readFile(t, tt.file))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(pages) != len(tt.pages) {
				t.Fatalf("%d pages, want %d", len(pages), len(tt.pages))
			}
			for i, p := range pages {
				if !slices.EqualFunc(p.Lines, tt.pages[i], slices.Equal) {
					t.Errorf("page %d:\n got %q\nwant %q", i+1, p.Lines, tt.pages[i])
				}
			}
		})
	}
}

// TestTextOnly: the exports stripped down to their text (as the fuzzer is seeded) read the same.
func TestTextOnly(t *testing.T) {
	for _, name := range []string{"single.pdf", "multipage.pdf", "unicode.pdf"} {
		doc := readFile(t, name)
		want, err := pdftext.Extract(doc)
		if err != nil {
			t.Fatal(err)
		}
		small := textOnly(t, doc)
		got, err := pdftext.Extract(small)
		if err != nil || !slices.EqualFunc(got, want, func(a, b pdftext.Page) bool { return slices.EqualFunc(a.Lines, b.Lines, slices.Equal) }) {
			t.Errorf("%s: %d bytes stripped to %d read as %q, %v", name, len(doc), len(small), got, err)
		}
	}
}

// textOnly returns an fpdf document with its content streams stored uncompressed and the streams
// text extraction does not read (font programs, the CID-to-glyph map) emptied: a small seed in
// which the fuzzer's mutations reach content streams and CMaps rather than font bytes.
func textOnly(t testing.TB, doc []byte) []byte {
	t.Helper()
	var out []byte
	for {
		loc := streamStart.FindIndex(doc)
		if loc == nil {
			return append(out, doc...)
		}
		dictAt := bytes.LastIndex(doc[:loc[0]], []byte("<<"))
		m := lengthRE.FindSubmatchIndex(doc[dictAt:loc[1]])
		if dictAt < 0 || m == nil {
			t.Fatalf("stream without a /Length at %d", loc[0])
		}
		n, _ := strconv.Atoi(string(doc[dictAt+m[2] : dictAt+m[3]]))
		dict, data := string(doc[dictAt:loc[0]+2]), doc[loc[1]:loc[1]+n]
		if strings.Contains(dict, "/FlateDecode") {
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
			dict = strings.Replace(dict, "/Filter /FlateDecode", "", 1)
		}
		if strings.Contains(dict, "/Length1") || len(data) > 64<<10 {
			data = nil
		}
		dict = lengthRE.ReplaceAllString(dict, fmt.Sprintf("/Length %d", len(data)))
		out = append(append(append(out, doc[:dictAt]...), dict+"\nstream\n"...), data...)
		doc = doc[loc[1]+n:]
	}
}

var (
	streamStart = regexp.MustCompile(`>>\s*stream\r?\n`)
	lengthRE    = regexp.MustCompile(`/Length (\d+)`)
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// handMade assembles a PDF from object bodies, numbered from 1, with no cross-reference table:
// the extractor does not read it.
func handMade(objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	for i, o := range objs {
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	b.WriteString("trailer\n<< /Root 1 0 R >>\n%%EOF\n")
	return b.Bytes()
}

func streamObj(dict, data string) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

func deflate(s string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.String()
}

const identityCMap = "begincmap 1 begincodespacerange <0000> <FFFF> endcodespacerange " +
	"1 beginbfrange <0000> <FFFF> <0000> endbfrange endcmap"

// handMadeDocs are small documents that exercise what fpdf's output does not: simple fonts,
// content arrays, inherited resources, an indirect /Length, other filters, incremental updates.
var handMadeDocs = map[string][]byte{
	"simple font, WinAnsi": handMade(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 /Resources << /Font << /F1 4 0 R >> >> >>",
		"<< /Type /Page /Parent 2 0 R /Contents [5 0 R 6 0 R] >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		streamObj("", "BT /F1 12 Tf 72 720 Td (Caf\\351 \\223ok\\224) Tj ET"),
		streamObj("/Filter /ASCIIHexDecode", hex.EncodeToString([]byte("BT 72 700 Td (second line) Tj ET"))+">"),
	),
	"Type0 font, indirect length, A85 and Flate": handMade(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> >> /Contents 6 0 R >>",
		"<< /Type /Font /Subtype /Type0 /Encoding /Identity-H /ToUnicode 5 0 R >>",
		streamObj("/Filter /FlateDecode", deflate(identityCMap)),
		"<< /Length 7 0 R /Filter [/ASCII85Decode /FlateDecode] >>\nstream\n"+a85(deflate("BT /F1 9 Tf 10 10 Td <05E905DC05D505DD> Tj [<0041> -300 <0042>] TJ ET"))+"\nendstream",
		"0",
	),
	"updated": append(handMade(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
		streamObj("", "BT 1 0 0 1 10 10 Tm (old) Tj ET"),
	), "4 0 obj\n"+streamObj("", "BT 1 0 0 1 10 10 Tm (new) Tj ET")+"\nendobj\n"...),
}

func a85(s string) string {
	var b bytes.Buffer
	w := ascii85.NewEncoder(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.String() + "~>"
}

func TestExtractHandMade(t *testing.T) {
	for name, want := range map[string][][]string{
		"simple font, WinAnsi":                       {{"Café “ok”"}, {"second line"}},
		"Type0 font, indirect length, A85 and Flate": {{"שלוםA B"}},
		"updated": {{"new"}},
	} {
		t.Run(name, func(t *testing.T) {
			pages, err := pdftext.Extract(handMadeDocs[name])
			if err != nil {
				t.Fatal(err)
			}
			if len(pages) != 1 || !slices.EqualFunc(pages[0].Lines, want, slices.Equal) {
				t.Errorf("got %q, want one page %q", pages, want)
			}
		})
	}
}

// TestExtractMalformed: a document that cannot be read is an error, whatever is wrong with it.
func TestExtractMalformed(t *testing.T) {
	deep := []string{"<< /Type /Catalog /Pages 2 0 R >>"}
	for i := 2; i < 100; i++ {
		deep = append(deep, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] >>", i+1))
	}
	deep = append(deep, "<< /Type /Page >>")
	for _, tt := range []struct {
		name string
		doc  []byte
		err  string
	}{
		{"empty", nil, "not a PDF"},
		{"no objects", []byte("%PDF-1.7\n%%EOF"), "no objects"},
		{"no catalog", handMade("<< /Type /Pages /Kids [] >>"), "no document catalog"},
		{"no pages", handMade("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] >>"), "no pages"},
		{"page tree cycle", handMade("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [2 0 R] >>"), "twice"},
		{"page tree too deep", handMade(deep...), "too deep"},
		{"node not a dictionary", handMade("<< /Type /Catalog /Pages 2 0 R >>", "[1 2 3]"), "not a dictionary"},
		{"contents not a stream", handMade("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Page /Contents 5 >>"), "not a stream"},
		{"unknown filter", handMade("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Page /Contents 3 0 R >>",
			streamObj("/Filter /JBIG2Decode", "x")), "not supported"},
		{"bad deflate", handMade("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Page /Contents 3 0 R >>",
			streamObj("/Filter /FlateDecode", "not zlib")), "FlateDecode"},
		{"unterminated string", handMade("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Page /Contents 3 0 R >>",
			streamObj("", "BT (abc Tj ET")), "unterminated string"},
		{"bad ToUnicode", handMade("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Page /Resources << /Font << /F 3 0 R >> >> >>",
			"<< /Type /Font /Subtype /Type0 /ToUnicode 4 0 R >>", streamObj("", "begincmap <00")), "ToUnicode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pages, err := pdftext.Extract(tt.doc)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Extract = %q, %v; want an error with %q", pages, err, tt.err)
			}
		})
	}
}

// FuzzExtract: any input gives pages or an error, never a panic or a hang; the text is valid
// UTF-8 and no line is empty. The seeds are the testdata documents and the hand-made ones.
func FuzzExtract(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.pdf"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, name := range files {
		doc := readFile(f, filepath.Base(name))
		f.Add(doc)
		if name := filepath.Base(name); name != "truncated.pdf" && name != "objstm.pdf" {
			f.Add(textOnly(f, doc))
		}
	}
	for _, doc := range handMadeDocs {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		pages, err := pdftext.Extract(doc)
		if err != nil {
			return
		}
		for i, p := range pages {
			for _, line := range p.Lines {
				if len(line) == 0 {
					t.Fatalf("page %d has an empty line", i+1)
				}
				for _, s := range line {
					if !utf8.ValidString(s) {
						t.Fatalf("page %d: invalid UTF-8 %q", i+1, s)
					}
				}
			}
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	doc := readFile(b, "multipage.pdf")
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := pdftext.Extract(doc); err != nil {
			b.Fatal(err)
		}
	}
}
