package oidc

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/roster-dev/roster/store"
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
	// shared, when set, keeps every pending request in the store too, so
	// that a sign-in begun on one replica continues on another
	// (Config.SharedSignIns). Memory stays the first place looked in and
	// keeps the bounds; the store copy is dropped when the request ends,
	// gives way, or expires (Cleanup sweeps what another replica left).
	shared store.Store

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

func newPendingLogins(total, perAddr int, shared store.Store) *pendingLogins {
	return &pendingLogins{perAddr: perAddr, total: total, shared: shared, order: list.New(),
		byID: map[string]*pendingLogin{}, byAddr: map[string][]*pendingLogin{}}
}

// nsPendingSignIns is the record namespace of shared pending sign-ins.
const nsPendingSignIns = "oidc-pending-signin"

// sharedLogin is the stored form of a pending sign-in.
type sharedLogin struct {
	LR   loginRequest `json:"lr"`
	Addr string       `json:"addr"`
}

// storeTimeout bounds a shared pending-sign-in read or write.
const storeTimeout = 5 * time.Second

func (pl *pendingLogins) putShared(lr loginRequest, addr string) {
	if pl.shared == nil {
		return
	}
	b, err := json.Marshal(sharedLogin{LR: lr, Addr: addr})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	_ = pl.shared.Update(ctx, "oidc", func(tx store.Tx) error { return tx.PutRecord(nsPendingSignIns, lr.ID, b) })
}

func (pl *pendingLogins) dropShared(ids []string) {
	if pl.shared == nil || len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	_ = pl.shared.Update(ctx, "oidc", func(tx store.Tx) error {
		for _, id := range ids {
			if err := tx.DeleteRecord(nsPendingSignIns, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}

// adopt brings a request another replica started into memory.
func (pl *pendingLogins) adopt(id string, now time.Time) (loginRequest, bool) {
	if pl.shared == nil {
		return loginRequest{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	var sl sharedLogin
	err := pl.shared.View(ctx, func(tx store.Tx) error {
		b, err := tx.GetRecord(nsPendingSignIns, id)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &sl)
	})
	if err != nil || sl.LR.ID != id || !now.Before(sl.LR.Expires) {
		return loginRequest{}, false
	}
	pl.mu.Lock()
	if _, ok := pl.byID[id]; !ok {
		evicted := pl.addLocked(sl.LR, sl.Addr)
		pl.mu.Unlock()
		pl.dropShared(evicted)
	} else {
		pl.mu.Unlock()
	}
	return sl.LR, true
}

// add keeps lr, started from address addr. It returns how many older
// requests gave way.
func (pl *pendingLogins) add(lr loginRequest, addr string, now time.Time) int {
	pl.mu.Lock()
	expired := pl.expireLocked(now)
	evicted := pl.addLocked(lr, addr)
	pl.mu.Unlock()
	pl.dropShared(append(expired, evicted...))
	pl.putShared(lr, addr)
	return len(evicted)
}

// addLocked keeps lr and returns the ids of the requests that gave way.
func (pl *pendingLogins) addLocked(lr loginRequest, addr string) (evicted []string) {
	if q := pl.byAddr[addr]; len(q) >= pl.perAddr {
		evicted = append(evicted, q[0].lr.ID)
		pl.removeLocked(q[0])
	}
	for len(pl.byID) >= pl.total {
		e := pl.order.Front().Value.(*pendingLogin)
		evicted = append(evicted, e.lr.ID)
		pl.removeLocked(e)
	}
	e := &pendingLogin{lr: lr, addr: addr}
	e.elem = pl.order.PushBack(e)
	pl.byID[lr.ID] = e
	pl.byAddr[addr] = append(pl.byAddr[addr], e)
	return evicted
}

// get returns a copy of the request with that id (with a shared store,
// also one another replica started).
func (pl *pendingLogins) get(id string, now time.Time) (loginRequest, bool) {
	pl.mu.Lock()
	e, ok := pl.byID[id]
	var lr loginRequest
	if ok {
		lr = e.lr
	}
	pl.mu.Unlock()
	if ok {
		if pl.shared != nil {
			// Another replica may have moved the request on.
			if fresh, found := pl.adoptFresh(id, lr); found {
				return fresh, true
			}
		}
		return lr, true
	}
	return pl.adopt(id, now)
}

// adoptFresh returns the stored copy of a request this replica also holds,
// when the store has it (it may be newer), and refreshes memory with it.
func (pl *pendingLogins) adoptFresh(id string, cur loginRequest) (loginRequest, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	var sl sharedLogin
	if err := pl.shared.View(ctx, func(tx store.Tx) error {
		b, err := tx.GetRecord(nsPendingSignIns, id)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &sl)
	}); err != nil || sl.LR.ID != id {
		return loginRequest{}, false
	}
	sl.LR.Expires = cur.Expires
	pl.mu.Lock()
	if e, ok := pl.byID[id]; ok {
		e.lr = sl.LR
	}
	pl.mu.Unlock()
	return sl.LR, true
}

// update replaces a request still pending; it reports false when it is
// gone.
func (pl *pendingLogins) update(lr loginRequest) bool {
	pl.mu.Lock()
	e, ok := pl.byID[lr.ID]
	var addr string
	if ok {
		lr.Expires = e.lr.Expires // the lifetime never grows
		e.lr = lr
		addr = e.addr
	}
	pl.mu.Unlock()
	if ok {
		pl.putShared(lr, addr)
	}
	return ok
}

// take removes the request; it reports false when it was already gone, so
// that only one of two concurrent finishes issues a code — across
// replicas too, with a shared store (one transaction deletes the record).
func (pl *pendingLogins) take(id string) bool {
	pl.mu.Lock()
	e, ok := pl.byID[id]
	if ok {
		pl.removeLocked(e)
	}
	pl.mu.Unlock()
	if pl.shared == nil || !ok {
		return ok
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	taken := false
	err := pl.shared.Update(ctx, "oidc", func(tx store.Tx) error {
		taken = false
		if _, err := tx.GetRecord(nsPendingSignIns, id); err != nil {
			return err
		}
		taken = true
		return tx.DeleteRecord(nsPendingSignIns, id)
	})
	return err == nil && taken
}

// expire drops requests whose lifetime is over and returns how many; with
// a shared store it also sweeps the expired records any replica left.
func (pl *pendingLogins) expire(now time.Time) int {
	pl.mu.Lock()
	expired := pl.expireLocked(now)
	pl.mu.Unlock()
	n := len(expired)
	if pl.shared == nil {
		return n
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	var stale []string
	_ = pl.shared.View(ctx, func(tx store.Tx) error {
		stale = stale[:0]
		return tx.ScanRecords(nsPendingSignIns, "", func(key string, v []byte) error {
			var sl sharedLogin
			if json.Unmarshal(v, &sl) != nil || !now.Before(sl.LR.Expires) {
				stale = append(stale, key)
			}
			return nil
		})
	})
	pl.dropShared(append(expired, stale...))
	return n + len(stale)
}

// len returns the number of pending requests.
func (pl *pendingLogins) len() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return len(pl.byID)
}

func (pl *pendingLogins) expireLocked(now time.Time) (ids []string) {
	for f := pl.order.Front(); f != nil; f = pl.order.Front() {
		e := f.Value.(*pendingLogin)
		if now.Before(e.lr.Expires) {
			break
		}
		ids = append(ids, e.lr.ID)
		pl.removeLocked(e)
	}
	return ids
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
