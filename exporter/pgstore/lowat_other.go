//go:build !linux

package pgstore

import (
	"net"
	"sync/atomic"
)

// batchReads does nothing here: SO_RCVLOWAT is used on Linux only (see lowat_linux.go).
func batchReads(net.Conn, int, *atomic.Int64) (end func()) { return func() {} }
