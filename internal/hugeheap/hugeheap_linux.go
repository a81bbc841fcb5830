//go:build linux

package hugeheap

import (
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

func advise(n int) int {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		return 0 // a kernel without transparent huge pages
	}
	// One huge page more, so that n bytes of it are aligned.
	b := make([]byte, n+hugePage)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	off := int((p+hugePage-1)&^(hugePage-1) - p)
	m := n / hugePage * hugePage
	err := unix.Madvise(b[off:off+m], unix.MADV_HUGEPAGE)
	runtime.KeepAlive(b)
	if err != nil {
		return 0
	}
	// Free the range now: while a collection the allocation started is
	// still marking, the heap grows past it in small pages.
	b = nil
	runtime.GC()
	return m
}
