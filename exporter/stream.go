package exporter

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"time"
)

// bodyStream sends a response body to the client in chunks, each pushed to the network under a
// write deadline: a client that stops reading for the timeout makes the next chunk fail, and the
// export is cut off. It hashes what it sends, for the Content-Digest of the body, and it is the
// io.Writer the encoders write to.
//
// Writes are collected into chunks of chunkSize. A full chunk is hashed and sent by a goroutine of
// its own while the next one fills, so the encoder and the network (and SHA-256) take turns on
// separate cores instead of one; at most one chunk is in flight. An error of a chunk in flight is
// returned by the Write or Flush after it. Flush sends what is buffered and returns once
// everything is sent; a stream left without a Flush must be ended with end.
type bodyStream struct {
	w          http.ResponseWriter
	rc         *http.ResponseController
	timeout    time.Duration
	buf        []byte // filling
	spare      []byte // the buffer of the chunk in flight, free once it is sent
	inFlight   bool
	sent       chan error // the result of the chunk in flight
	err        error      // the first failed send: the stream is over
	sum        hash.Hash
	n          int64
	onFirst    func()
	wroteFirst bool
}

// chunkSize is the size of the chunks sent, and of each of the stream's two buffers: large enough
// that the per-chunk costs (two or three syscalls, the deadline, the chunk header) are small
// against the bytes, small enough that a stream holds little memory.
const chunkSize = 256 << 10

// errClientGone marks a failed write to the client: a stalled reader past the deadline or a dropped
// connection.
var errClientGone = errors.New("client stopped reading")

// newBodyStream starts a stream onto w; onFirst, if not nil, runs before the first byte is sent.
// The status line and headers must be written already.
func newBodyStream(w http.ResponseWriter, timeout time.Duration, onFirst func()) *bodyStream {
	return &bodyStream{w: w, rc: http.NewResponseController(w), timeout: timeout, sum: sha256.New(),
		onFirst: onFirst, buf: make([]byte, 0, chunkSize), spare: make([]byte, 0, chunkSize), sent: make(chan error, 1)}
}

func (s *bodyStream) Write(p []byte) (int, error) {
	n := 0
	for s.err == nil && len(p) > 0 {
		k := copy(s.buf[len(s.buf):cap(s.buf)], p)
		s.buf, p, n = s.buf[:len(s.buf)+k], p[k:], n+k
		if len(s.buf) == cap(s.buf) {
			s.handOff()
		}
	}
	return n, s.err
}

// handOff sends the full buffer in the background, once the chunk before it is sent, and gives
// Write the other buffer.
func (s *bodyStream) handOff() {
	if s.wait() != nil {
		return
	}
	full := s.buf
	s.buf, s.spare, s.inFlight = s.spare[:0], full, true
	go func() { s.sent <- s.send(full) }()
}

// wait waits for the chunk in flight, if any, and returns the stream's error.
func (s *bodyStream) wait() error {
	if s.inFlight {
		s.inFlight = false
		if err := <-s.sent; err != nil {
			s.err = err
		}
	}
	return s.err
}

// Flush sends what is buffered and waits until everything is sent.
func (s *bodyStream) Flush() error {
	if s.wait() != nil || len(s.buf) == 0 {
		return s.err
	}
	s.err = s.send(s.buf)
	s.buf = s.buf[:0]
	return s.err
}

// end waits for the chunk in flight, so that nothing writes to the response once the handler has
// returned, and returns the number of body bytes sent. What is still buffered is dropped.
func (s *bodyStream) end() int64 {
	s.wait()
	return s.n
}

// send writes p to the client under the write deadline and pushes it to the network.
func (s *bodyStream) send(p []byte) error {
	if !s.wroteFirst {
		s.wroteFirst = true
		if s.onFirst != nil {
			s.onFirst()
		}
	}
	if s.timeout > 0 {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout)) // unsupported writers just have no deadline
	}
	n, err := s.w.Write(p)
	s.sum.Write(p[:n])
	s.n += int64(n)
	if err == nil {
		err = s.rc.Flush()
	}
	if err != nil {
		return errors.Join(errClientGone, err)
	}
	return nil
}

// bytes is the number of body bytes sent, when nothing is in flight (after Flush or end).
func (s *bodyStream) bytes() int64 { return s.n }

// digest is the RFC 9530 Content-Digest field value of everything sent so far.
func (s *bodyStream) digest() string { return digestField(s.sum.Sum(nil)) }

// digestField is the Content-Digest field value of a SHA-256 sum.
func digestField(sum []byte) string {
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":"
}

// integrityTrailers are the fields by which a client tells a whole export from a cut one. A
// streamed body announces them as trailers before its status line (announceTrailers) and sends
// them after its last byte (setTrailers).
const integrityTrailers = "Content-Digest, Export-Rows"

func announceTrailers(h http.Header) { h.Set("Trailer", integrityTrailers) }

// setTrailers sets the trailers of a stream that has sent all of its body: the digest of what
// was sent and rows, the number of rows in it.
func (s *bodyStream) setTrailers(rows int64) {
	h := s.w.Header()
	h.Set("Content-Digest", s.digest())
	h.Set("Export-Rows", strconv.FormatInt(rows, 10))
}
