package testkit

import (
	"strings"
	"testing"
)

// WantErr checks err against a table case's wanted error: with want "", there must be none;
// otherwise err must name want. Either miss fails the test at once. It reports whether the case
// wanted an error, so that the case ends there:
//
//	if testkit.WantErr(t, err, tt.err) {
//		return
//	}
func WantErr(t testing.TB, err error, want string) (wanted bool) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one naming %q", err, want)
	}
	return true
}
