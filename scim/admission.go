package scim

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// What is cheap and what is expensive.
//
// A request is cheap when its work is bounded whatever the tenant's size:
// discovery, a single resource, a filter whose top-level and-chain holds an
// equality on an indexed attribute (id, externalId, userName, emails.value
// — also as emails[type eq "work"].value — and a group's displayName), and
// an unfiltered user listing that reads at most cheapDepth records from
// the start or resumes from a cursor. Everything else — other filters (co,
// sw, ew, ne, pr, gt…, or, not, unindexed attributes), deep pages without a
// cursor, unfiltered group listings (counted by a scan) — is expensive and
// runs under the admission.Controller, per tenant and globally; beyond its
// bounds it is answered 429 with Retry-After at once, never queued, so
// cheap requests never wait behind it.

// cheapDepth is the most records an unfiltered listing may read from the
// start of the id order and still be cheap.
const cheapDepth = DefaultMaxResults

// listPlan is how a listing will be answered.
type listPlan struct {
	indexed   bool   // from an index
	after     string // from a cursor: the records after this id
	expensive bool
}

func (h *resourceHandler) plan(t policy.TenantID, f expr, start, count int) listPlan {
	switch {
	case f != nil:
		if attr, _, ok := indexedEquality(f, h.kind, h.core()); ok && (attr != "emails.value" || h.s.emailIndex) {
			return listPlan{indexed: true}
		}
		return listPlan{expensive: true}
	case h.kind == groupKind:
		return listPlan{expensive: true}
	case count == 0 || start-1+count <= cheapDepth:
		return listPlan{}
	}
	if after, ok := h.s.cursors.get(cursorKey{t, h.kind, start}); ok {
		return listPlan{after: after}
	}
	return listPlan{expensive: true}
}

// tooBusyError refuses an expensive request beyond the admission bounds.
type tooBusyError struct{ retryAfter int }

func (e tooBusyError) Error() string { return "scim: too many expensive requests" }

func (e tooBusyError) scim() Error {
	return Error{Status: http.StatusTooManyRequests, Detail: fmt.Sprintf(
		"too many expensive requests (substring or unindexed filters, deep pages, full listings) are running; retry after %d s, or filter with eq on userName, externalId, emails.value or id", e.retryAfter)}
}

// admit runs an expensive request of r's tenant under the admission
// controller: it returns the release func, or a tooBusyError at once.
func (s *Server) admit(r request) (func(), error) {
	if s.adm == nil {
		return func() {}, nil
	}
	release, ok := s.adm.Admit("scim/" + string(r.tenant))
	if !ok {
		return nil, tooBusyError{retryAfter: s.adm.RetryAfter()}
	}
	return release, nil
}

// Cursors let a client that pages sequentially through an unfiltered
// listing (Okta's import: startIndex 1, 101, 201… with count=100) resume
// after the last id it was sent instead of reading up to startIndex again.
// The page that startIndex S asks for is then "the records after the last
// one of the page that ended at S-1"; if records were created or deleted
// between the pages this is what a sequential reader wants (no record
// twice, none skipped for a shift), which RFC 7644 §3.4.2.4 allows.

type cursorKey struct {
	tenant policy.TenantID
	kind   resourceKind
	start  int
}

type cursorEntry struct {
	after string
	at    time.Time
}

// cursorTable remembers where recent pages ended. It is bounded and its
// entries expire.
type cursorTable struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[cursorKey]cursorEntry
}

const (
	maxCursors = 4096
	cursorTTL  = 10 * time.Minute
)

func (c *cursorTable) get(k cursorKey) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || c.now().Sub(e.at) > cursorTTL {
		return "", false
	}
	return e.after, true
}

func (c *cursorTable) put(k cursorKey, after string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[cursorKey]cursorEntry{}
	}
	now := c.now()
	if len(c.m) >= maxCursors {
		for k, e := range c.m {
			if now.Sub(e.at) > cursorTTL {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCursors {
			clear(c.m)
		}
	}
	c.m[k] = cursorEntry{after: after, at: now}
}

// probeEmailIndex reports whether the store's transactions look users up
// by e-mail address (store.EmailTx).
func probeEmailIndex(st store.Store) bool {
	ok := false
	_ = st.View(context.Background(), func(tx store.Tx) error {
		_, ok = tx.(store.EmailTx)
		return nil
	})
	return ok
}

// emailEquality finds "value eq "…"" in the top-level and-chain of the
// filter of emails[…].
func emailEquality(f expr) (string, bool) {
	switch e := f.(type) {
	case *logicalExpr:
		if e.Op != "and" {
			return "", false
		}
		if v, ok := emailEquality(e.L); ok {
			return v, ok
		}
		return emailEquality(e.R)
	case *compareExpr:
		s, ok := e.Value.(string)
		if ok && e.Op == "eq" && e.Path.URI == "" && e.Path.Sub == "" && strings.EqualFold(e.Path.Attr, "value") {
			return s, true
		}
	}
	return "", false
}
