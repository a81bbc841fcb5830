//go:build linux

package hugeheap

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// vma is what /proc/self/smaps says of one mapping.
type vma struct {
	start, end uintptr
	flags      []string
	hugeKiB    int // AnonHugePages
}

func mappings(t *testing.T) []vma {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	var vs []vma
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		switch {
		case len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			lo, hi, _ := strings.Cut(fields[0], "-")
			s, _ := strconv.ParseUint(lo, 16, 64)
			e, _ := strconv.ParseUint(hi, 16, 64)
			vs = append(vs, vma{start: uintptr(s), end: uintptr(e)})
		case strings.HasPrefix(line, "VmFlags:") && len(vs) > 0:
			vs[len(vs)-1].flags = fields[1:]
		case strings.HasPrefix(line, "AnonHugePages:") && len(vs) > 0:
			vs[len(vs)-1].hugeKiB, _ = strconv.Atoi(fields[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

func thpMode(t *testing.T) string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		t.Skipf("no transparent huge pages here: %v", err)
	}
	s := string(b)
	return s[strings.Index(s, "[")+1 : strings.Index(s, "]")]
}

// TestAdviseHeap: the heap allocated after Advise lies in mappings marked
// for huge pages ("hg").
func TestAdviseHeap(t *testing.T) {
	mode := thpMode(t)
	const n = 64 << 20
	if got := Advise(n); got != n {
		t.Fatalf("Advise(%d) = %d", n, got)
	}
	b := make([]byte, 16<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	q := p + uintptr(len(b))
	var advised, huge uintptr // bytes of b in mappings marked "hg"; kB of huge pages in them
	for _, v := range mappings(t) {
		if v.end <= p || q <= v.start || !slices.Contains(v.flags, "hg") {
			continue
		}
		advised += min(v.end, q) - max(v.start, p)
		huge += uintptr(v.hugeKiB)
		t.Logf("mapping %#x-%#x flags %v, AnonHugePages %d kB", v.start, v.end, v.flags, v.hugeKiB)
	}
	runtime.KeepAlive(b)
	t.Logf("THP %s; of 16 MiB allocated at %#x, %d MiB in mappings marked for huge pages, %d MiB of huge pages there", mode, p, advised>>20, huge>>10)
	// All but the head before the first 2 MiB boundary.
	if advised < uintptr(len(b))-hugePage {
		t.Errorf("only %d of the %d bytes allocated after Advise lie in mappings marked for huge pages", advised, len(b))
	}
	// Whether the kernel backs them is its choice (a fragmented machine
	// falls back to small pages, thp_fault_fallback): said, not asserted.
	if mode != "never" && huge == 0 {
		t.Logf("THP %s, yet 16 MiB touched in advised mappings have no huge pages", mode)
	}
}

// TestAdviseLimits: a soft memory limit caps the advice at a quarter of it;
// less than a huge page is not advised.
func TestAdviseLimits(t *testing.T) {
	thpMode(t)
	old := debug.SetMemoryLimit(32 << 20)
	defer debug.SetMemoryLimit(old)
	if got := Advise(64 << 20); got != 8<<20 {
		t.Errorf("Advise(64 MiB) under a 32 MiB limit = %d, want 8 MiB", got)
	}
	debug.SetMemoryLimit(old)
	if got := Advise(hugePage - 1); got != 0 {
		t.Errorf("Advise(less than a huge page) = %d, want 0", got)
	}
}
