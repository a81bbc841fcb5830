package mail

import (
	"strings"
	"sync"
	"time"
)

// RateLimits caps how fast messages go to each recipient domain, as the
// big mailbox providers throttle (and then defer or junk) senders that
// send too fast. Rates are messages per second; 0 is no limit.
type RateLimits struct {
	// PerDomain is the rate for a domain not in Domains.
	PerDomain float64
	// Domains are rates for named domains (lower case, e.g. "gmail.com").
	Domains map[string]float64
}

// rateLimiter spaces the messages to each domain by 1/rate after a
// burst of one second's worth (the generic cell rate algorithm: one
// theoretical arrival time per domain). It is safe for concurrent use.
type rateLimiter struct {
	cfg RateLimits
	mu  sync.Mutex
	tat map[string]time.Time
}

func newRateLimiter(cfg RateLimits) *rateLimiter {
	return &rateLimiter{cfg: cfg, tat: map[string]time.Time{}}
}

// domainOf returns the lower-case domain of an address.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}

func (l *rateLimiter) rate(domain string) float64 {
	if r, ok := l.cfg.Domains[domain]; ok {
		return r
	}
	return l.cfg.PerDomain
}

// reserve returns how long a message to domain must wait. When the wait
// is at most maxWait the slot is taken (the caller sends after waiting);
// otherwise nothing is taken and the caller defers the message.
func (l *rateLimiter) reserve(domain string, now time.Time, maxWait time.Duration) time.Duration {
	r := l.rate(domain)
	if r <= 0 {
		return 0
	}
	interval := time.Duration(float64(time.Second) / r)
	tolerance := time.Duration(max(1, int64(r))-1) * interval
	l.mu.Lock()
	defer l.mu.Unlock()
	tat := l.tat[domain]
	if tat.Before(now) {
		tat = now
	}
	wait := max(0, tat.Add(-tolerance).Sub(now))
	if wait > maxWait {
		return wait
	}
	l.tat[domain] = tat.Add(interval)
	return wait
}
