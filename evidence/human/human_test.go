package human

import (
	"math"
	"testing"
	"time"
)

func TestValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    float64
		unit string
		want string
	}{
		// bytes
		{"bytes small", 512, "bytes", "512 B"},
		{"bytes zero", 0, "bytes", "0 B"},
		{"bytes KiB", 1024, "bytes", "1 KiB"},
		{"bytes MiB", 85_250_000, "bytes", "81.3 MiB"},
		{"bytes threshold", 268435456, "bytes", "256 MiB"},
		{"bytes peak", 312475648, "bytes", "298 MiB"},
		{"bytes GiB", 1610612736, "bytes", "1.5 GiB"},
		{"bytes rounds up a prefix", 1048575, "bytes", "1 MiB"},
		{"bytes negative", -3 << 20, "bytes", "-3 MiB"},
		// seconds
		{"seconds", 0.139, "s", "0.139 s"},
		{"seconds long", 9.806402618, "s", "9.81 s"},
		{"seconds whole", 1, "s", "1 s"},
		{"seconds many", 125.4, "s", "125 s"},
		{"seconds thousands", 4000, "s", "4,000 s"},
		{"seconds zero", 0, "s", "0 s"},
		{"milliseconds", 0.0123229, "s", "12.3 ms"},
		{"microseconds", 0.000025, "s", "25 µs"},
		// ratio
		{"ratio", 0.012322900187864463, "ratio", "1.23 %"},
		{"ratio half", 0.5, "ratio", "50 %"},
		{"ratio above one", 1.01, "ratio", "101 %"},
		{"ratio threshold", 3, "ratio", "300 %"},
		{"ratio zero", 0, "ratio", "0 %"},
		{"ratio tiny", 0.0000125, "ratio", "0.00125 %"},
		// rates of counts
		{"rate", 32361.37245285785, "records/s", "32.4 k records/s"},
		{"rate threshold", 50000, "rows/s", "50 k rows/s"},
		{"rate round", 187500.5, "rows/s", "188 k rows/s"},
		{"rate small", 12.5, "rows/s", "12.5 rows/s"},
		{"rate million", 2_345_678, "rows/s", "2.35 M rows/s"},
		{"rate rounds up a prefix", 999_999, "rows/s", "1 M rows/s"},
		// counts and other units
		{"count", 10000, "records", "10,000 records"},
		{"count large", 1234567, "rows", "1,234,567 rows"},
		{"count zero", 0, "exports", "0 exports"},
		{"count fraction", 2.5, "exports", "2.5 exports"},
		{"MiB/s is a count of MiB", 12.3456, "MiB/s", "12.3 MiB/s"},
		{"MiB/s many", 1534.6, "MiB/s", "1,535 MiB/s"},
		{"no unit", 0.125, "", "0.125"},
		{"no unit negative", -1200, "", "-1,200"},
		{"other unit", 1200, "ms", "1,200 ms"},
		// what could not be measured
		{"NaN", math.NaN(), "s", "NaN"},
		{"NaN bytes", math.NaN(), "bytes", "NaN"},
		{"+Inf", math.Inf(1), "ratio", "+Inf"},
		{"-Inf", math.Inf(-1), "rows/s", "-Inf"},
	} {
		if got := Value(tc.v, tc.unit); got != tc.want {
			t.Errorf("%s: Value(%v, %q) = %q, want %q", tc.name, tc.v, tc.unit, got, tc.want)
		}
	}
}

func TestDistinct(t *testing.T) {
	for _, tc := range []struct {
		v, ref float64
		unit   string
		want   string
	}{
		{0.5004, 0.5, "s", "0.5004 s"},
		{0.5, 0.5, "s", "0.5 s"},
		{0.412, 1, "s", "0.412 s"},
		{268500000, 268435456, "bytes", "256.1 MiB"},
		{49999.7, 50000, "rows/s", "49.9997 k rows/s"},
		{0.50000001, 0.5, "ratio", "50.000001 %"},
		{math.NaN(), 0.5, "s", "NaN"},
	} {
		if got := Distinct(tc.v, tc.ref, tc.unit); got != tc.want {
			t.Errorf("Distinct(%v, %v, %q) = %q, want %q", tc.v, tc.ref, tc.unit, got, tc.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                       "0 s",
		1500 * time.Millisecond: "1.5 s",
		9806402618:              "9.81 s",
		750 * time.Millisecond:  "0.75 s",
		12 * time.Millisecond:   "12 ms",
		time.Minute:             "1 min",
		3*time.Minute + 25*time.Second + 250*time.Millisecond: "3 min 25 s",
		time.Hour + 2*time.Minute + 5*time.Second:             "1 h 2 min 5 s",
		-90 * time.Second: "-1 min 30 s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}
