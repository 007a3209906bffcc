package evidence

import (
	"encoding/json"
	"math"
	"reflect"
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
	// measureJSON must carry every field of Measure, or a field would silently vanish from evidence.json.
	mt, jt := reflect.TypeFor[Measure](), reflect.TypeFor[measureJSON]()
	if mt.NumField() != jt.NumField() {
		t.Fatalf("Measure has %d fields, measureJSON %d", mt.NumField(), jt.NumField())
	}
	for i := range mt.NumField() {
		if mt.Field(i).Name != jt.Field(i).Name || mt.Field(i).Tag != jt.Field(i).Tag {
			t.Errorf("field %d: Measure.%s %s, measureJSON.%s %s", i, mt.Field(i).Name, mt.Field(i).Tag, jt.Field(i).Name, jt.Field(i).Tag)
		}
	}
	m := Measure{Name: "n", Value: 1.5, Unit: "u", Rule: &Rule{"<=", 2, "u"}, Pass: true, Note: "note"}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got Measure
	if err := json.Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("round trip of %+v gave %+v (%v)", m, got, err)
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
