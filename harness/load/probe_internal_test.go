package load

import (
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/harness/export"
)

func TestAnswerOf(t *testing.T) {
	start := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		f    export.Fetch
		want Answer
	}{
		{export.Fetch{Start: start.Add(time.Second), FirstByte: 20 * time.Millisecond, Latency: time.Second, Status: 200}, Answer{At: 1020 * time.Millisecond, Status: 200}},
		{export.Fetch{Start: start, Latency: 5 * time.Millisecond, Err: "connection refused"}, Answer{At: 5 * time.Millisecond}},
	} {
		if got := answerOf(start, tc.f); got != tc.want {
			t.Errorf("answerOf(%+v) = %+v, want %+v", tc.f, got, tc.want)
		}
	}
}

func TestKeepAnswerBounded(t *testing.T) {
	var as []Answer
	dropped := 0
	for i := range MaxAnswers + 25 {
		keepAnswer(&as, &dropped, Answer{At: time.Duration(i), Status: 429})
	}
	if len(as) != MaxAnswers || dropped != 25 || as[MaxAnswers-1].At != MaxAnswers-1 {
		t.Errorf("kept %d, dropped %d", len(as), dropped)
	}
}
