package pgstore

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestBatchReads streams bursts over loopback TCP, each 16 MiB in 8 KiB writes (as PostgreSQL
// sends a COPY) and then a tail of 100 bytes, after which the writer waits for the reader to say it
// has it all and whether to send another. The tails come through though they are far below the
// mark (so the mark went back down once the stream stood still), the mark was up while the bursts
// came, and it is back at one byte at the end.
//
// A burst over loopback lasts about 10 ms, ten of batchReads' ticks; on a busy machine its
// goroutine may not run within one burst (CI once saw the mark never go up in two). So the reader
// asks for bursts until it has seen the mark up and at least two bursts have gone by, for at most
// 20 s of bursts: the test judges what batchReads does, not how soon the scheduler runs it.
func TestBatchReads(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const burst, tail, lowat = 16 << 20, 100, 64 << 10
	wrote := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			wrote <- err
			return
		}
		defer c.Close()
		block := bytes.Repeat([]byte{'x'}, 8<<10)
		ack := make([]byte, 1)
		for ack[0] = 1; ack[0] == 1; {
			for sent := 0; sent < burst; sent += len(block) {
				if _, err := c.Write(block); err != nil {
					wrote <- err
					return
				}
			}
			if _, err := c.Write(block[:tail]); err != nil {
				wrote <- err
				return
			}
			if _, err := io.ReadFull(c, ack); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mark := func() int {
		rc, err := conn.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		v := -1
		rc.Control(func(fd uintptr) { v, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT) })
		return v
	}
	var progress atomic.Int64
	end := batchReads(conn, lowat, &progress)
	// A deadline far past what the test needs: a tail left waiting on the mark fails it, not hangs.
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	buf := make([]byte, 256<<10)
	raised := false
	until := time.Now().Add(20 * time.Second)
	for phase := 0; ; phase++ {
		for got := 0; got < burst+tail; {
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("burst %d: after %d bytes: %v", phase+1, got, err)
			}
			got += n
			progress.Add(int64(n))
			raised = raised || mark() == lowat
		}
		more := !(raised && phase >= 1) && time.Now().Before(until)
		ack := []byte{0}
		if more {
			ack[0] = 1
		}
		if _, err := conn.Write(ack); err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
	}
	end()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if !raised {
		t.Errorf("the mark never went up to %d bytes during 20 s of 16 MiB bursts", lowat)
	}
	if m := mark(); m != 1 {
		t.Errorf("after end the mark is %d bytes, want 1", m)
	}
}
