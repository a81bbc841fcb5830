package admission

import (
	"sync"
	"testing"
	"time"
)

func TestAdmitBounds(t *testing.T) {
	c := New(Config{Global: 3, PerKey: 2})
	steps := []struct {
		key  string
		want bool
	}{
		{"acme", true},
		{"acme", true},
		{"acme", false}, // per-key bound
		{"globex", true},
		{"vendor", false}, // global bound
	}
	var releases []func()
	for i, s := range steps {
		rel, ok := c.Admit(s.key)
		if ok != s.want {
			t.Fatalf("step %d (%s): admitted %v, want %v", i, s.key, ok, s.want)
		}
		if ok {
			releases = append(releases, rel)
		}
	}
	releases[0]()
	releases[0]() // a second release is harmless
	if _, ok := c.Admit("vendor"); !ok {
		t.Fatal("a released slot was not given to the next caller")
	}
	st := c.Stats()
	if st.Running != 3 || st.Refused["acme"] != 1 || st.Refused["vendor"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAdmitConcurrent(t *testing.T) {
	c := New(Config{Global: 4, PerKey: 4})
	var mu sync.Mutex
	running, peak := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Go(func() {
			for {
				rel, ok := c.Admit("t")
				if !ok {
					time.Sleep(time.Millisecond)
					continue
				}
				mu.Lock()
				running++
				peak = max(peak, running)
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				running--
				mu.Unlock()
				rel()
				return
			}
		})
	}
	wg.Wait()
	if peak > 4 {
		t.Fatalf("%d ran at once, bound is 4", peak)
	}
	if c.Stats().Running != 0 {
		t.Fatal("slots leaked")
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {300 * time.Millisecond, 1}, {2 * time.Second, 2}} {
		if got := New(Config{RetryAfter: tt.d}).RetryAfter(); got != tt.want {
			t.Errorf("RetryAfter(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}
