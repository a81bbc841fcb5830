package oidc

import (
	"container/list"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"
)

// Request size limits. OAuth 2.0 and OpenID Connect set no length for any
// parameter; these are generous for every client seen in practice and keep
// what an unauthenticated caller can make the provider hold small.
const (
	// maxAuthorizeBytes bounds the query or form of /authorize.
	maxAuthorizeBytes = 16 << 10
	// maxLoginBytes bounds the sign-in form.
	maxLoginBytes = 16 << 10
	// maxTokenBytes bounds the form of /token, /revoke and /introspect.
	maxTokenBytes = 16 << 10
	// maxLogoutBytes bounds /logout, whose id_token_hint is an ID token
	// (with up to MaxGroupsInToken groups and their roles).
	maxLogoutBytes = 64 << 10
	// maxParamBytes is the cap of a parameter not listed in paramCaps.
	maxParamBytes = 2048
)

// paramCaps are the longest values accepted per parameter name, in bytes.
// An over-long value is an invalid_request (RFC 6749 §4.1.2.1, §5.2).
var paramCaps = map[string]int{
	// Authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636).
	"client_id":             255,
	"redirect_uri":          2048,
	"response_type":         64,
	"response_mode":         64,
	"scope":                 512,
	"state":                 2048,
	"nonce":                 512,
	"code_challenge":        128,
	"code_challenge_method": 16,
	"prompt":                64,
	"display":               64,
	"max_age":               16,
	"ui_locales":            256,
	"login_hint":            256,
	"acr_values":            256,
	// Token, revocation and introspection requests (RFC 6749 §4.1.3,
	// §6, RFC 7009 §2.1, RFC 7662 §2.1).
	"grant_type":      64,
	"code":            256,
	"code_verifier":   128,
	"refresh_token":   256,
	"client_secret":   512,
	"token":           4096,
	"token_type_hint": 64,
	// Sign-in form.
	"req":      64,
	"csrf":     64,
	"step":     16,
	"tenant":   128,
	"username": 256,
	"password": 1024,
	// RP-initiated logout 1.0 §2.
	"id_token_hint":            maxLogoutBytes - 4096,
	"post_logout_redirect_uri": 2048,
}

// overlong returns the name of the first parameter of v longer than its
// cap, or "" when all fit.
func overlong(v url.Values) string {
	var bad []string
	for k, vals := range v {
		limit, ok := paramCaps[k]
		if !ok {
			limit = maxParamBytes
		}
		if len(k) > maxParamBytes {
			bad = append(bad, k[:32]+"…")
			continue
		}
		for _, s := range vals {
			if len(s) > limit {
				bad = append(bad, k)
				break
			}
		}
	}
	if len(bad) == 0 {
		return ""
	}
	sort.Strings(bad)
	return bad[0]
}

// parseLimited parses r's query and (for POST) form body with the body
// capped at limit bytes, and the raw query too. It reports false when the
// request is malformed or too large; r.Form is then incomplete.
func parseLimited(w http.ResponseWriter, r *http.Request, limit int64) bool {
	if int64(len(r.URL.RawQuery)) > limit {
		return false
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	return r.ParseForm() == nil
}

// Bounds of the pending sign-in requests kept in memory.
const (
	defaultMaxPendingSignIns = 10_000
	defaultMaxPendingPerAddr = 64
)

// pendingLogins keeps the sign-in requests between /authorize and the
// issue of a code, in memory only: an unauthenticated caller can start as
// many as it likes and none of them touches the store. It holds at most
// total requests, at most perAddr per client address (per /64 for IPv6);
// beyond either bound the oldest request (of that address, or at all)
// gives way. Requests end when finished, when their lifetime is over, or
// when the process restarts (the user then starts again).
type pendingLogins struct {
	perAddr, total int

	mu     sync.Mutex
	order  *list.List // of *pendingLogin, oldest first (expiry order)
	byID   map[string]*pendingLogin
	byAddr map[string][]*pendingLogin // oldest first
}

type pendingLogin struct {
	lr   loginRequest
	addr string
	elem *list.Element
}

func newPendingLogins(total, perAddr int) *pendingLogins {
	return &pendingLogins{perAddr: perAddr, total: total, order: list.New(),
		byID: map[string]*pendingLogin{}, byAddr: map[string][]*pendingLogin{}}
}

// add keeps lr, started from address addr. It returns how many older
// requests gave way.
func (pl *pendingLogins) add(lr loginRequest, addr string, now time.Time) (evicted int) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.expireLocked(now)
	if q := pl.byAddr[addr]; len(q) >= pl.perAddr {
		pl.removeLocked(q[0])
		evicted++
	}
	for len(pl.byID) >= pl.total {
		pl.removeLocked(pl.order.Front().Value.(*pendingLogin))
		evicted++
	}
	e := &pendingLogin{lr: lr, addr: addr}
	e.elem = pl.order.PushBack(e)
	pl.byID[lr.ID] = e
	pl.byAddr[addr] = append(pl.byAddr[addr], e)
	return evicted
}

// get returns a copy of the request with that id.
func (pl *pendingLogins) get(id string) (loginRequest, bool) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	e, ok := pl.byID[id]
	if !ok {
		return loginRequest{}, false
	}
	return e.lr, true
}

// update replaces a request still pending; it reports false when it is
// gone.
func (pl *pendingLogins) update(lr loginRequest) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	e, ok := pl.byID[lr.ID]
	if ok {
		lr.Expires = e.lr.Expires // the lifetime never grows
		e.lr = lr
	}
	return ok
}

// take removes the request; it reports false when it was already gone, so
// that only one of two concurrent finishes issues a code.
func (pl *pendingLogins) take(id string) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	e, ok := pl.byID[id]
	if ok {
		pl.removeLocked(e)
	}
	return ok
}

// expire drops requests whose lifetime is over and returns how many.
func (pl *pendingLogins) expire(now time.Time) int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.expireLocked(now)
}

// len returns the number of pending requests.
func (pl *pendingLogins) len() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return len(pl.byID)
}

func (pl *pendingLogins) expireLocked(now time.Time) int {
	n := 0
	for f := pl.order.Front(); f != nil; f = pl.order.Front() {
		e := f.Value.(*pendingLogin)
		if now.Before(e.lr.Expires) {
			break
		}
		pl.removeLocked(e)
		n++
	}
	return n
}

func (pl *pendingLogins) removeLocked(e *pendingLogin) {
	pl.order.Remove(e.elem)
	delete(pl.byID, e.lr.ID)
	q := pl.byAddr[e.addr]
	for i, x := range q {
		if x == e {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(pl.byAddr, e.addr)
	} else {
		pl.byAddr[e.addr] = q
	}
}
