package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Claim names beyond the standard ones (OIDC Core §5.1).
const (
	// ClaimGroups lists the user's effective groups (slugs or ids).
	ClaimGroups = "groups"
	// ClaimRoles lists "<group>:<role>" pairs.
	ClaimRoles = "roles"
	// ClaimTenant is the user's tenant.
	ClaimTenant = "tenant"
)

// claimSourceName is the distributed-claims source (OIDC Core §5.6.2)
// pointing at userinfo when the group list is too long for an ID token.
const claimSourceName = "roster"

// groupClaims returns the groups and roles claims of user u for client c,
// sorted.
func (p *Provider) groupClaims(u policy.UserID, c *ClientConfig) (groups, roles []string) {
	ms := p.engine.EffectiveGroups(u)
	seen := map[policy.GroupID]string{} // group -> name in claims ("" when filtered out)
	for _, m := range ms {
		name, ok := seen[m.Group]
		if !ok {
			name = p.groupName(m.Group, c)
			seen[m.Group] = name
			if name != "" {
				groups = append(groups, name)
			}
		}
		if name != "" {
			roles = append(roles, name+":"+string(m.Role))
		}
	}
	sort.Strings(groups)
	sort.Strings(roles)
	return groups, slices.Compact(roles)
}

// groupName returns how group id appears in c's tokens, or "" when c's
// filter excludes it.
func (p *Provider) groupName(id policy.GroupID, c *ClientConfig) string {
	g, ok := p.engine.Group(id)
	if !ok {
		return ""
	}
	f := c.Groups
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, g.Kind) {
		return ""
	}
	if f.Root != "" && g.Slug != f.Root {
		under := false
		for _, a := range p.engine.Ancestors(id) {
			if ag, ok := p.engine.Group(a); ok && ag.Slug == f.Root {
				under = true
				break
			}
		}
		if !under {
			return ""
		}
	}
	if c.GroupClaim == GroupClaimID {
		return string(g.ID)
	}
	return g.Slug
}

// userClaims returns the claims about u released by scopes (OIDC Core
// §5.4). For an ID token, a group list longer than the client's limit is
// replaced by a distributed claim pointing at userinfo (OIDC Core §5.6.2).
func (p *Provider) userClaims(ctx context.Context, u policy.User, c *ClientConfig, scopes []string, idToken bool) (map[string]any, error) {
	cl := map[string]any{ClaimTenant: string(u.Tenant)}
	if slices.Contains(scopes, ScopeProfile) {
		cl["preferred_username"] = u.UserName
		name := u.DisplayName
		if name == "" {
			name = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
		}
		if name != "" {
			cl["name"] = name
		}
		if u.GivenName != "" {
			cl["given_name"] = u.GivenName
		}
		if u.FamilyName != "" {
			cl["family_name"] = u.FamilyName
		}
		if !u.Updated.IsZero() {
			cl["updated_at"] = u.Updated.Unix()
		}
	}
	if slices.Contains(scopes, ScopeEmail) {
		if e := u.PrimaryEmail(); e != "" {
			v, err := p.emailVerified(ctx, u, e)
			if err != nil {
				return nil, err
			}
			cl["email"] = e
			cl["email_verified"] = v
		}
	}
	wantGroups, wantRoles := slices.Contains(scopes, ScopeGroups), slices.Contains(scopes, ScopeRoles)
	if !wantGroups && !wantRoles {
		return cl, nil
	}
	groups, roles := p.groupClaims(u.ID, c)
	limit := c.MaxGroups
	if limit == 0 {
		limit = p.cfg.MaxGroupsInToken
	}
	if idToken && len(groups) > limit {
		names := map[string]string{}
		if wantGroups {
			names[ClaimGroups] = claimSourceName
		}
		if wantRoles {
			names[ClaimRoles] = claimSourceName
		}
		cl["_claim_names"] = names
		cl["_claim_sources"] = map[string]any{claimSourceName: map[string]string{"endpoint": p.endpoint("/userinfo")}}
		return cl, nil
	}
	if groups == nil {
		groups = []string{}
	}
	if roles == nil {
		roles = []string{}
	}
	if wantGroups {
		cl[ClaimGroups] = groups
	}
	if wantRoles {
		cl[ClaimRoles] = roles
	}
	return cl, nil
}

// EmailVerifier says whether the source a user comes from vouches for the
// user's address addr (OIDC Core §5.1 email_verified): an LDAP directory
// authoritative for the address's domain, a SCIM tenant that verifies
// addresses and owns the domain. cmd/roster builds it from configuration.
// It is asked about directory users only; local accounts and upstream IdPs
// are decided by the Provider (see Config.EmailVerified).
type EmailVerifier func(u policy.User, tenant policy.Tenant, addr string) bool

// emailVerified reports whether someone vouches for u's address addr.
// Local accounts: nobody. A tenant's IdP: when it sent "email_verified":
// true for this address at the user's last sign-in there, and the address
// lies in the tenant's own domains (a partner's IdP cannot vouch for a
// vendor's address). Directory users: Config.EmailVerified. Nothing the
// user record itself carries (attributes a directory sent) counts.
func (p *Provider) emailVerified(ctx context.Context, u policy.User, addr string) (bool, error) {
	if u.Source == SourceLocal {
		return false, nil
	}
	var t policy.Tenant
	var vouched bool
	err := p.st.View(ctx, func(tx store.Tx) error {
		var err error
		if t, err = tx.Tenant(u.Tenant); err != nil {
			return err
		}
		vouched, err = upstreamVouches(tx, u, addr)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("oidc: e-mail verification: %w", err)
	}
	if vouched && policy.InDomains(addr, t.Domains) {
		return true, nil
	}
	if strings.HasPrefix(u.Source, upstreamSourcePrefix) || p.cfg.EmailVerified == nil {
		return false, nil
	}
	return p.cfg.EmailVerified(u, t, addr), nil
}

// AccessInfo describes a valid access token (see VerifyAccessToken).
type AccessInfo struct {
	// User is empty for client-credentials tokens.
	User   policy.UserID
	Tenant policy.TenantID
	Client string
	Scopes []string
	Issued time.Time
	Expiry time.Time
}

// HasScope reports whether the token was granted scope s.
func (a AccessInfo) HasScope(s string) bool { return slices.Contains(a.Scopes, s) }

// VerifyAccessToken checks an access token issued by this provider and
// returns what it grants. It fails wrapping ErrInvalidToken when the token
// is unknown, expired, revoked (itself or its grant), or its client was
// deleted. It does not check that the user is still active or what the
// user may do: callers ask the policy engine (Check) for that.
func (p *Provider) VerifyAccessToken(ctx context.Context, token string) (AccessInfo, error) {
	if !strings.HasPrefix(token, accessPrefix) || len(token) > 128 {
		return AccessInfo{}, fmt.Errorf("%w: not a Roster access token", ErrInvalidToken)
	}
	var ar accessRecord
	var g grantRecord
	err := p.st.View(ctx, func(tx store.Tx) error {
		if err := jsonrec.Get(tx, nsTokens, tokenKey(pfxAccess, token), &ar); err != nil {
			return err
		}
		return jsonrec.Get(tx, nsTokens, pfxGrant+ar.Grant, &g)
	})
	if errors.Is(err, store.ErrNotFound) {
		return AccessInfo{}, fmt.Errorf("%w: unknown token", ErrInvalidToken)
	}
	if err != nil {
		return AccessInfo{}, fmt.Errorf("oidc: verifying access token: %w", err)
	}
	if g.Revoked {
		return AccessInfo{}, fmt.Errorf("%w: revoked", ErrInvalidToken)
	}
	if !p.now().Before(ar.Expires) {
		return AccessInfo{}, fmt.Errorf("%w: expired", ErrInvalidToken)
	}
	c, err := p.clients.get(ctx, ar.Client)
	if err != nil {
		return AccessInfo{}, fmt.Errorf("%w: client: %w", ErrInvalidToken, err)
	}
	if c.Instance != ar.ClientInst {
		return AccessInfo{}, fmt.Errorf("%w: issued to a deleted client of the same id", ErrInvalidToken)
	}
	return AccessInfo{User: ar.User, Tenant: ar.Tenant, Client: ar.Client, Scopes: ar.Scopes,
		Issued: ar.Issued, Expiry: ar.Expires}, nil
}

func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
		if err := r.ParseForm(); err == nil {
			return r.PostForm.Get("access_token") // RFC 6750 §2.2
		}
	}
	return ""
}

// handleUserinfo serves OIDC Core §5.3 with the full group list.
func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	fail := func(code, desc string, status int) {
		v := `Bearer realm="roster"`
		if code != "" {
			v += `, error="` + code + `", error_description="` + desc + `"`
		}
		w.Header().Set("WWW-Authenticate", v)
		writeJSON(w, status, oauthError{Code: code, Description: desc})
	}
	tok := bearerToken(r)
	if tok == "" {
		fail(errInvalidRequest, "access token required", http.StatusUnauthorized)
		return
	}
	info, err := p.VerifyAccessToken(r.Context(), tok)
	if errors.Is(err, ErrInvalidToken) {
		fail(errInvalidToken, "the access token is invalid", http.StatusUnauthorized)
		return
	}
	if err != nil {
		p.writeOAuthError(w, err)
		return
	}
	if info.User == "" || !info.HasScope(ScopeOpenID) {
		fail("insufficient_scope", "the access token has no openid scope", http.StatusForbidden)
		return
	}
	var u policy.User
	err = p.st.View(r.Context(), func(tx store.Tx) error {
		var err error
		u, err = tx.User(info.Tenant, info.User)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && !u.Active) {
		fail(errInvalidToken, "the user is no longer active", http.StatusUnauthorized)
		return
	}
	if err != nil {
		p.writeOAuthError(w, err)
		return
	}
	c, err := p.clients.get(r.Context(), info.Client)
	if err != nil {
		fail(errInvalidToken, "unknown client", http.StatusUnauthorized)
		return
	}
	scopes := slices.DeleteFunc(slices.Clone(info.Scopes), func(s string) bool { return !c.allowsScope(s) })
	cl, err := p.userClaims(r.Context(), u, c, scopes, false)
	if err != nil {
		p.writeOAuthError(w, err)
		return
	}
	cl["sub"] = string(u.ID)
	writeJSON(w, http.StatusOK, cl)
}

// handleIntrospect implements RFC 7662 §2 for confidential clients. Access
// and refresh tokens are recognised; anything else is {"active": false},
// and so are tokens of a user who is no longer active or no longer exists.
// A client learns only about tokens issued to it (RFC 7662 §2.2, §4),
// unless it is a resource server (ClientConfig.ResourceServer), which may
// introspect the access tokens of every client.
func (p *Provider) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	c, ok := p.formClient(w, r)
	if !ok {
		return
	}
	if c.Public {
		p.writeOAuthError(w, &oauthError{Code: errUnauthorizedClient, Description: "public clients may not introspect", status: http.StatusForbidden})
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		p.writeOAuthError(w, oerr(errInvalidRequest, "token is required"))
		return
	}
	inactive := map[string]any{"active": false}
	resp := map[string]any{"active": true, "iss": p.issuer, "token_type": "Bearer"}
	switch {
	case strings.HasPrefix(tok, accessPrefix):
		info, err := p.VerifyAccessToken(r.Context(), tok)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				p.writeOAuthError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, inactive)
			return
		}
		if info.Client != c.ID && !c.ResourceServer {
			writeJSON(w, http.StatusOK, inactive)
			return
		}
		resp["client_id"] = info.Client
		resp["scope"] = strings.Join(info.Scopes, " ")
		resp["exp"] = info.Expiry.Unix()
		resp["iat"] = info.Issued.Unix()
		resp["aud"] = info.Client
		if info.User != "" {
			u, ok := p.lookupUser(r.Context(), info.Tenant, info.User)
			if !ok || !u.Active {
				// A user deactivated or deleted since sign-in has no
				// active tokens, as at userinfo and refresh.
				writeJSON(w, http.StatusOK, inactive)
				return
			}
			resp["sub"] = string(info.User)
			resp["tenant"] = string(info.Tenant)
			resp["username"] = u.UserName
		}
	case strings.HasPrefix(tok, refreshPrefix):
		var rr refreshRecord
		var g grantRecord
		err := p.st.View(r.Context(), func(tx store.Tx) error {
			if err := jsonrec.Get(tx, nsTokens, tokenKey(pfxRefresh, tok), &rr); err != nil {
				return err
			}
			return jsonrec.Get(tx, nsTokens, pfxGrant+rr.Grant, &g)
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			p.writeOAuthError(w, err)
			return
		}
		// Refresh tokens are only ever the business of their own client.
		if err != nil || rr.Client != c.ID || rr.ClientInst != c.Instance || rr.Used || g.Revoked || !p.now().Before(rr.Expires) {
			writeJSON(w, http.StatusOK, inactive)
			return
		}
		if u, ok := p.lookupUser(r.Context(), rr.Tenant, rr.User); !ok || !u.Active {
			writeJSON(w, http.StatusOK, inactive)
			return
		}
		resp["token_type"] = "refresh_token"
		resp["client_id"] = rr.Client
		resp["scope"] = strings.Join(rr.Scopes, " ")
		resp["exp"] = rr.Expires.Unix()
		resp["iat"] = rr.Issued.Unix()
		resp["sub"] = string(rr.User)
		resp["tenant"] = string(rr.Tenant)
	default:
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (p *Provider) lookupUser(ctx context.Context, t policy.TenantID, id policy.UserID) (policy.User, bool) {
	var u policy.User
	err := p.st.View(ctx, func(tx store.Tx) error {
		var err error
		u, err = tx.User(t, id)
		return err
	})
	return u, err == nil
}

// handleRevoke implements RFC 7009 §2. Revoking a refresh token revokes its
// whole grant (every access and refresh token of it); revoking an access
// token revokes that token. Unknown tokens and tokens of other clients
// answer 200 without effect (§2.2). A revocation is audited on behalf of
// the token's user (the client, for its own client-credentials tokens).
func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	c, ok := p.formClient(w, r)
	if !ok {
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		p.writeOAuthError(w, oerr(errInvalidRequest, "token is required"))
		return
	}
	var key string
	switch {
	case strings.HasPrefix(tok, refreshPrefix):
		key = tokenKey(pfxRefresh, tok)
	case strings.HasPrefix(tok, accessPrefix):
		key = tokenKey(pfxAccess, tok)
	default:
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return
	}
	err := p.st.Update(r.Context(), p.actorOf(r.Context(), key, clientActor(c.ID)), func(tx store.Tx) error {
		if strings.HasPrefix(tok, refreshPrefix) {
			var rr refreshRecord
			if err := jsonrec.Get(tx, nsTokens, key, &rr); err != nil {
				return ignoreNotFound(err)
			}
			if rr.Client != c.ID || rr.ClientInst != c.Instance {
				return nil
			}
			return revokeGrant(tx, rr.Grant, "refresh token revoked by the client")
		}
		var ar accessRecord
		if err := jsonrec.Get(tx, nsTokens, key, &ar); err != nil {
			return ignoreNotFound(err)
		}
		if ar.Client != c.ID || ar.ClientInst != c.Instance {
			return nil
		}
		if err := ignoreNotFound(tx.DeleteRecord(nsTokens, key)); err != nil {
			return err
		}
		return tx.Record(ar.Tenant, policy.OpDelete, auditGrant+ar.Grant, map[string]any{"client": ar.Client, "user": ar.User,
			"reason": "access token revoked by the client"})
	})
	if err != nil {
		p.writeOAuthError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// Cleanup deletes expired codes, tokens and grants, and forgets expired
// sign-in requests. It returns how many records and requests it removed.
func (p *Provider) Cleanup(ctx context.Context) (int, error) {
	now := p.now()
	forgotten := p.logins.expire(now) + p.limiter.sweep(now)
	sessions, err := p.cleanupSessions(ctx)
	if err != nil {
		return 0, fmt.Errorf("oidc: cleanup: %w", err)
	}
	forgotten += sessions
	var expired []string
	err = p.st.View(ctx, func(tx store.Tx) error {
		return tx.ScanRecords(nsTokens, "", func(key string, v []byte) error {
			var rec struct {
				Expires time.Time `json:"exp"`
			}
			if err := json.Unmarshal(v, &rec); err != nil || !now.Before(rec.Expires) {
				expired = append(expired, key)
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("oidc: cleanup: %w", err)
	}
	removed := len(expired) + forgotten
	for len(expired) > 0 {
		n := min(len(expired), 1000)
		chunk := expired[:n]
		expired = expired[n:]
		err := p.st.Update(ctx, "oidc", func(tx store.Tx) error {
			for _, k := range chunk {
				if err := ignoreNotFound(tx.DeleteRecord(nsTokens, k)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("oidc: cleanup: %w", err)
		}
	}
	return removed, nil
}
