// Package hugeheap asks the operating system to back memory the Go heap is
// about to use with transparent huge pages.
//
// Go's runtime leaves huge pages to the system: where Linux gives them only
// to memory that asks (/sys/kernel/mm/transparent_hugepage/enabled is
// "madvise", as on the machines Roster is tested on), the heap is
// faulted in 4 KiB at a time. On a virtual machine whose host backs guest
// memory lazily (free page reporting, ballooning) each such fault costs
// microseconds: a directory sync that grows its heap to 300 MiB spent about
// a fifth of its CPU time there (issue 12). Advise grows the heap once and
// marks the new range for huge pages, so the allocations that follow fault
// it in 2 MiB at a time: about 100,000 faults per first load became about
// 10,000.
//
// It is the same trade as a JVM's -XX:+UseTransparentHugePages: fewer,
// larger faults, and a resident set rounded up to 2 MiB where the heap is
// sparse. Elsewhere (other systems, THP "never", or "always", where the
// heap has huge pages already) it changes nothing that matters.
package hugeheap

import (
	"math"
	"runtime/debug"
)

// Size of a huge page on the platforms Advise acts on.
const hugePage = 2 << 20

// Advise allocates n bytes of Go heap, asks the system to back them with
// transparent huge pages (madvise MADV_HUGEPAGE) and frees them again with
// a garbage collection, which it waits for. The runtime maps fresh address
// space for such an allocation, and the allocations that follow reuse that
// range before they map more, so they fault it in 2 MiB at a time. Under a
// soft memory limit (GOMEMLIMIT) n is capped at a quarter of it: freed,
// the range counts towards the limit until the runtime returns it. It
// returns the number of bytes advised: 0 where the system has no
// transparent huge pages, refuses the advice, or n is below one huge page.
//
// The allocation is never touched (fresh mappings are zero) and costs no
// resident memory; the collection costs what one costs. Call Advise before
// a large, allocation-heavy job, not in a loop.
func Advise(n int) int {
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		n = min(n, int(limit/4))
	}
	if n < hugePage {
		return 0
	}
	return advise(n)
}
