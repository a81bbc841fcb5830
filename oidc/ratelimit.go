package oidc

import (
	"net/netip"
	"sync"
	"time"
)

// limiter rate-limits password attempts with in-memory token buckets, one
// per account (tenant/userName) and one per client address.
type limiter struct {
	now     func() time.Time
	account RateLimit
	address RateLimit

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxBuckets = 100_000

func newLimiter(now func() time.Time, account, address RateLimit) *limiter {
	return &limiter{now: now, account: account, address: address, buckets: map[string]*bucket{}}
}

// allow takes one attempt from both the account's and the address's
// bucket; it reports false (and takes nothing) when either is empty.
func (l *limiter) allow(account, addr string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > maxBuckets {
		l.prune(now)
	}
	a := l.fill("u:"+account, l.account, now)
	b := l.fill("a:"+addr, l.address, now)
	if a.tokens < 1 || b.tokens < 1 {
		return false
	}
	a.tokens--
	b.tokens--
	return true
}

func (l *limiter) fill(key string, rl RateLimit, now time.Time) *bucket {
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: float64(rl.Burst), last: now}
		l.buckets[key] = b
		return b
	}
	if rl.Every > 0 && now.After(b.last) {
		b.tokens = min(float64(rl.Burst), b.tokens+float64(now.Sub(b.last))/float64(rl.Every))
	}
	b.last = now
	return b
}

// prune drops buckets that have refilled completely: they behave like new
// ones.
func (l *limiter) prune(now time.Time) {
	longest := max(l.account.Every*time.Duration(l.account.Burst), l.address.Every*time.Duration(l.address.Burst))
	for k, b := range l.buckets {
		if now.Sub(b.last) > longest {
			delete(l.buckets, k)
		}
	}
}

// addressKey is the bucket of a client address: the address itself for
// IPv4, its /64 for IPv6, since one subscriber usually holds a whole /64
// and could otherwise try from 2^64 addresses.
func addressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
}
