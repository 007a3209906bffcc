package export

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/exportatscale/exportatscale/harness/seed"
)

func parseAll(body string) (recs [][]string, badEnds int, err error) {
	p := &csvParser{r: bufio.NewReader(strings.NewReader(body))}
	for {
		rec, err := p.record()
		if errors.Is(err, io.EOF) {
			return recs, p.badEnds, nil
		}
		if err != nil {
			return recs, p.badEnds, err
		}
		recs = append(recs, rec)
	}
}

func TestCSVParser(t *testing.T) {
	tests := []struct {
		name, body string
		want       [][]string
		badEnds    int
		err        string
	}{
		{"plain", "a,b\r\n1,2\r\n", [][]string{{"a", "b"}, {"1", "2"}}, 0, ""},
		{"no final line end", "a,b\r\n1,2", [][]string{{"a", "b"}, {"1", "2"}}, 0, ""},
		{"empty fields", ",\r\n,x\r\n", [][]string{{"", ""}, {"", "x"}}, 0, ""},
		{"LF line ends", "a,b\n1,2\n", [][]string{{"a", "b"}, {"1", "2"}}, 2, ""},
		{"doubled quote", "\"x\"\"y\",2\r\n", [][]string{{`x"y`, "2"}}, 0, ""},
		{"CRLF kept inside quotes", "\"a\r\nb\",\"c\rd\"\r\n", [][]string{{"a\r\nb", "c\rd"}}, 0, ""},
		{"quoted empty", "\"\",x\r\n", [][]string{{"", "x"}}, 0, ""},
		{"empty body", "", nil, 0, ""},
		{"quote in unquoted field", "a\"b,c\r\n", nil, 0, "quote inside an unquoted field"},
		{"text after closing quote", "\"a\"b,c\r\n", nil, 0, "after a closing quote"},
		{"unclosed quote", "\"abc,d\r\n", nil, 0, "not closed"},
		{"bare CR", "a\rb,c\r\n", nil, 0, "bare CR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, badEnds, err := parseAll(tt.body)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) || badEnds != tt.badEnds {
				t.Errorf("got %q, %d bad ends, %v; want %q, %d", got, badEnds, err, tt.want, tt.badEnds)
			}
		})
	}
}

// TestCSVParserAgreesWithEncodingCSV checks the strict parser against the standard library on
// generated records, for the text where encoding/csv is exact (no CR or LF inside fields).
func TestCSVParserAgreesWithEncodingCSV(t *testing.T) {
	schema := seed.Trades()
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	for _, rec := range seed.Generate(3, 500, 1) {
		cells, err := schema.Cells(rec)
		if err != nil {
			t.Fatal(err)
		}
		for i := range cells {
			cells[i] = strings.NewReplacer("\r", "", "\n", "").Replace(cells[i])
		}
		if err := w.Write(cells); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	want, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got, badEnds, err := parseAll(b.String())
	if err != nil || badEnds != 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("strict parser disagrees with encoding/csv: %v, %d bad ends", err, badEnds)
	}
}

func FuzzCSVParser(f *testing.F) {
	f.Add("a,b\r\n\"x\"\"y\",2\r\n")
	f.Add("\"a\r\nb\",c")
	f.Fuzz(func(t *testing.T, body string) {
		_, _, _ = parseAll(body) // must not panic or loop
	})
}
