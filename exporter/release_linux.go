package exporter

import (
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// lastRelease throttles releases across concurrent exports: each one drops the pages of every
// reader, so a few per second are enough.
var lastRelease atomic.Int64

const minReleaseGap = 5 * time.Millisecond

// releaseMapped drops the pages of the store's read-only shared mapping from this process's resident
// set (MADV_DONTNEED). The mapping cannot move while tx, a read transaction, is open; pages fault back
// in from the page cache when read again. It is advice only: on failure memory is merely not
// released early. In a container the pages stay in the cgroup's page cache; only the process's
// resident set shrinks.
func releaseMapped(tx *bolt.Tx) {
	now := time.Now().UnixNano()
	if last := lastRelease.Load(); now-last < int64(minReleaseGap) || !lastRelease.CompareAndSwap(last, now) {
		return
	}
	info := tx.DB().Info()
	size := tx.Size()
	if info == nil || info.Data == 0 || size <= 0 {
		return
	}
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, info.Data, uintptr(size), unix.MADV_DONTNEED)
}
