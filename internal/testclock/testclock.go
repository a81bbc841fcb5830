// Package testclock is the clock the tests inject where a package takes a
// Now function: it stands still until the test moves it on, and may be read
// from the goroutines of the code under test. It is for tests only.
package testclock

import (
	"sync"
	"time"
)

// Clock is a time that moves only when Advance is called. Its methods
// are safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock standing at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time: pass c.Now where a Now function is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock d on.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
