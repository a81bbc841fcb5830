package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// nsSessions keeps the browser sessions at the provider:
//
//	s/<id>                       sessionRecord
//	u/<tenant>/<user>/<id>       ""   (a user's sessions)
//	g/<id>/<grant>               ""   (grants issued in the session)
//	k/device                     the HMAC key of device cookies
//
// The index records are written in the same transaction as the session.
const nsSessions = "oidc-sessions"

// Authentication methods (amr, RFC 8176 §2) and context classes (acr,
// OIDC Core §2) of a session.
const (
	// AMRPassword: a password checked by Roster.
	AMRPassword = "pwd"
	// AMRFederated: a sign-in at the tenant's own IdP.
	AMRFederated = "fed"
	// acrSession: the code was answered from an existing browser session,
	// "level 0" of OIDC Core §2 (a long-lived cookie).
	acrSession = "0"
	// acrFresh: the user authenticated during this authorization request.
	acrFresh = "1"
)

// SessionConfig bounds browser sessions. Zero durations take the
// defaults.
type SessionConfig struct {
	// Idle ends a session unused this long; default 8 hours.
	Idle time.Duration
	// Absolute ends a session this long after sign-in whatever its use;
	// default 7 days.
	Absolute time.Duration
}

// sessionRecord is one browser session. The cookie is "<id>.<secret>";
// only the SHA-256 of the secret is kept.
type sessionRecord struct {
	ID        string          `json:"id"`
	Hash      string          `json:"hash"`
	User      policy.UserID   `json:"user"`
	Tenant    policy.TenantID `json:"tenant"`
	UserName  string          `json:"userName"`
	AMR       []string        `json:"amr"`
	AuthTime  time.Time       `json:"authTime"`
	Created   time.Time       `json:"created"`
	LastUsed  time.Time       `json:"lastUsed"`
	Expires   time.Time       `json:"exp"` // absolute end
	CSRF      string          `json:"csrf"`
	UserAgent string          `json:"userAgent,omitempty"`
	Addr      string          `json:"addr,omitempty"`
	// Clients that received a code in this session (back-channel logout
	// goes to each).
	Clients []sessionClient `json:"clients,omitempty"`
}

type sessionClient struct {
	ID   string `json:"id"`
	Inst string `json:"ci,omitempty"`
}

// Session describes a browser session for the account page and the admin
// API.
type Session struct {
	ID        string          `json:"id"`
	Tenant    policy.TenantID `json:"tenant"`
	User      policy.UserID   `json:"user"`
	UserName  string          `json:"userName"`
	AMR       []string        `json:"amr"`
	AuthTime  time.Time       `json:"authTime"`
	LastUsed  time.Time       `json:"lastUsed"`
	Expires   time.Time       `json:"expires"`
	UserAgent string          `json:"userAgent,omitempty"`
	Addr      string          `json:"address,omitempty"`
	Clients   []string        `json:"clients"`
}

func (s *sessionRecord) public(idle time.Duration) Session {
	out := Session{ID: s.ID, Tenant: s.Tenant, User: s.User, UserName: s.UserName, AMR: s.AMR, AuthTime: s.AuthTime,
		LastUsed: s.LastUsed, Expires: s.end(idle), UserAgent: s.UserAgent, Addr: s.Addr, Clients: []string{}}
	for _, c := range s.Clients {
		out.Clients = append(out.Clients, c.ID)
	}
	return out
}

// end is when the session ends unless used again.
func (s *sessionRecord) end(idle time.Duration) time.Time {
	if e := s.LastUsed.Add(idle); e.Before(s.Expires) {
		return e
	}
	return s.Expires
}

func sessionKey(id string) string { return "s/" + id }
func userSessionPrefix(t policy.TenantID, u policy.UserID) string {
	return "u/" + string(t) + "/" + string(u) + "/"
}
func sessionGrantPrefix(id string) string { return "g/" + id + "/" }

func hashSecret64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sessionCookieName is "__Host-roster-session" when the issuer is https at
// the root of its host (the prefix makes the browser refuse the cookie
// from anywhere but this origin's https, path /), "__Secure-roster-session"
// for an https issuer below a path, and "roster_session" for plain http.
func (p *Provider) sessionCookieName() string {
	switch {
	case p.secure && p.prefix == "":
		return "__Host-roster-session"
	case p.secure:
		return "__Secure-roster-session"
	}
	return "roster_session"
}

func (p *Provider) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: p.cookiePath(), HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	} else if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// browserSession returns the live session of the browser's cookie and its
// user. A session whose user is gone or inactive, or that is past its
// lifetime, is ended (its clients are told) and not returned.
func (p *Provider) browserSession(ctx context.Context, r *http.Request) (*sessionRecord, policy.User, bool) {
	c, err := r.Cookie(p.sessionCookieName())
	if err != nil || len(c.Value) > 128 {
		return nil, policy.User{}, false
	}
	id, secret, ok := strings.Cut(c.Value, ".")
	if !ok || id == "" || secret == "" {
		return nil, policy.User{}, false
	}
	var s sessionRecord
	var u policy.User
	var userErr error
	err = p.st.View(ctx, func(tx store.Tx) error {
		if err := jsonrec.Get(tx, nsSessions, sessionKey(id), &s); err != nil {
			return err
		}
		u, userErr = tx.User(s.Tenant, s.User)
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			p.log.Warn("oidc: loading session", "err", err)
		}
		return nil, policy.User{}, false
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret64(secret)), []byte(s.Hash)) != 1 {
		return nil, policy.User{}, false
	}
	now := p.now()
	switch {
	case !now.Before(s.end(p.cfg.Session.Idle)):
		p.endSessions(ctx, "oidc", "expired", s.ID)
		return nil, policy.User{}, false
	case errors.Is(userErr, store.ErrNotFound):
		p.endSessions(ctx, "oidc", "user deleted", s.ID)
		return nil, policy.User{}, false
	case userErr != nil:
		p.log.Warn("oidc: loading session user", "err", userErr)
		return nil, policy.User{}, false
	case !u.Active:
		p.endSessions(ctx, "oidc", "user inactive", s.ID)
		return nil, policy.User{}, false
	}
	return &s, u, true
}

// newSession records a session for u after a sign-in by amr and sets its
// cookie. A session the browser already had ends (for another user) or is
// renewed in place (same user: same sid, fresh auth_time).
func (p *Provider) newSession(ctx context.Context, w http.ResponseWriter, r *http.Request, u policy.User, amr string) (*sessionRecord, error) {
	now := p.now()
	old, _, had := p.browserSession(ctx, r)
	if had && old.User == u.ID && old.Tenant == u.Tenant {
		s := *old
		s.AuthTime, s.LastUsed, s.AMR = now, now, []string{amr}
		err := p.writes.Do(ctx, func(tx store.Tx) error {
			var cur sessionRecord
			if err := jsonrec.Get(tx, nsSessions, sessionKey(s.ID), &cur); err != nil {
				return err
			}
			cur.AuthTime, cur.LastUsed, cur.AMR = s.AuthTime, s.LastUsed, s.AMR
			s = cur
			return jsonrec.Put(tx, nsSessions, sessionKey(s.ID), cur)
		})
		if err == nil {
			return &s, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("oidc: renewing session: %w", err)
		}
	} else if had {
		p.endSessions(ctx, userActor(old.Tenant, old.UserName), "another user signed in", old.ID)
	}
	secret := randomString(32)
	s := sessionRecord{ID: randomString(16), Hash: hashSecret64(secret), User: u.ID, Tenant: u.Tenant, UserName: u.UserName,
		AMR: []string{amr}, AuthTime: now, Created: now, LastUsed: now, Expires: now.Add(p.cfg.Session.Absolute),
		CSRF: randomString(24), UserAgent: truncate(r.UserAgent(), 200), Addr: p.clientAddr(r)}
	err := p.st.Update(ctx, userActor(u.Tenant, u.UserName), func(tx store.Tx) error {
		if err := jsonrec.Put(tx, nsSessions, sessionKey(s.ID), s); err != nil {
			return err
		}
		if err := tx.PutRecord(nsSessions, userSessionPrefix(u.Tenant, u.ID)+s.ID, nil); err != nil {
			return err
		}
		return tx.Record(u.Tenant, policy.OpCreate, auditSession+s.ID, map[string]any{"user": u.ID, "amr": s.AMR})
	})
	if err != nil {
		return nil, fmt.Errorf("oidc: recording session: %w", err)
	}
	p.setCookie(w, p.sessionCookieName(), s.ID+"."+secret, p.cfg.Session.Absolute)
	return &s, nil
}

// auditSession prefixes the audit ids of sessions.
const auditSession = "oidc-session/"

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// useSession, inside the transaction that issues a code from session id,
// marks the session used now and records the client. It reports false
// when the session is gone.
func (p *Provider) useSession(tx store.Tx, id string, c *ClientConfig, grant string) (bool, error) {
	var s sessionRecord
	if err := jsonrec.Get(tx, nsSessions, sessionKey(id), &s); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	s.LastUsed = p.now()
	if !slices.ContainsFunc(s.Clients, func(sc sessionClient) bool { return sc.ID == c.ID && sc.Inst == c.Instance }) {
		s.Clients = append(s.Clients, sessionClient{ID: c.ID, Inst: c.Instance})
	}
	if err := jsonrec.Put(tx, nsSessions, sessionKey(id), s); err != nil {
		return false, err
	}
	return true, tx.PutRecord(nsSessions, sessionGrantPrefix(id)+grant, nil)
}

// sessionAlive reports, inside a transaction, whether session id still
// exists (a code issued in it is refused once it has ended).
func sessionAlive(tx store.Tx, id string) (bool, error) {
	if id == "" {
		return true, nil
	}
	_, err := tx.GetRecord(nsSessions, sessionKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// endSessions ends the sessions ids: it deletes them, revokes every grant
// issued in them (their refresh and access tokens stop working) and sends
// a back-channel logout token to each of their clients that registered a
// backchannelLogoutURI. actor is who ended them (audit), reason why.
// Errors are logged; the sessions that could be ended are returned.
func (p *Provider) endSessions(ctx context.Context, actor, reason string, ids ...string) []sessionRecord {
	var ended []sessionRecord
	err := p.st.Update(ctx, actor, func(tx store.Tx) error {
		ended = ended[:0]
		for _, id := range ids {
			var s sessionRecord
			if err := jsonrec.Get(tx, nsSessions, sessionKey(id), &s); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				return err
			}
			// The keys first: a backend may not write while it scans.
			grants, err := keysUnder(tx, nsSessions, sessionGrantPrefix(id))
			if err != nil {
				return err
			}
			for _, g := range grants {
				if err := revokeGrant(tx, g, "session ended: "+reason); err != nil {
					return err
				}
				if err := tx.DeleteRecord(nsSessions, sessionGrantPrefix(id)+g); err != nil {
					return err
				}
			}
			if err := ignoreNotFound(tx.DeleteRecord(nsSessions, userSessionPrefix(s.Tenant, s.User)+id)); err != nil {
				return err
			}
			if err := tx.DeleteRecord(nsSessions, sessionKey(id)); err != nil {
				return err
			}
			if err := tx.Record(s.Tenant, policy.OpDelete, auditSession+id, map[string]any{"user": s.User, "reason": reason}); err != nil {
				return err
			}
			ended = append(ended, s)
		}
		return nil
	})
	if err != nil {
		p.log.Error("oidc: ending sessions", "err", err, "reason", reason)
		return nil
	}
	for _, s := range ended {
		p.log.Info("oidc: session ended", "tenant", s.Tenant, "user", s.User, "session", s.ID, "reason", reason)
		p.backchannelLogout(s)
	}
	return ended
}

// userSessionIDs lists the ids of a user's sessions.
func (p *Provider) userSessionIDs(ctx context.Context, tenant policy.TenantID, user policy.UserID) ([]string, error) {
	var ids []string
	err := p.st.View(ctx, func(tx store.Tx) (err error) {
		ids, err = keysUnder(tx, nsSessions, userSessionPrefix(tenant, user))
		return err
	})
	return ids, err
}

// keysUnder lists the keys of ns under prefix, without the prefix.
func keysUnder(tx store.Tx, ns, prefix string) ([]string, error) {
	var keys []string
	err := tx.ScanRecords(ns, prefix, func(k string, _ []byte) error {
		keys = append(keys, strings.TrimPrefix(k, prefix))
		return nil
	})
	return keys, err
}

// Sessions lists the live browser sessions of a user, newest sign-in
// first.
func (p *Provider) Sessions(ctx context.Context, tenant policy.TenantID, user policy.UserID) ([]Session, error) {
	ids, err := p.userSessionIDs(ctx, tenant, user)
	if err != nil {
		return nil, fmt.Errorf("oidc: listing sessions: %w", err)
	}
	out := []Session{}
	now := p.now()
	err = p.st.View(ctx, func(tx store.Tx) error {
		for _, id := range ids {
			var s sessionRecord
			if err := jsonrec.Get(tx, nsSessions, sessionKey(id), &s); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				return err
			}
			if now.Before(s.end(p.cfg.Session.Idle)) {
				out = append(out, s.public(p.cfg.Session.Idle))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("oidc: listing sessions: %w", err)
	}
	slices.SortFunc(out, func(a, b Session) int { return b.AuthTime.Compare(a.AuthTime) })
	return out, nil
}

// ErrSessionNotFound: no such session of that user.
var ErrSessionNotFound = errors.New("oidc: session not found")

// RevokeSession ends one session of a user (id) or, when id is empty,
// every session of the user, on behalf of store.ActorOr(ctx, "oidc"). The
// sessions' clients receive back-channel logout tokens and the tokens
// issued in them are revoked. It returns how many sessions ended.
func (p *Provider) RevokeSession(ctx context.Context, tenant policy.TenantID, user policy.UserID, id string) (int, error) {
	ids, err := p.userSessionIDs(ctx, tenant, user)
	if err != nil {
		return 0, fmt.Errorf("oidc: revoking sessions: %w", err)
	}
	if id != "" {
		if !slices.Contains(ids, id) {
			return 0, ErrSessionNotFound
		}
		ids = []string{id}
	}
	return len(p.endSessions(ctx, store.ActorOr(ctx, "oidc"), "revoked", ids...)), nil
}

// watchUsers ends the sessions of users deactivated or deleted by any
// source, as the change feed reports them, until ctx is done. The check at
// use (browserSession) stands whether or not it runs; this makes the
// back-channel logout prompt.
func (p *Provider) watchUsers(ctx context.Context) {
	type who struct {
		tenant policy.TenantID
		user   policy.UserID
	}
	ch := make(chan who, 1024)
	cancel := p.st.Subscribe(func(cs []policy.Change) {
		for _, c := range cs {
			if c.Kind != policy.KindUser {
				continue
			}
			if c.Op != policy.OpDelete {
				if _, u, err := policy.Records[policy.User](c); err != nil || (u != nil && u.Active) {
					continue
				}
			}
			id := policy.UserID(c.ID)
			if i := strings.LastIndexByte(c.ID, '/'); i >= 0 {
				id = policy.UserID(c.ID[i+1:])
			}
			select {
			case ch <- who{c.Tenant, id}:
			default:
				p.log.Warn("oidc: too many user changes at once; sessions end at their next use", "tenant", c.Tenant, "user", id)
			}
		}
	})
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-ch:
			ids, err := p.userSessionIDs(ctx, w.tenant, w.user)
			if err != nil {
				p.log.Warn("oidc: listing sessions of a deactivated user", "err", err)
				continue
			}
			if len(ids) > 0 {
				p.endSessions(ctx, "oidc", "user deactivated or deleted", ids...)
			}
		}
	}
}

// cleanupSessions deletes sessions past their lifetime.
func (p *Provider) cleanupSessions(ctx context.Context) (int, error) {
	now := p.now()
	var expired []string
	err := p.st.View(ctx, func(tx store.Tx) error {
		return tx.ScanRecords(nsSessions, "s/", func(_ string, v []byte) error {
			var s sessionRecord
			if json.Unmarshal(v, &s) == nil && !now.Before(s.end(p.cfg.Session.Idle)) {
				expired = append(expired, s.ID)
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	removed := 0
	for len(expired) > 0 {
		n := min(len(expired), 100)
		removed += len(p.endSessions(ctx, "oidc", "expired", expired[:n]...))
		expired = expired[n:]
	}
	return removed, nil
}
