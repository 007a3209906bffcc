package csvenc

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// encode writes records with the given string columns and returns the output.
func encode(t *testing.T, bom bool, strs []bool, records ...[]string) string {
	t.Helper()
	var out bytes.Buffer
	w := New(&out)
	w.BOM, w.Strings = bom, strs
	for _, rec := range records {
		row := make([][]byte, len(rec))
		for i, c := range rec {
			row[i] = []byte(c)
		}
		if err := w.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestField(t *testing.T) {
	tests := []struct {
		name string
		cell string
		str  string // as a string cell
		typ  string // as a typed cell (never guarded)
	}{
		{"plain", "plain", "plain", "plain"},
		{"empty", "", "", ""},
		{"comma", "a,b", `"a,b"`, `"a,b"`},
		{"quote", `say "hi"`, `"say ""hi"""`, `"say ""hi"""`},
		{"only quotes", `""`, `""""""`, `""""""`},
		{"CR", "a\rb", "\"a\rb\"", "\"a\rb\""},
		{"LF", "a\nb", "\"a\nb\"", "\"a\nb\""},
		{"CRLF kept", "a\r\nb", "\"a\r\nb\"", "\"a\r\nb\""},
		{"leading =", "=SUM(A1:A9)", "'=SUM(A1:A9)", "=SUM(A1:A9)"},
		{"leading +", "+1", "'+1", "+1"},
		{"leading -", "-5", "'-5", "-5"},
		{"negative decimal", "-0.50", "'-0.50", "-0.50"},
		{"leading @", "@risk", "'@risk", "@risk"},
		{"leading tab", "\tx", "'\tx", "\tx"},
		{"leading CR", "\rx", "\"'\rx\"", "\"\rx\""},
		{"only CR", "\r", "\"'\r\"", "\"\r\""},
		{"leading '", "'quoted", "''quoted", "'quoted"},
		{"only '", "'", "''", "'"},
		{"guarded and quoted", `=HYPERLINK("x","y")`, `"'=HYPERLINK(""x"",""y"")"`, `"=HYPERLINK(""x"",""y"")"`},
		{"guard chars inside", "mid=dle+of-text@", "mid=dle+of-text@", "mid=dle+of-text@"},
		{"leading space", " =x", " =x", " =x"},
		{"unicode", "naïve café Ωμέγα 中文 😀", "naïve café Ωμέγα 中文 😀", "naïve café Ωμέγα 中文 😀"},
		{"unicode with comma", "Zürich, 東京", `"Zürich, 東京"`, `"Zürich, 東京"`},
		{"control bytes", "\x00\x01", "\x00\x01", "\x00\x01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Column 0 a string, column 1 typed; the same cell in both.
			got := encode(t, false, []bool{true, false}, []string{tt.cell, tt.cell})
			if want := tt.str + "," + tt.typ + "\r\n"; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			// encoding/csv reads it back; inverting the guard gives the cell (encoding/csv reads a
			// quoted CRLF as LF).
			rec, err := csv.NewReader(strings.NewReader(got)).Read()
			if err != nil {
				t.Fatalf("%q does not parse: %v", got, err)
			}
			want := strings.ReplaceAll(tt.cell, "\r\n", "\n")
			wantStr := want
			if tt.cell != "" && strings.ContainsRune("=+-@\t\r'", rune(tt.cell[0])) { // the documented rule
				wantStr = "'" + want
			}
			if len(rec) != 2 || rec[0] != wantStr || rec[1] != want {
				t.Errorf("read back as %q, want [%q %q]", rec, wantStr, want)
			}
		})
	}
}

func TestRecords(t *testing.T) {
	tests := []struct {
		name    string
		bom     bool
		strs    []bool
		records [][]string
		want    string
	}{
		{"header and rows", false, []bool{false, true, false},
			[][]string{{"id", "note", "qty"}, {"1", "-x", "-5"}, {"2", "", "0"}},
			"id,note,qty\r\n1,'-x,-5\r\n2,,0\r\n"},
		{"no string columns", false, nil, [][]string{{"=1", "-2"}}, "=1,-2\r\n"},
		{"columns past Strings", false, []bool{true}, [][]string{{"=1", "=2"}}, "'=1,=2\r\n"},
		{"one empty cell", false, []bool{true}, [][]string{{""}}, "\r\n"},
		{"empty record", false, nil, [][]string{{}}, "\r\n"},
		{"BOM", true, nil, [][]string{{"id"}, {"1"}}, "\xEF\xBB\xBFid\r\n1\r\n"},
		{"BOM alone", true, nil, nil, "\xEF\xBB\xBF"},
		{"nothing", false, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := encode(t, tt.bom, tt.strs, tt.records...); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// needsQuotes tests eight bytes at a time: it must find a quoting byte at any position, and only
// those, whatever the bytes around it (UTF-8 bytes >= 0x80 included).
func TestNeedsQuotes(t *testing.T) {
	slow := func(cell []byte) bool { return bytes.ContainsAny(cell, ",\"\r\n") }
	fillers := []byte{'a', 0x00, 0x01, ' ', ',' - 1, ',' + 1, '"' - 1, '"' + 1, '\r' - 1, '\r' + 1, '\n' - 1, 0x7f, 0x80, 0xab, 0xff}
	for _, fill := range fillers {
		for size := 0; size <= 24; size++ {
			cell := bytes.Repeat([]byte{fill}, size)
			if got, want := needsQuotes(cell), slow(cell); got != want {
				t.Errorf("%q: needsQuotes = %t, want %t", cell, got, want)
			}
			for pos := range size {
				for _, c := range []byte{',', '"', '\r', '\n'} {
					cell := bytes.Repeat([]byte{fill}, size)
					cell[pos] = c
					if !needsQuotes(cell) {
						t.Errorf("%q: needsQuotes = false with %q at %d", cell, c, pos)
					}
				}
			}
		}
	}
	for _, cell := range []string{"naïve café Ωμέγα Привет 中文 עברית", "emoji 😀🎉👩‍👩‍👧", "2026-01-13T02:15:07.123456789Z"} {
		if needsQuotes([]byte(cell)) {
			t.Errorf("%q needs no quotes", cell)
		}
	}
}

// countingWriter records the size of each write.
type countingWriter struct {
	bytes.Buffer
	writes []int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes = append(c.writes, len(p))
	return c.Buffer.Write(p)
}

// A Writer writes to its io.Writer in pieces of at least bufSize bytes, and the rest on Flush.
func TestBuffering(t *testing.T) {
	var out countingWriter
	w := New(&out)
	row := [][]byte{[]byte("12345"), []byte(strings.Repeat("x", 92))} // 100 bytes with ',' and CRLF
	const n = 2000
	for i := range n {
		if err := w.Write(row); err != nil {
			t.Fatal(err)
		}
		if i == 0 && len(out.writes) != 0 {
			t.Fatalf("the first row was written through: %v", out.writes)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != n*100 {
		t.Fatalf("%d bytes written, want %d", out.Len(), n*100)
	}
	for i, size := range out.writes[:len(out.writes)-1] {
		if size < bufSize || size >= bufSize+100 {
			t.Errorf("write %d: %d bytes, want a full buffer (%d up to one row more)", i, size, bufSize)
		}
	}
	if err := w.Flush(); err != nil || len(out.writes) != n*100/bufSize+1 {
		t.Errorf("a second Flush wrote again: %v, %v", err, out.writes)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

// The first failed write is returned by every later call.
func TestWriteError(t *testing.T) {
	boom := errors.New("boom")
	w := New(failingWriter{boom})
	if err := w.Write([][]byte{[]byte("buffered")}); err != nil {
		t.Fatalf("Write before the buffer filled: %v", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v, want %v", err, boom)
	}
	if err := w.Write([][]byte{[]byte("x")}); !errors.Is(err, boom) {
		t.Errorf("Write after the failure = %v", err)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush after the failure = %v", err)
	}
	big := New(failingWriter{boom})
	if err := big.Write([][]byte{bytes.Repeat([]byte("x"), bufSize)}); !errors.Is(err, boom) {
		t.Errorf("Write of a full buffer = %v, want %v", err, boom)
	}
}

// BenchmarkWrite encodes rows shaped like the exporter's trades (the records of exporter/bench):
// mostly plain cells, a note in four rows of ten that needs quotes, three that need the guard.
func BenchmarkWrite(b *testing.B) {
	notes := []string{"", "settled, T+2", `client said "urgent"`, "line one\nline two", "=HYPERLINK(\"x\")",
		"Zürich desk ✓", "-0.5 adj", "@risk review", "partial fill; remainder cancelled", "東京 close"}
	var rows [][][]byte
	for i, note := range notes {
		rows = append(rows, [][]byte{[]byte(strconv.Itoa(1048576 + i)), []byte("2026-01-13T02:15:07.123Z"),
			[]byte("ACC-004211"), []byte([]string{"INITECH", "HOOLI", "ACME"}[i%3]), []byte([]string{"BUY", "SELL"}[i%2]),
			[]byte(strconv.Itoa(i*37 - 42)), []byte("1234.5678"), []byte("-51849.98"), []byte("EUR"), []byte("FILLED"),
			[]byte(strconv.FormatBool(i%3 == 0)), []byte(note)})
	}
	strs := []bool{false, false, true, true, true, false, false, false, true, true, false, true}
	var size int64
	for _, r := range rows {
		size += int64(len(encodeRow(r, strs)))
	}
	// plain: the id, the timestamp, the numbers and the boolean marked Plain, as the exporter
	// marks its typed columns.
	plain := []bool{true, true, false, false, false, true, true, true, false, false, true, false}
	for _, bc := range []struct {
		name  string
		plain []bool
	}{{"checked", nil}, {"plain", plain}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size / int64(len(rows)))
			w := New(io.Discard)
			w.Strings, w.Plain = strs, bc.plain
			for i := 0; b.Loop(); i++ {
				if err := w.Write(rows[i%len(rows)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// TestPlain: a plain column's cells are copied as they are, never guarded; the other columns are
// encoded as without Plain.
func TestPlain(t *testing.T) {
	var out bytes.Buffer
	w := New(&out)
	w.Strings = []bool{true, true, false}
	w.Plain = []bool{true, false, false, true}
	if err := w.Write([][]byte{[]byte("-5"), []byte("-5"), []byte("a,b"), []byte("2026-01-01T00:00:00Z")}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "-5,'-5,\"a,b\",2026-01-01T00:00:00Z\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func encodeRow(r [][]byte, strs []bool) []byte {
	var out bytes.Buffer
	w := New(&out)
	w.Strings = strs
	w.Write(r)
	w.Close()
	return out.Bytes()
}
