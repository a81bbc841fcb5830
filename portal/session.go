package portal

import (
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// user is who a session is signed in as, from the ID token.
type user struct {
	ID, Tenant, UserName, Name string
}

// session is the server-side state behind one portal cookie.
type session struct {
	id   string
	csrf string
	seen time.Time

	// Sign-in in progress.
	state, nonce, verifier, next string

	mu      sync.Mutex // guards state (in the callback), token, flash, secret
	user    *user
	token   *oauth2.Token
	idToken string
	flash   string
	secret  *oneTimeSecret
}

// oneTimeSecret is a secret shown on the next page only (a new SCIM token
// or client secret): the portal keeps no copy after that.
type oneTimeSecret struct {
	What, Value string
}

// setSecret keeps a secret for the next page shown, once.
func (s *session) setSecret(what, value string) {
	s.mu.Lock()
	s.secret = &oneTimeSecret{What: what, Value: value}
	s.mu.Unlock()
}

// takeSecret returns and forgets the pending secret.
func (s *session) takeSecret() *oneTimeSecret {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.secret
	s.secret = nil
	return v
}

// setFlash keeps a message for the next page shown.
func (s *session) setFlash(msg string) {
	s.mu.Lock()
	s.flash = msg
	s.mu.Unlock()
}

// takeFlash returns and clears the pending message.
func (s *session) takeFlash() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flash
	s.flash = ""
	return f
}

// sessions keeps sessions in memory, dropping those idle for too long and,
// past max, the least recently used.
type sessions struct {
	mu   sync.Mutex
	m    map[string]*session
	now  func() time.Time
	idle time.Duration
	max  int
}

func newSessions(now func() time.Time, idle time.Duration, max int) *sessions {
	return &sessions{m: map[string]*session{}, now: now, idle: idle, max: max}
}

func (ss *sessions) create() *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	if len(ss.m) >= ss.max {
		ss.sweep(now)
	}
	for len(ss.m) >= ss.max {
		var oldest *session
		for _, s := range ss.m {
			if oldest == nil || s.seen.Before(oldest.seen) {
				oldest = s
			}
		}
		delete(ss.m, oldest.id)
	}
	s := &session{id: randString(), csrf: randString(), seen: now}
	ss.m[s.id] = s
	return s
}

// sweep drops idle sessions; the caller holds mu.
func (ss *sessions) sweep(now time.Time) {
	for id, s := range ss.m {
		if now.Sub(s.seen) > ss.idle {
			delete(ss.m, id)
		}
	}
}

func (ss *sessions) get(id string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return nil
	}
	now := ss.now()
	if now.Sub(s.seen) > ss.idle {
		delete(ss.m, id)
		return nil
	}
	s.seen = now
	return s
}

func (ss *sessions) drop(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}
