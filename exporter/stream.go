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
// Writes are collected up to chunkSize; a write of a full chunk or more, which is what the CSV
// encoder hands over, goes out as it is, without a copy.
type bodyStream struct {
	w          http.ResponseWriter
	rc         *http.ResponseController
	timeout    time.Duration
	buf        []byte
	sum        hash.Hash
	n          int64
	onFirst    func()
	wroteFirst bool
}

const chunkSize = 64 << 10

// errClientGone marks a failed write to the client: a stalled reader past the deadline or a dropped
// connection.
var errClientGone = errors.New("client stopped reading")

// newBodyStream starts a stream onto w; onFirst, if not nil, runs before the first byte is sent.
// The status line and headers must be written already.
func newBodyStream(w http.ResponseWriter, timeout time.Duration, onFirst func()) *bodyStream {
	return &bodyStream{w: w, rc: http.NewResponseController(w), timeout: timeout, sum: sha256.New(), onFirst: onFirst}
}

func (s *bodyStream) Write(p []byte) (int, error) {
	if len(s.buf) == 0 && len(p) >= chunkSize {
		return len(p), s.send(p)
	}
	s.buf = append(s.buf, p...) // grown as needed: the CSV encoder leaves only its last bytes here
	if len(s.buf) >= chunkSize {
		return len(p), s.Flush()
	}
	return len(p), nil
}

// Flush sends what is buffered.
func (s *bodyStream) Flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	err := s.send(s.buf)
	s.buf = s.buf[:0]
	return err
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

// bytes is the number of body bytes sent.
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
