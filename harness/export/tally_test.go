package export_test

import (
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"testing"

	"github.com/exportatscale/exportatscale/harness/export"
)

func TestTallyAdd(t *testing.T) {
	answer := func(format string, status int, retryAfter string) export.Fetch {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return export.Fetch{Format: format, Status: status, Header: h}
	}
	var c export.Tally
	for _, f := range []export.Fetch{
		answer(export.CSV, http.StatusTooManyRequests, "1"),
		answer(export.CSV, http.StatusTooManyRequests, "soon"),
		answer(export.CSV, http.StatusTooManyRequests, ""),
		answer(export.CSV, http.StatusServiceUnavailable, "Sun, 06 Nov 1994 08:49:37 GMT"),
		answer(export.CSV, http.StatusServiceUnavailable, "5abc"),
		answer(export.PDF, http.StatusRequestEntityTooLarge, ""),
		answer(export.CSV, http.StatusNotFound, ""),
		answer(export.CSV, http.StatusBadRequest, ""),
		answer(export.CSV, http.StatusUnauthorized, ""),
		answer(export.PDF, http.StatusForbidden, ""),
		answer(export.PDF, http.StatusInternalServerError, ""),
		answer(export.CSV, 0, ""), // no answer
	} {
		c.Add(f)
	}
	for _, tt := range []struct {
		name      string
		got, want map[string]int
	}{
		{"client_error", c.ClientError, map[string]int{export.CSV: 2, export.PDF: 1}},
		{"server_error", c.ServerError, map[string]int{export.PDF: 1}},
	} {
		if !maps.Equal(tt.got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if want := map[int]int{429: 2, 503: 1}; !maps.Equal(c.NoRetryAfter, want) {
		t.Errorf("without a valid Retry-After: %v, want %v", c.NoRetryAfter, want)
	}
	if c.ServerErrors() != 1 {
		t.Errorf("%d server errors, want 1", c.ServerErrors())
	}

	// A verified export counts on the wire and in its format's totals; a fetch on the wire only.
	ok := export.Fetch{Format: export.CSV, Status: 200, Complete: true, Bytes: 100}
	c.Add(export.CSVReport{Fetch: ok, Rows: 3, Missing: 1})
	c.Add(export.Fetch{Format: export.CSV, Status: 200}) // cut on purpose
	if c.Rows[export.CSV] != 3 || c.Bytes[export.CSV] != 100 || c.Cut[export.CSV] != 1 || c.CSV.Exports != 1 || c.CSV.Missing != 1 {
		t.Errorf("tally %+v", c)
	}
	var m export.Tally
	m.Merge(c)
	m.Merge(c)
	if m.ClientError[export.CSV] != 4 || m.ServerError[export.PDF] != 2 || m.NoRetryAfter[429] != 4 || m.CSV.Missing != 2 {
		t.Errorf("merged %+v", m)
	}
}

// TestTallyMergesEveryField fills every field of a Tally, however deep, with a distinct value and
// checks that merging it into an empty Tally twice doubles each one: a field Merge left out would
// stay zero.
func TestTallyMergesEveryField(t *testing.T) {
	var full export.Tally
	n := 0
	var fill func(v reflect.Value, path string)
	fill = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Int, reflect.Int64:
			n++
			v.SetInt(int64(n))
		case reflect.Map:
			v.Set(reflect.MakeMap(v.Type()))
			k := reflect.New(v.Type().Key()).Elem()
			fill(k, path+"[key]")
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, path+"[value]")
			v.SetMapIndex(k, e)
		case reflect.String:
			n++
			v.SetString(fmt.Sprint("k", n))
		case reflect.Slice:
			v.Set(reflect.Append(v, reflect.ValueOf(path)))
		case reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		default:
			t.Fatalf("%s: a %s field; teach this test (and Merge) about it", path, v.Type())
		}
	}
	fill(reflect.ValueOf(&full).Elem(), "Tally")
	var got export.Tally
	got.Merge(full)
	got.Merge(full)
	var check func(got, want reflect.Value, path string)
	check = func(got, want reflect.Value, path string) {
		switch want.Kind() {
		case reflect.Int, reflect.Int64:
			if got.Int() != 2*want.Int() {
				t.Errorf("%s = %d after merging %d twice: left out of Merge", path, got.Int(), want.Int())
			}
		case reflect.Map:
			for it := want.MapRange(); it.Next(); {
				g := got.MapIndex(it.Key())
				if !g.IsValid() {
					t.Errorf("%s[%v] missing after Merge", path, it.Key())
					continue
				}
				check(g, it.Value(), fmt.Sprintf("%s[%v]", path, it.Key()))
			}
		case reflect.Slice:
			if got.Len() != 2*want.Len() {
				t.Errorf("%s has %d entries after merging %d twice", path, got.Len(), want.Len())
			}
		case reflect.Struct:
			for i := range want.NumField() {
				check(got.Field(i), want.Field(i), path+"."+want.Type().Field(i).Name)
			}
		}
	}
	check(reflect.ValueOf(got), reflect.ValueOf(full), "Tally")
	if n < 20 {
		t.Errorf("only %d fields filled: the walk missed some", n)
	}
}
