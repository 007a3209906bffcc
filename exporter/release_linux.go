package exporter

import (
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releaseMapped drops the pages of the store's read-only shared mapping from this process's resident
// set (MADV_DONTNEED). The mapping cannot move while tx, a read transaction, is open; pages fault back
// in from the page cache when read again. It is advice only: on failure memory is merely not
// released early.
func releaseMapped(tx *bolt.Tx) {
	info := tx.DB().Info()
	size := tx.Size()
	if info == nil || info.Data == 0 || size <= 0 {
		return
	}
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, info.Data, uintptr(size), unix.MADV_DONTNEED)
}
