package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roster-dev/roster/store"
)

// limiter counts failed password attempts in in-memory token buckets, one
// per account (tenant/userName), one per client address and one per known
// device of an account. Successful attempts cost nothing, so a member who
// opens several tools in a row is never stopped, and a success refills the
// account's bucket.
//
// With a shared store (Config.SharedSignIns: replicas on PostgreSQL) the
// buckets live in the store instead, so a guesser spread over N replicas
// gets one budget, not N: a check reads them, a failure or a success
// writes them (one transaction), and Cleanup sweeps the ones that have
// refilled. Nothing is written for an attempt that is refused.
type limiter struct {
	now     func() time.Time
	account RateLimit
	address RateLimit
	shared  store.Store

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	Tokens float64   `json:"tokens"`
	Last   time.Time `json:"last"`
}

// nsRateLimits is the record namespace of shared buckets, keyed by the
// SHA-256 of the bucket key (user names and addresses stay out of keys).
const nsRateLimits = "oidc-ratelimit"

func sharedKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sharedBuckets runs fn over the stored buckets of keys in one
// transaction (a View when write is false), writing back those fn returns.
func (l *limiter) sharedBuckets(write bool, keys []string, fn func(bs map[string]*bucket) (put map[string]*bucket, del []string)) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	run := func(tx store.Tx) error {
		bs := map[string]*bucket{}
		for _, k := range keys {
			raw, err := tx.GetRecord(nsRateLimits, sharedKey(k))
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			var b bucket
			if json.Unmarshal(raw, &b) == nil {
				bs[k] = &b
			}
		}
		put, del := fn(bs)
		if !write {
			return nil
		}
		for k, b := range put {
			raw, _ := json.Marshal(b)
			if err := tx.PutRecord(nsRateLimits, sharedKey(k), raw); err != nil {
				return err
			}
		}
		for _, k := range del {
			if err := tx.DeleteRecord(nsRateLimits, sharedKey(k)); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	}
	if write {
		return l.shared.Update(ctx, "oidc", run)
	}
	return l.shared.View(ctx, run)
}

const maxBuckets = 100_000

func newLimiter(now func() time.Time, account, address RateLimit, shared store.Store) *limiter {
	return &limiter{now: now, account: account, address: address, shared: shared, buckets: map[string]*bucket{}}
}

// keys returns the buckets an attempt is counted against: the device's
// alone when the browser is a known device of the account (device is its
// proof), else the account's and the address's.
func (l *limiter) keys(account, addr, device string) []struct {
	key string
	rl  RateLimit
} {
	type k = struct {
		key string
		rl  RateLimit
	}
	if device != "" {
		return []k{{"d:" + device, l.account}}
	}
	return []k{{"u:" + account, l.account}, {"a:" + addr, l.address}}
}

// allow reports whether a password attempt may be made: every bucket it
// counts against has an attempt left. It takes nothing.
func (l *limiter) allow(account, addr, device string) bool {
	now := l.now()
	if l.shared != nil {
		ks := l.keys(account, addr, device)
		ok := true
		err := l.sharedBuckets(false, keyNames(ks), func(bs map[string]*bucket) (map[string]*bucket, []string) {
			for _, k := range ks {
				if refill(bs[k.key], k.rl, now).Tokens < 1 {
					ok = false
				}
			}
			return nil, nil
		})
		return err == nil && ok // a store that cannot answer does not open the gate
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > maxBuckets {
		l.prune(now)
	}
	for _, k := range l.keys(account, addr, device) {
		if l.fill(k.key, k.rl, now).Tokens < 1 {
			return false
		}
	}
	return true
}

// failed takes one attempt from each bucket of a failed attempt.
func (l *limiter) failed(account, addr, device string) {
	now := l.now()
	if l.shared != nil {
		ks := l.keys(account, addr, device)
		_ = l.sharedBuckets(true, keyNames(ks), func(bs map[string]*bucket) (map[string]*bucket, []string) {
			put := map[string]*bucket{}
			for _, k := range ks {
				b := refill(bs[k.key], k.rl, now)
				b.Tokens = max(0, b.Tokens-1)
				put[k.key] = b
			}
			return put, nil
		})
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range l.keys(account, addr, device) {
		b := l.fill(k.key, k.rl, now)
		b.Tokens = max(0, b.Tokens-1)
	}
}

// succeeded clears the account's failures (and the device's).
func (l *limiter) succeeded(account, device string) {
	if l.shared != nil {
		del := []string{"u:" + account}
		if device != "" {
			del = append(del, "d:"+device)
		}
		_ = l.sharedBuckets(true, nil, func(map[string]*bucket) (map[string]*bucket, []string) { return nil, del })
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, "u:"+account)
	if device != "" {
		delete(l.buckets, "d:"+device)
	}
}

func (l *limiter) fill(key string, rl RateLimit, now time.Time) *bucket {
	b := refill(l.buckets[key], rl, now)
	l.buckets[key] = b
	return b
}

// refill brings bucket b (nil: a new, full one) up to now.
func refill(b *bucket, rl RateLimit, now time.Time) *bucket {
	if b == nil {
		return &bucket{Tokens: float64(rl.Burst), Last: now}
	}
	if rl.Every > 0 && now.After(b.Last) {
		b.Tokens = min(float64(rl.Burst), b.Tokens+float64(now.Sub(b.Last))/float64(rl.Every))
	}
	b.Last = now
	return b
}

func keyNames(ks []struct {
	key string
	rl  RateLimit
}) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.key
	}
	return out
}

// sweep drops the shared buckets that have refilled completely (they
// behave like new ones) and returns how many.
func (l *limiter) sweep(now time.Time) int {
	if l.shared == nil {
		return 0
	}
	longest := max(l.account.Every*time.Duration(l.account.Burst), l.address.Every*time.Duration(l.address.Burst))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stale []string
	_ = l.shared.View(ctx, func(tx store.Tx) error {
		stale = stale[:0]
		return tx.ScanRecords(nsRateLimits, "", func(key string, v []byte) error {
			var b bucket
			if json.Unmarshal(v, &b) != nil || now.Sub(b.Last) > longest {
				stale = append(stale, key)
			}
			return nil
		})
	})
	if len(stale) == 0 {
		return 0
	}
	_ = l.shared.Update(ctx, "oidc", func(tx store.Tx) error {
		for _, k := range stale {
			if err := tx.DeleteRecord(nsRateLimits, k); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	return len(stale)
}

// prune drops buckets that have refilled completely: they behave like new
// ones.
func (l *limiter) prune(now time.Time) {
	longest := max(l.account.Every*time.Duration(l.account.Burst), l.address.Every*time.Duration(l.address.Burst))
	for k, b := range l.buckets {
		if now.Sub(b.Last) > longest {
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

// deviceKeys holds the HMAC key of device cookies, kept in the store
// (namespace oidc-sessions, key k/device) so that every replica and a
// restart recognise the same devices.
type deviceKeys struct{ key []byte }

const deviceKeyRecord = "k/device"

func loadDeviceKeys(ctx context.Context, st store.Store) (*deviceKeys, error) {
	var key []byte
	err := st.View(ctx, func(tx store.Tx) error {
		v, err := tx.GetRecord(nsSessions, deviceKeyRecord)
		key = v
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		err = st.Update(ctx, "oidc", func(tx store.Tx) error {
			v, err := tx.GetRecord(nsSessions, deviceKeyRecord)
			if err == nil {
				key = v
				return nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			key = make([]byte, 32)
			rand.Read(key)
			return tx.PutRecord(nsSessions, deviceKeyRecord, key)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("oidc: device key: %w", err)
	}
	return &deviceKeys{key: key}, nil
}

// mac is the proof, for one account and expiry, that this browser signed
// in successfully as the account.
func (d *deviceKeys) mac(account string, exp int64) string {
	h := hmac.New(sha256.New, d.key)
	fmt.Fprintf(h, "%s\n%d", account, exp)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// maxDevices is how many accounts one browser remembers.
const maxDevices = 5

func (p *Provider) deviceCookieName() string {
	switch {
	case p.secure && p.prefix == "":
		return "__Host-roster-device"
	case p.secure:
		return "__Secure-roster-device"
	}
	return "roster_device"
}

type deviceEntry struct {
	exp int64
	mac string
}

// deviceEntries parses the device cookie: "<exp>.<mac>" entries joined by
// "~"; the account is not in it.
func (p *Provider) deviceEntries(r *http.Request) []deviceEntry {
	c, err := r.Cookie(p.deviceCookieName())
	if err != nil || len(c.Value) > 512 {
		return nil
	}
	var out []deviceEntry
	now := p.now().Unix()
	for _, part := range strings.Split(c.Value, "~") {
		e, m, ok := strings.Cut(part, ".")
		exp, err := strconv.ParseInt(e, 10, 64)
		if ok && err == nil && exp > now && len(out) < maxDevices {
			out = append(out, deviceEntry{exp, m})
		}
	}
	return out
}

// knownDevice returns the browser's proof of a recent successful sign-in
// as account, or "".
func (p *Provider) knownDevice(r *http.Request, account string) string {
	for _, e := range p.deviceEntries(r) {
		if hmac.Equal([]byte(e.mac), []byte(p.devices.mac(account, e.exp))) {
			return e.mac
		}
	}
	return ""
}

// rememberDevice marks the browser as a known device of account for
// DeviceLifetime.
func (p *Provider) rememberDevice(w http.ResponseWriter, r *http.Request, account string) {
	exp := p.now().Add(p.cfg.DeviceLifetime).Unix()
	parts := []string{strconv.FormatInt(exp, 10) + "." + p.devices.mac(account, exp)}
	for _, e := range p.deviceEntries(r) {
		if len(parts) == maxDevices {
			break
		}
		if !hmac.Equal([]byte(e.mac), []byte(p.devices.mac(account, e.exp))) {
			parts = append(parts, strconv.FormatInt(e.exp, 10)+"."+e.mac)
		}
	}
	p.setCookie(w, p.deviceCookieName(), strings.Join(parts, "~"), p.cfg.DeviceLifetime)
}
