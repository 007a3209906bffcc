package exporter

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
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
	// Small writes are collected into chunks of chunkSize (and at most one write more).
	small := bytes.Repeat([]byte("0123456789"), 10)
	for range 3 * chunkSize / len(small) {
		write(small)
	}
	if len(rec.writes) != 2 || rec.flushes != 2 {
		t.Fatalf("after %d bytes in small writes: writes %v, %d flushes; want 2 chunks", sent.Len(), rec.writes, rec.flushes)
	}
	for _, n := range rec.writes {
		if n < chunkSize || n >= chunkSize+len(small) {
			t.Errorf("chunk of %d bytes", n)
		}
	}
	// A large write after a flush goes out whole.
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	write(bytes.Repeat([]byte("x"), 3*chunkSize))
	if last := rec.writes[len(rec.writes)-1]; last != 3*chunkSize {
		t.Errorf("a write of %d bytes went out as %d", 3*chunkSize, last)
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
