package pipeline

import (
	"slices"
	"testing"
)

func TestPanics(t *testing.T) {
	for _, tt := range []struct {
		name, logs string
		want       []string
	}{
		{"runtime panic", "listening\npanic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n",
			[]string{"panic: runtime error: index out of range [3] with length 3", "goroutine 1 [running]:"}},
		{"recovered by net/http", "2026/12/01 10:00:00 http: panic serving 127.0.0.1:5000: boom\ngoroutine 35 [running]:\nnet/http.(*conn).serve.func1()\n",
			[]string{"goroutine 35 [running]:"}},
		{"an ERROR record with a panic key", `{"time":"t","level":"ERROR","msg":"export failed","panic":"boom","path":"/v1/datasets/x/export"}`,
			[]string{`{"time":"t","level":"ERROR","msg":"export failed","panic":"boom","path":"/v1/datasets/x/export"}`}},
		{"an ERROR record whose message is a panic", `{"level":"error","msg":"recovered panic in export"}`,
			[]string{`{"level":"error","msg":"recovered panic in export"}`}},
		{"a dataset named panic", `{"level":"INFO","msg":"request","method":"GET","path":"/v1/datasets/panic-x/export","status":200}` + "\n" +
			`{"level":"INFO","msg":"request","path":"/v1/datasets/smoke-panic-1/records","status":200}`, nil},
		{"a WARN record mentioning a panic", `{"level":"WARN","msg":"client asked about panic"}`, nil},
		{"a waiting goroutine of a dump", "goroutine 7 [chan receive]:\n", nil},
		{"panic mid-line", "the word panic: in a sentence\n", nil},
		{"empty", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Panics([]byte(tt.logs)); !slices.Equal(got, tt.want) {
				t.Errorf("Panics = %q, want %q", got, tt.want)
			}
		})
	}
}
