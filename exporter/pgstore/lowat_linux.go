package pgstore

import (
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// batchReads makes the kernel wake the reader of conn only once lowat bytes have arrived (TCP's
// SO_RCVLOWAT), not on every segment, for as long as a bulk stream keeps coming at that rate or
// faster. A COPY from PostgreSQL arrives in the server's 8 KiB sends; a reader that keeps up with
// them sleeps and wakes for each one, 20,000 times for an export of 1,000,000 trades, and both
// processes pay for every switch (measured: the reads of such an export went from 22,700 to 4,700,
// and its time by a seventh).
//
// progress is the stream's byte count, which the caller keeps up to date. Once every
// millisecond, a goroutine of batchReads looks at it: past lowat bytes in that time, the mark goes
// up to lowat; with nothing new in that time (the stream's tail, shorter than lowat, or a pause of
// the server), it goes back to one byte, which wakes a waiting reader at once. A stream's tail so
// waits a millisecond or two; a short stream never sees the mark raised. end stops it all and
// leaves the mark at one byte; if the mark cannot be set back, end closes conn rather than let
// a later reply wait on a mark it never reaches. Other than over TCP, batchReads does nothing.
func batchReads(conn net.Conn, lowat int, progress *atomic.Int64) (end func()) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return func() {}
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return func() {}
	}
	set := func(v int) bool {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, v)
		}); err != nil || serr != nil {
			return false
		}
		return true
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(batchReadsTick)
		defer t.Stop()
		last, high := progress.Load(), false
		for {
			select {
			case <-stop:
				if high && !set(1) {
					conn.Close()
				}
				return
			case <-t.C:
			}
			n := progress.Load()
			switch {
			case !high && n-last >= int64(lowat):
				high = set(lowat)
			case high && n == last:
				high = !set(1) // if that failed, try again on the next tick
			}
			last = n
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}

// batchReadsTick is how often batchReads looks at the stream.
const batchReadsTick = time.Millisecond
