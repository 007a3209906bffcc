package evidence

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestMeasureJSONNonFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, -0.5, 268435456} {
		b, err := json.Marshal(Measure{Name: "m", Value: v})
		if err != nil {
			t.Fatalf("marshal %v: %v", v, err)
		}
		var m Measure
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if !(m.Value == v || math.IsNaN(v) && math.IsNaN(m.Value)) || m.Name != "m" {
			t.Errorf("%v round-tripped through %s to %+v", v, b, m)
		}
	}
	for _, bad := range []string{`{"name":"m"}`, `{"name":"m","value":null}`, `{"name":"m","value":"12"}`, `{"name":"m","value":true}`} {
		var m Measure
		if err := json.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("unmarshal %s: no error", bad)
		}
	}
}

func TestMeasureJSONMirrorsMeasure(t *testing.T) {
	// measureJSON must carry every field of Measure, in Measure's order, or a field would silently
	// vanish from evidence.json.
	m := Measure{Name: "n", Value: 1.5, Unit: "u", Rule: &Rule{"<=", 2, "u"}, Pass: true, Note: "note",
		NotApplicable: "n/a", Waived: "waived"}
	var got Measure
	jsonRoundTrip(t, m, &got)
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip of %+v gave %+v", m, got)
	}
}

func TestDeltaJSONMirrorsDelta(t *testing.T) {
	// deltaJSON must carry every field of Delta, in Delta's order, as measureJSON does for Measure.
	d := Delta{Measure: "m", Unit: "s", Base: 1, New: math.Inf(1), Delta: math.Inf(1), Verdict: "worse", Note: "note"}
	var got Delta
	jsonRoundTrip(t, d, &got)
	if !reflect.DeepEqual(got, d) {
		t.Errorf("round trip of %+v gave %+v", d, got)
	}
}

// jsonRoundTrip marshals v, which must have every field set, checks that the JSON object has a key
// for each field of v, named by its tag and in its order, and unmarshals the JSON into out.
func jsonRoundTrip[T any](t *testing.T, v T, out *T) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for f := range reflect.TypeFor[T]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		want = append(want, name)
	}
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(keys, want) {
		t.Errorf("%s has the keys %q, want %q", b, keys, want)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
}

func TestFormatFloat(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 2: "2", 0.1: "0.1", 268435456: "268435456", 1e21: "1000000000000000000000",
		-5: "-5", 1.0625: "1.0625", math.Inf(1): "+Inf", math.Inf(-1): "-Inf",
	} {
		if got := formatFloat(v); got != want {
			t.Errorf("formatFloat(%v) = %q, want %q", v, got, want)
		}
	}
	if got := formatFloat(math.NaN()); got != "NaN" {
		t.Errorf("formatFloat(NaN) = %q", got)
	}
}

func TestThinPoints(t *testing.T) {
	seq := func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		return s
	}
	for _, tc := range []struct {
		n, max, want, last int
	}{{10, 0, 10, 9}, {10, 10, 10, 9}, {10, 20, 10, 9}, {11, 10, 6, 10}, {2001, 2000, 1001, 2000}, {5000, 2000, 1667, 4998}, {7, 1, 1, 0}} {
		got := ThinPoints(seq(tc.n), tc.max)
		if len(got) != tc.want || got[len(got)-1] != tc.last || got[0] != 0 {
			t.Errorf("ThinPoints(%d points, %d) kept %d ending %d, want %d ending %d", tc.n, tc.max, len(got), got[len(got)-1], tc.want, tc.last)
		}
		if tc.max > 0 && len(got) > tc.max {
			t.Errorf("ThinPoints(%d points, %d) kept %d", tc.n, tc.max, len(got))
		}
	}
}
