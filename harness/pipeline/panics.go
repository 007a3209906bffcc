package pipeline

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// goroutineHeader starts every goroutine of a Go traceback: "goroutine 7 [running]:".
var goroutineHeader = regexp.MustCompile(`^goroutine \d+ \[[^\]]+\]:$`)

// Panics returns the lines of an exporter's output that show a panic, following the structure of
// that output rather than matching a word anywhere, so a dataset or path named "panic-x" in a
// request log is not one:
//   - a Go runtime panic: a line starting "panic: ", or a traceback's "goroutine N [running]:"
//     (net/http prints one for a handler's recovered panic, after "http: panic serving …");
//   - a JSON log record of level ERROR whose message or one of whose keys names a panic.
func Panics(logs []byte) []string {
	var out []string
	for _, raw := range bytes.Split(logs, []byte("\n")) {
		line := strings.TrimRight(string(raw), "\r")
		switch {
		case strings.HasPrefix(line, "panic: "),
			goroutineHeader.MatchString(line) && strings.Contains(line, "[running]"),
			errorRecordWithPanic(line):
			out = append(out, line)
		}
	}
	return out
}

// errorRecordWithPanic reports whether line is a JSON log record (slog's JSON handler, or any with
// a level field) of level ERROR that records a panic: a "panic" key, or a message naming one.
func errorRecordWithPanic(line string) bool {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "{") {
		return false
	}
	var rec map[string]any
	if json.Unmarshal([]byte(line), &rec) != nil {
		return false
	}
	level, _ := rec["level"].(string)
	if !strings.EqualFold(level, "ERROR") {
		return false
	}
	for k := range rec {
		if strings.EqualFold(k, "panic") {
			return true
		}
	}
	msg, _ := rec["msg"].(string)
	return strings.Contains(strings.ToLower(msg), "panic")
}
