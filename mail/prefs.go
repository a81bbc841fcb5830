package mail

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// What a member gets from a group.
const (
	// ModeAll: every announcement and meeting notice, and the digest.
	ModeAll = "all"
	// ModeDigest: the weekly digest only.
	ModeDigest = "digest"
	// ModeNone: nothing.
	ModeNone = "none"
)

// Prefs are one user's mail preferences.
type Prefs struct {
	// None: no mail at all (global unsubscribe).
	None bool `json:"none,omitempty"`
	// Groups maps a group to ModeAll, ModeDigest or ModeNone; a group
	// not listed is ModeAll.
	Groups map[policy.GroupID]string `json:"groups,omitempty"`
}

func (p Prefs) mode(g policy.GroupID) string {
	if p.None {
		return ModeNone
	}
	if m, ok := p.Groups[g]; ok {
		return m
	}
	return ModeAll
}

// Mode returns what the user gets from group g.
func (p Prefs) Mode(g policy.GroupID) string { return p.mode(g) }

func readPrefs(tx store.Tx, u policy.UserID) (Prefs, error) {
	var p Prefs
	err := jsonrec.Get(tx, Namespace, "pref/"+string(u), &p)
	if errors.Is(err, store.ErrNotFound) {
		return Prefs{}, nil
	}
	return p, err
}

// ReadPrefs returns user u's preferences (the defaults when none are
// stored).
func ReadPrefs(tx store.Tx, u policy.UserID) (Prefs, error) { return readPrefs(tx, u) }

// SetPrefs changes user u's preferences with fn inside tx.
func SetPrefs(tx store.Tx, u policy.UserID, fn func(*Prefs) error) error {
	p, err := readPrefs(tx, u)
	if err != nil {
		return err
	}
	if err := fn(&p); err != nil {
		return err
	}
	for g, m := range p.Groups {
		switch m {
		case ModeAll:
			delete(p.Groups, g)
		case ModeDigest, ModeNone:
		default:
			return fmt.Errorf("%w: mode %q is not one of all, digest, none", ErrInvalid, m)
		}
	}
	return jsonrec.Put(tx, Namespace, "pref/"+string(u), p)
}

// tokenTTL is how long the links in a message work.
const tokenTTL = 180 * 24 * time.Hour

// Token is what an unsubscribe or preference link names: a user and the
// group the message came through.
type Token struct {
	User    policy.UserID
	Tenant  policy.TenantID
	Group   policy.GroupID
	Expires time.Time
}

// ErrBadToken: a link's token is malformed, forged or expired.
var ErrBadToken = errors.New("mail: invalid or expired link")

// secret returns the HMAC key of the tokens, creating it on first use.
func (s *Service) secret(ctx context.Context) ([]byte, error) {
	if k := s.key.Load(); k != nil {
		return *k, nil // it never changes once stored
	}
	key, err := s.loadSecret(ctx)
	if err == nil {
		s.key.Store(&key)
	}
	return key, err
}

func (s *Service) loadSecret(ctx context.Context) ([]byte, error) {
	var key []byte
	err := s.cfg.Store.View(ctx, func(tx store.Tx) (err error) { key, err = tx.GetRecord(Namespace, "secret"); return })
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh)
	err = s.cfg.Store.Update(ctx, "mail", func(tx store.Tx) error {
		cur, err := tx.GetRecord(Namespace, "secret")
		if err == nil { // another writer won
			key = cur
			return nil
		}
		key = fresh
		return tx.PutRecord(Namespace, "secret", fresh)
	})
	return key, err
}

func sign(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// MakeToken signs t.
func (s *Service) MakeToken(ctx context.Context, t Token) (string, error) {
	key, err := s.secret(ctx)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString([]byte(strings.Join([]string{string(t.User), string(t.Tenant), string(t.Group), strconv.FormatInt(t.Expires.Unix(), 10)}, "\n")))
	return payload + "." + sign(key, payload), nil
}

// ParseToken checks a token's signature and expiry.
func (s *Service) ParseToken(ctx context.Context, tok string) (Token, error) {
	payload, mac, ok := strings.Cut(tok, ".")
	if !ok {
		return Token{}, ErrBadToken
	}
	key, err := s.secret(ctx)
	if err != nil {
		return Token{}, err
	}
	if !hmac.Equal([]byte(mac), []byte(sign(key, payload))) {
		return Token{}, ErrBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Token{}, ErrBadToken
	}
	f := strings.Split(string(raw), "\n")
	if len(f) != 4 {
		return Token{}, ErrBadToken
	}
	exp, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		return Token{}, ErrBadToken
	}
	t := Token{User: policy.UserID(f[0]), Tenant: policy.TenantID(f[1]), Group: policy.GroupID(f[2]), Expires: time.Unix(exp, 0)}
	if !s.cfg.Now().Before(t.Expires) {
		return Token{}, ErrBadToken
	}
	return t, nil
}
