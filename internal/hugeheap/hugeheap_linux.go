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
	m := mark(n)
	if m > 0 {
		// Free the range now: while a collection the allocation
		// started is still marking, the heap grows past it in small
		// pages.
		runtime.GC()
	}
	return m
}

// mark allocates n bytes and a huge page more, and advises the n bytes of
// it that are aligned; the allocation is dead when it returns.
//
//go:noinline
func mark(n int) int {
	b := make([]byte, n+hugePage)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	off := int((p+hugePage-1)&^(hugePage-1) - p)
	m := n / hugePage * hugePage
	if err := unix.Madvise(b[off:off+m], unix.MADV_HUGEPAGE); err != nil {
		return 0
	}
	return m
}
