package testkit

import (
	"io"
	"strings"
	"testing"
)

// LogWriter writes to t's log, a call a line without its trailing newline: given as a started
// target's or process's log, what it says shows beside the test's own failures, and only when
// the test fails or runs with -v.
func LogWriter(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
