// Package admin serves Roster's admin API: JSON over HTTP under /api/v1.
//
// Callers authenticate with a bearer token: an admin token from the
// configuration (full access), or an access token issued by Roster's OIDC
// provider, in which case delegated administration applies: the caller may
// do what the policy engine's Check grants on the group concerned (an
// organizer of a local group may manage that group's members and meetings
// and nothing else). Errors are JSON objects {"error":{"code","message"}}
// with a stable code; a rejected request changes nothing.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/roster-dev/roster/geo"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Engine is what the admin API needs of the policy engine.
type Engine interface {
	EffectiveGroups(u policy.UserID) []policy.EffectiveMembership
	Members(g policy.GroupID) []policy.EffectiveMember
	MemberCount(g policy.GroupID) int
	Check(u policy.UserID, p policy.Permission, g policy.GroupID) bool
	Explain(u policy.UserID, p policy.Permission, g policy.GroupID) policy.Explanation
	Charter(g policy.GroupID) policy.CharterStatus
	Children(g policy.GroupID) []policy.GroupID
}

// AccessToken is what the admin API learns from a Roster-issued access
// token.
type AccessToken struct {
	User   policy.UserID
	Tenant policy.TenantID
}

// AccessTokenVerifier checks an access token issued by Roster's OIDC
// provider. It returns an error for any token it does not accept.
type AccessTokenVerifier interface {
	VerifyAccessToken(ctx context.Context, token string) (AccessToken, error)
}

// Config configures the admin API.
type Config struct {
	Logger *slog.Logger
	Now    func() time.Time
	Store  store.Store
	Engine Engine
	// Tokens are the admin bearer tokens (full access). Only their
	// hashes are kept; the name is the actor the audit log records.
	Tokens []Token
	// AccessTokens, when set, lets members act with Roster-issued access
	// tokens under delegated administration.
	AccessTokens AccessTokenVerifier
	// MaxBodyBytes limits request bodies (default 1 MiB).
	MaxBodyBytes int64
	// Hierarchy holds the known group kinds, where each may sit and who
	// governs it (default policy.DefaultHierarchy); give the Engine the
	// same.
	Hierarchy policy.Hierarchy
	// Products are the vendor's product lines a group may name (config
	// policy.products), normalized as policy.NormalizeTags leaves them.
	Products []string
	// Extensions registers routes of other components (SCIM tokens, sync,
	// OIDC clients) that cmd wires in. Each is mounted under /api/v1 and
	// is admin-only unless it names a Permission.
	Extensions []Extension
	// Gazetteer places the LUG finder's searches and groups that have a
	// city but no coordinates (default: geo.Cities, loaded on first use).
	Gazetteer *geo.Gazetteer
	// TravelKm is how far the check "is there a group already?" looks
	// around the city of an application to found a group (default
	// DefaultTravelKm).
	TravelKm float64
	// FounderRole is the role the founders of an approved group get in
	// it (default "organizer").
	FounderRole policy.RoleName
}

// Token is one admin bearer token and its name.
type Token struct {
	Name  string
	Token string
}

// Extension is a route added by the composition root: admin tokens only,
// or also delegated callers who hold Permission.
type Extension struct {
	// Pattern is a net/http ServeMux pattern relative to /api/v1, e.g.
	// "POST /tenants/{tenant}/scim-tokens".
	Pattern string
	// Permission, when set, also lets a delegated caller (an access
	// token) use the route if the policy engine grants them Permission on
	// every root group (every group without a parent): the route acts on
	// the whole deployment, so it needs the permission over all of it.
	// Empty: admin tokens only.
	Permission policy.Permission
	// Handle serves the request; it returns the value to encode as JSON
	// (nil: 204) and the HTTP status for success.
	Handle func(r *http.Request, body Body) (status int, v any, err error)
}

// Body decodes the JSON request body into v, refusing unknown fields.
type Body func(v any) error

// Server is the admin API handler.
type Server struct {
	cfg    Config
	tokens []tokenHash
	mux    *http.ServeMux

	charterMu sync.Mutex // serializes RecordCharterChanges

	gazOnce sync.Once // loads the gazetteer on first use (finder.go)
	gaz     *geo.Gazetteer
	gazErr  error
}

// New returns the admin API handler, serving paths under /api/v1/.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Engine == nil {
		return nil, errors.New("admin: Store and Engine are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Hierarchy.Parents == nil {
		cfg.Hierarchy = policy.DefaultHierarchy()
	}
	if cfg.Hierarchy.Governance == nil {
		cfg.Hierarchy.Governance = policy.DefaultHierarchy().Governance
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	for i, t := range cfg.Tokens {
		if t.Token == "" {
			continue
		}
		name := t.Name
		if name == "" {
			name = fmt.Sprintf("token-%d", i+1)
		}
		s.tokens = append(s.tokens, tokenHash{name: name, sum: sha256.Sum256([]byte(t.Token))})
	}
	s.routes()
	for _, e := range cfg.Extensions {
		e := e
		method, path, ok := strings.Cut(e.Pattern, " ")
		if !ok {
			return nil, fmt.Errorf("admin: extension pattern %q needs a method", e.Pattern)
		}
		s.handle(method+" /api/v1"+path, func(w http.ResponseWriter, r *http.Request, p principal) {
			if !p.admin && (e.Permission == "" || !s.onEveryRoot(r, p, e.Permission)) {
				writeErr(w, errForbidden)
				return
			}
			status, v, err := e.Handle(r, s.body(w, r))
			if err != nil {
				writeErr(w, err)
				return
			}
			if v == nil {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			writeJSON(w, status, v)
		})
	}
	return s, nil
}

// ServeHTTP serves the admin API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pat := s.mux.Handler(r); pat == "" {
		// Tell a wrong method from an unknown path, in JSON.
		var allow []string
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, p := s.mux.Handler(r2); p != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeErr(w, &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: r.Method + " is not allowed here"})
			return
		}
		writeErr(w, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such endpoint: " + r.URL.Path})
		return
	}
	s.mux.ServeHTTP(w, r)
}

type tokenHash struct {
	name string
	sum  [32]byte
}

// principal is the authenticated caller.
type principal struct {
	admin  bool
	name   string // the admin token's name
	user   policy.UserID
	tenant policy.TenantID
}

// actor names the caller in the audit log: "admin:<token name>" or
// "user:<tenant>/<user id>".
func (p principal) actor() string {
	if p.admin {
		return "admin:" + p.name
	}
	return "user:" + string(p.tenant) + "/" + string(p.user)
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, p principal)

func (s *Server) handle(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="roster"`)
			writeErr(w, err)
			return
		}
		h(w, r.WithContext(store.WithActor(r.Context(), p.actor())), p)
	})
}

var errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "a valid bearer token is required"}
var errForbidden = &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "the caller may not do this"}

func (s *Server) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return principal{}, errUnauthorized
	}
	sum := sha256.Sum256([]byte(tok))
	found := -1
	for i, h := range s.tokens { // every hash is compared: no early exit
		if subtle.ConstantTimeCompare(sum[:], h.sum[:]) == 1 {
			found = i
		}
	}
	if found >= 0 {
		return principal{admin: true, name: s.tokens[found].name}, nil
	}
	if s.cfg.AccessTokens != nil {
		at, err := s.cfg.AccessTokens.VerifyAccessToken(r.Context(), tok)
		if err == nil && at.User != "" {
			return principal{user: at.User, tenant: at.Tenant}, nil
		}
	}
	return principal{}, errUnauthorized
}

// can reports whether p may use permission perm on group g.
func (s *Server) can(p principal, perm policy.Permission, g policy.GroupID) bool {
	return p.admin || s.cfg.Engine.Check(p.user, perm, g)
}

// onEveryRoot reports whether p holds perm on every root group (and
// there is at least one).
func (s *Server) onEveryRoot(r *http.Request, p principal, perm policy.Permission) bool {
	var gs []policy.Group
	if err := s.view(r, func(tx store.Tx) (err error) { gs, err = tx.Groups(); return }); err != nil {
		return false
	}
	roots := 0
	for _, g := range gs {
		if g.Parent != "" {
			continue
		}
		roots++
		if !s.can(p, perm, g.ID) {
			return false
		}
	}
	return roots > 0
}

// canGrant reports whether p may give (or take) role r in group g: plain
// membership needs members.manage; any other role needs roles.assign and
// every permission the role carries, on g and, for a role that flows down,
// on every group below g. So nobody hands out more than they hold.
func (s *Server) canGrant(p principal, r policy.Role, g policy.GroupID) bool {
	if p.admin {
		return true
	}
	if r.Name == "member" {
		return s.can(p, policy.PermMembersManage, g)
	}
	groups := []policy.GroupID{g}
	if r.Inherit {
		for i := 0; i < len(groups); i++ {
			groups = append(groups, s.cfg.Engine.Children(groups[i])...)
		}
	}
	for _, h := range groups {
		if !s.can(p, policy.PermRolesAssign, h) {
			return false
		}
		for _, perm := range r.Permissions {
			if !s.can(p, perm, h) {
				return false
			}
		}
	}
	return true
}

// checkKind refuses a group kind that is neither built in nor configured.
func (s *Server) checkKind(k policy.GroupKind) error {
	if _, ok := s.cfg.Hierarchy.Parents[k]; k == "" || ok {
		return nil
	}
	return badRequest("kind %q is not one of %v", k, s.cfg.Hierarchy.Kinds())
}

// checkPlacement applies the hierarchy rules to g as it is about to be
// written: its kind fits under its parent, no sibling has its name, and
// its children still fit under it (after a kind change).
func (s *Server) checkPlacement(tx store.Tx, g policy.Group) error {
	all, err := tx.Groups()
	if err != nil {
		return err
	}
	parents := make(map[policy.GroupID]policy.GroupID, len(all))
	for _, o := range all {
		parents[o.ID] = o.Parent
	}
	// A cycle is the more telling answer (409 cycle): check it first.
	if err := policy.CheckParent(g.ID, g.Parent, func(id policy.GroupID) (policy.GroupID, bool) {
		p, ok := parents[id]
		return p, ok
	}); err != nil && g.ID != "" {
		return err
	}
	var parent policy.Group
	var siblings []policy.Group
	for _, o := range all {
		if o.ID == g.Parent && g.Parent != "" {
			parent = o
		}
		if o.Parent == g.Parent && o.ID != g.ID {
			siblings = append(siblings, o)
		}
	}
	if parent.Archived && !g.Archived {
		return errArchived(parent)
	}
	if err := s.cfg.Hierarchy.CheckPlacement(g, parent, siblings); err != nil {
		return err
	}
	for _, c := range all {
		if c.Parent == g.ID && g.ID != "" {
			if !slices.Contains(s.cfg.Hierarchy.Parents[c.Kind], g.Kind) {
				return fmt.Errorf("%w: subgroup %s (%s) may not sit under a %s group", policy.ErrInvalid, c.Slug, c.Kind, g.Kind)
			}
		}
	}
	return nil
}

// Error is an admin API error with a stable code.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the input field at fault, when one is (a form shows
	// the message next to it).
	Field string `json:"field,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func badRequest(format string, a ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "bad_request", Message: fmt.Sprintf(format, a...)}
}

// toError maps internal errors onto API errors.
func toError(err error) *Error {
	var ae *Error
	var mbe *http.MaxBytesError
	var fe *policy.FieldError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &mbe):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, store.ErrExists):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}
	case errors.Is(err, store.ErrVersion):
		return &Error{Status: http.StatusPreconditionFailed, Code: "version_mismatch", Message: err.Error()}
	case errors.Is(err, store.ErrInUse):
		return &Error{Status: http.StatusConflict, Code: "in_use", Message: err.Error()}
	case errors.Is(err, policy.ErrCycle):
		return &Error{Status: http.StatusConflict, Code: "cycle", Message: err.Error()}
	case errors.As(err, &fe):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: fe.Message, Field: fe.Field}
	case errors.Is(err, policy.ErrInvalid):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
	case errors.Is(err, store.ErrStorage):
		// RFC 4918 §11.5: the server cannot store what the request needs.
		return &Error{Status: http.StatusInsufficientStorage, Code: "storage", Message: "storage cannot take writes (out of space or read-only); nothing was changed, retry later"}
	case errors.Is(err, context.Canceled):
		return &Error{Status: statusClientClosed, Code: "canceled", Message: "the request was canceled"}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
}

// statusClientClosed is answered (to nobody) when the client hung up; it
// keeps such requests apart from server errors in the metrics.
const statusClientClosed = 499

func writeErr(w http.ResponseWriter, err error) {
	e := toError(err)
	writeJSON(w, e.Status, map[string]*Error{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// body returns a decoder of r's JSON body with the size limit applied.
func (s *Server) body(w http.ResponseWriter, r *http.Request) Body {
	return func(v any) error {
		if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
			return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "send application/json"}
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			if errors.Is(err, io.EOF) {
				return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "request body is empty"}
			}
			return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "malformed JSON: " + err.Error()}
		}
		if dec.More() {
			return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "trailing data after the JSON value"}
		}
		return nil
	}
}
