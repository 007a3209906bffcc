package exporter

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"
)

// chunkRecorder is a ResponseWriter that records the size of every write and flush.
type chunkRecorder struct {
	*httptest.ResponseRecorder
	writes  []int
	flushes int
	fail    error // when set, every write fails with it
}

func (c *chunkRecorder) Write(p []byte) (int, error) {
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, len(p))
	return c.ResponseRecorder.Write(p)
}

func (c *chunkRecorder) Flush() {
	c.flushes++
	c.ResponseRecorder.Flush()
}

func TestBodyStream(t *testing.T) {
	rec := &chunkRecorder{ResponseRecorder: httptest.NewRecorder()}
	first := 0
	st := newBodyStream(rec, time.Second, func() {
		if len(rec.writes) != 0 {
			t.Errorf("onFirst ran after %d writes", len(rec.writes))
		}
		first++
	})
	var sent bytes.Buffer
	write := func(p []byte) {
		t.Helper()
		sent.Write(p)
		if n, err := st.Write(p); err != nil || n != len(p) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	// Small writes are collected into chunks of chunkSize; Flush sends the rest.
	small := bytes.Repeat([]byte("0123456789"), 10)
	for range 3 * chunkSize / len(small) {
		write(small)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := []int{chunkSize, chunkSize, sent.Len() - 2*chunkSize}; !slices.Equal(rec.writes, want) || rec.flushes != 3 {
		t.Fatalf("after %d bytes in small writes and a Flush: writes %v, %d flushes; want %v", sent.Len(), rec.writes, rec.flushes, want)
	}
	// A large write goes out in chunks too.
	write(bytes.Repeat([]byte("x"), 3*chunkSize))
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := rec.writes[3:]; !slices.Equal(got, []int{chunkSize, chunkSize, chunkSize}) {
		t.Errorf("a write of %d bytes went out as %v", 3*chunkSize, got)
	}
	write([]byte("tail"))
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(); err != nil || rec.writes[len(rec.writes)-1] != 4 {
		t.Errorf("Flush of an empty buffer: %v, writes %v", err, rec.writes)
	}
	if first != 1 {
		t.Errorf("onFirst ran %d times", first)
	}
	if !bytes.Equal(rec.Body.Bytes(), sent.Bytes()) || st.bytes() != int64(sent.Len()) {
		t.Fatalf("the client got %d bytes (counted %d), want the %d written", rec.Body.Len(), st.bytes(), sent.Len())
	}
	st.setTrailers(42)
	if got, want := rec.Header().Get("Content-Digest"), contentDigest(sent.Bytes()); got != want {
		t.Errorf("Content-Digest %q, want %q", got, want)
	}
	if got := rec.Header().Get("Export-Rows"); got != strconv.Itoa(42) {
		t.Errorf("Export-Rows %q", got)
	}
	h := http.Header{}
	announceTrailers(h)
	if got := h.Get("Trailer"); got != "Content-Digest, Export-Rows" {
		t.Errorf("Trailer %q", got)
	}
}

// A failed write is errClientGone: the client stalled past the deadline or left.
func TestBodyStreamClientGone(t *testing.T) {
	broken := errors.New("broken pipe")
	rec := &chunkRecorder{ResponseRecorder: httptest.NewRecorder(), fail: broken}
	st := newBodyStream(rec, time.Second, nil)
	if _, err := st.Write([]byte("buffered")); err != nil {
		t.Fatalf("a buffered write failed: %v", err)
	}
	err := st.Flush()
	if !errors.Is(err, errClientGone) || !errors.Is(err, broken) {
		t.Errorf("Flush = %v, want errClientGone and the cause", err)
	}
	if _, err := st.Write(make([]byte, chunkSize)); !errors.Is(err, errClientGone) {
		t.Errorf("Write of a chunk = %v, want errClientGone", err)
	}
}

// A chunk that fails in flight fails the Write after it, and nothing is sent after it.
func TestBodyStreamFailsInFlight(t *testing.T) {
	broken := errors.New("broken pipe")
	rec := &chunkRecorder{ResponseRecorder: httptest.NewRecorder(), fail: broken}
	st := newBodyStream(rec, time.Second, nil)
	if _, err := st.Write(make([]byte, chunkSize)); err != nil {
		t.Fatalf("the Write that fills the first chunk failed: %v", err)
	}
	if _, err := st.Write(make([]byte, chunkSize)); !errors.Is(err, errClientGone) || !errors.Is(err, broken) {
		t.Errorf("Write after a failed chunk = %v, want errClientGone and the cause", err)
	}
	if err := st.Flush(); !errors.Is(err, errClientGone) {
		t.Errorf("Flush = %v, want errClientGone", err)
	}
	if n := st.end(); n != 0 {
		t.Errorf("%d bytes counted as sent", n)
	}
}
