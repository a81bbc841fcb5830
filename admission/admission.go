// Package admission keeps expensive requests from starving cheap ones.
//
// Roster answers most requests from indexes and memory in microseconds:
// discovery, keys, tokens, single-resource reads, equality filters on
// indexed attributes. A few requests scan a whole tenant (substring
// filters, deep pages, exports) or run for long (syncs, backups). A
// Controller runs those under a bounded concurrency, globally and per key
// (a tenant), and refuses the rest at once, so a burst of scans waits in
// the client's retry loop rather than in front of everyone's sign-in.
// The protocol packages decide what is expensive and answer a refusal in
// their own error format with Retry-After.
package admission

import (
	"sync"
	"time"
)

// Config bounds expensive work. Zero values take the defaults.
type Config struct {
	// Global is the most expensive requests running at once in the
	// process (default 4).
	Global int
	// PerKey is the most running at once for one key, such as a tenant
	// (default 2).
	PerKey int
	// RetryAfter is what a refused caller is told to wait (default 1 s).
	RetryAfter time.Duration
}

// Controller admits expensive requests. It is safe for concurrent use; the
// zero value is not usable: call New.
type Controller struct {
	cfg Config

	mu      sync.Mutex
	running int
	perKey  map[string]int
	refused map[string]uint64
}

// New returns a Controller with cfg's bounds.
func New(cfg Config) *Controller {
	if cfg.Global <= 0 {
		cfg.Global = 4
	}
	if cfg.PerKey <= 0 {
		cfg.PerKey = 2
	}
	if cfg.PerKey > cfg.Global {
		cfg.PerKey = cfg.Global
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	return &Controller{cfg: cfg, perKey: map[string]int{}, refused: map[string]uint64{}}
}

// Admit asks to run one expensive request for key. It never waits: when
// the global or the key's bound is reached it returns ok false, and the
// caller answers with RetryAfter. Otherwise the caller must call release
// exactly once when the work is done.
func (c *Controller) Admit(key string) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running >= c.cfg.Global || c.perKey[key] >= c.cfg.PerKey {
		c.refused[key]++
		return nil, false
	}
	c.running++
	c.perKey[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.running--
			if c.perKey[key]--; c.perKey[key] == 0 {
				delete(c.perKey, key)
			}
		})
	}, true
}

// RetryAfter is the wait a refused caller is told, in whole seconds (at
// least 1), for the Retry-After header (RFC 9110 §10.2.3).
func (c *Controller) RetryAfter() int {
	s := int(c.cfg.RetryAfter.Round(time.Second) / time.Second)
	return max(s, 1)
}

// Stats is a snapshot of a Controller.
type Stats struct {
	Running int               `json:"running"`
	Refused map[string]uint64 `json:"refused"`
}

// Stats returns how many expensive requests run now and how many were
// refused, per key, since the start.
func (c *Controller) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := make(map[string]uint64, len(c.refused))
	for k, v := range c.refused {
		r[k] = v
	}
	return Stats{Running: c.running, Refused: r}
}
