package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// upstream is a tenant's own OpenID provider, discovered on first use.
type upstream struct {
	cfg      UpstreamConfig
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
	// issParam: the IdP promises the iss parameter in its authorization
	// responses (RFC 9207 §3).
	issParam bool
}

func (u *upstream) ctx(ctx context.Context) context.Context {
	if u.cfg.HTTPClient != nil {
		return gooidc.ClientContext(ctx, u.cfg.HTTPClient)
	}
	return ctx
}

// upstreamFor returns the tenant's upstream, running discovery (OIDC
// Discovery §4) the first time it succeeds.
func (p *Provider) upstreamFor(ctx context.Context, tenant policy.TenantID) (*upstream, error) {
	p.upMu.Lock()
	defer p.upMu.Unlock()
	if u := p.upstreams[tenant]; u != nil {
		return u, nil
	}
	cfg, ok := p.cfg.Upstreams[tenant]
	if !ok {
		return nil, fmt.Errorf("oidc: no upstream for tenant %q", tenant)
	}
	u := &upstream{cfg: cfg}
	dctx, cancel := context.WithTimeout(u.ctx(ctx), 10*time.Second)
	defer cancel()
	prov, err := gooidc.NewProvider(dctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc: discovering upstream of %q: %w", tenant, err)
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{gooidc.ScopeOpenID, "profile", "email"}
	}
	u.oauth = oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: prov.Endpoint(),
		RedirectURL: p.endpoint("/callback/upstream"), Scopes: scopes}
	var meta struct {
		ISSParam bool `json:"authorization_response_iss_parameter_supported"`
	}
	if err := prov.Claims(&meta); err == nil {
		u.issParam = meta.ISSParam
	}
	u.verifier = prov.VerifierContext(u.ctx(context.WithoutCancel(ctx)), &gooidc.Config{ClientID: cfg.ClientID, Now: p.now})
	p.upstreams[tenant] = u
	return u, nil
}

// startUpstream sends the browser to the tenant's IdP with state, nonce and
// PKCE (RFC 9700 §2.1.1).
func (p *Provider) startUpstream(w http.ResponseWriter, r *http.Request, lr *loginRequest, tenant policy.TenantID) {
	up, err := p.upstreamFor(r.Context(), tenant)
	if err != nil {
		p.log.Warn("oidc: upstream unavailable", "tenant", tenant, "err", err)
		p.errorPage(w, http.StatusBadGateway, "Your company's sign-in service cannot be reached right now. Try again in a few minutes.")
		return
	}
	lr.Tenant = tenant
	lr.UpState = randomString(24)
	lr.UpNonce = randomString(24)
	lr.UpVerifier = oauth2.GenerateVerifier()
	if !p.logins.update(*lr) {
		p.errorPage(w, http.StatusBadRequest, "This sign-in request is unknown or already finished. Go back to the application and start again.")
		return
	}
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(lr.UpNonce), oauth2.S256ChallengeOption(lr.UpVerifier)}
	if hint := lr.Identifier; hint != "" {
		// The address the member typed, so that they need not type it
		// again at their company (OIDC Core §3.1.2.1 login_hint).
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	to := up.oauth.AuthCodeURL(lr.ID+"."+lr.UpState, opts...)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// handleUpstreamCallback completes sign-in at a tenant's IdP: it checks
// state and the iss parameter (RFC 9207), exchanges the code with the PKCE
// verifier, verifies the ID token and its nonce, and maps the configured
// claim to a Roster user.
func (p *Provider) handleUpstreamCallback(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.RawQuery) > maxAuthorizeBytes {
		p.errorPage(w, http.StatusBadRequest, "The answer from your company's sign-in service is too large (invalid_request).")
		return
	}
	q := r.URL.Query()
	id, st, _ := strings.Cut(q.Get("state"), ".")
	lr, err := p.loadLogin(r.Context(), r, id)
	if err != nil {
		p.pageForError(w, err)
		return
	}
	if lr.UpState == "" || subtle.ConstantTimeCompare([]byte(st), []byte(lr.UpState)) != 1 {
		p.errorPage(w, http.StatusBadRequest, "The answer from your company's sign-in service does not match this sign-in. Start again.")
		return
	}
	up, err := p.upstreamFor(r.Context(), lr.Tenant)
	if err != nil {
		p.errorPage(w, http.StatusBadGateway, "Your company's sign-in service cannot be reached right now. Try again in a few minutes.")
		return
	}
	// Mix-up defence (RFC 9700 §4.4.2, RFC 9207 §2.4): the answer must
	// come from this tenant's IdP, or its code would be sent to the wrong
	// token endpoint.
	if iss := q.Get("iss"); (iss != "" && iss != up.cfg.Issuer) || (iss == "" && up.issParam) {
		p.log.Warn("oidc: upstream answer from another issuer", "tenant", lr.Tenant, "iss", iss)
		p.errorPage(w, http.StatusBadRequest, "The answer from your company's sign-in service does not match this sign-in. Start again.")
		return
	}
	if e := q.Get("error"); e != "" {
		p.log.Info("oidc: upstream refused sign-in", "tenant", lr.Tenant, "error", e, "description", q.Get("error_description"))
		p.errorPage(w, http.StatusForbidden, "Your company's sign-in service did not sign you in.")
		return
	}
	ctx := up.ctx(r.Context())
	tok, err := up.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(lr.UpVerifier))
	if err != nil {
		p.log.Warn("oidc: upstream code exchange failed", "tenant", lr.Tenant, "err", err)
		p.errorPage(w, http.StatusBadGateway, "Your company's sign-in service did not confirm the sign-in.")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := up.verifier.Verify(ctx, raw)
	if err == nil && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(lr.UpNonce)) != 1 {
		err = errors.New("oidc: upstream nonce mismatch")
	}
	if err == nil && idt.AccessTokenHash != "" {
		err = idt.VerifyAccessToken(tok.AccessToken)
	}
	var claims map[string]any
	if err == nil {
		err = idt.Claims(&claims)
	}
	if err != nil {
		p.log.Warn("oidc: upstream ID token rejected", "tenant", lr.Tenant, "err", err)
		p.errorPage(w, http.StatusBadGateway, "Your company's sign-in service sent an answer that could not be verified.")
		return
	}
	u, err := p.upstreamUser(r.Context(), lr.Tenant, up.cfg, claims)
	switch {
	case err == nil:
	case errors.Is(err, ErrDisabled):
		p.errorPage(w, http.StatusForbidden, "This account is disabled. Ask your company's administrator.")
		return
	case errors.Is(err, ErrBadCredentials):
		p.errorPage(w, http.StatusForbidden, "You signed in at your company, but you have no Roster account. Ask your company's administrator.")
		return
	case errors.Is(err, errUnverifiedEmail):
		p.log.Info("oidc: upstream sign-in refused", "tenant", lr.Tenant, "err", err)
		p.errorPage(w, http.StatusForbidden, "Your company's sign-in service has not verified your e-mail address. Ask your company's administrator.")
		return
	default:
		p.pageForError(w, err)
		return
	}
	p.finishLogin(w, r, lr, u, AMRFederated)
}

// errUnverifiedEmail: users are matched by e-mail and the upstream says
// the address is not verified.
var errUnverifiedEmail = errors.New("oidc: upstream e-mail not verified")

// upstreamUser maps upstream claims to an active Roster user, creating it
// when the tenant allows just-in-time users.
func (p *Provider) upstreamUser(ctx context.Context, tenant policy.TenantID, cfg UpstreamConfig, claims map[string]any) (policy.User, error) {
	claim := cfg.UserNameClaim
	if claim == "" {
		claim = "preferred_username"
	}
	name, _ := claims[claim].(string)
	if strings.TrimSpace(name) == "" {
		return policy.User{}, fmt.Errorf("%w: upstream ID token has no %q claim", ErrBadCredentials, claim)
	}
	if v, ok := claims["email_verified"].(bool); claim == "email" && ok && !v {
		// Anybody may put an address in their upstream profile; only one
		// the IdP has verified identifies the Roster user (OIDC Core
		// §5.7). IdPs that do not send email_verified are trusted to
		// match their own tenant's users, but the address is not
		// reported as verified to clients (see emailVerified).
		return policy.User{}, fmt.Errorf("%w: upstream e-mail %q is not verified", errUnverifiedEmail, name)
	}
	var u policy.User
	err := p.st.View(ctx, func(tx store.Tx) error {
		var err error
		u, err = tx.UserByUserName(tenant, name)
		return err
	})
	if errors.Is(err, store.ErrNotFound) && cfg.CreateUsers {
		nu := policy.User{Tenant: tenant, UserName: name, Active: true, Source: "oidc:" + string(tenant)}
		nu.GivenName, _ = claims["given_name"].(string)
		nu.FamilyName, _ = claims["family_name"].(string)
		nu.DisplayName, _ = claims["name"].(string)
		if sub, ok := claims["sub"].(string); ok {
			nu.ExternalID = sub
		}
		if e, ok := claims["email"].(string); ok && e != "" {
			nu.Emails = []policy.Email{{Value: e, Primary: true}}
		}
		err = p.st.Update(ctx, "oidc:"+string(tenant), func(tx store.Tx) error {
			var err error
			u, err = tx.CreateUser(tenant, nu)
			return err
		})
		if err == nil {
			p.log.Info("oidc: created user from upstream sign-in", "tenant", tenant, "user", u.ID, "userName", name)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return u, fmt.Errorf("%w: no Roster user %q in tenant %q", ErrBadCredentials, name, tenant)
	}
	if err != nil {
		return u, fmt.Errorf("oidc: upstream user: %w", err)
	}
	if !u.Active {
		return u, fmt.Errorf("%w: user %q is inactive", ErrDisabled, name)
	}
	if err := p.rememberUpstreamEmail(ctx, u, claims); err != nil {
		return u, fmt.Errorf("oidc: upstream user: %w", err)
	}
	return u, nil
}

// nsUpstreamEmail keeps, per user ("<tenant>/<user id>"), the address the
// tenant's IdP vouched for at the user's last sign-in there
// ({"email": …}). It is a record of this package rather than a user
// attribute, so that no directory source (SCIM keeps unknown attributes as
// sent) can write it.
const nsUpstreamEmail = "oidc-upstream-email"

type vouchedEmail struct {
	Email string `json:"email"`
}

// rememberUpstreamEmail records the address the IdP vouches for
// ("email_verified": true, OIDC Core §5.1), or forgets an earlier one
// when it no longer does. It writes only on a change.
func (p *Provider) rememberUpstreamEmail(ctx context.Context, u policy.User, claims map[string]any) error {
	var now vouchedEmail
	if v, _ := claims["email_verified"].(bool); v {
		now.Email, _ = claims["email"].(string)
	}
	key := string(u.Tenant) + "/" + string(u.ID)
	var before vouchedEmail
	err := p.st.View(ctx, func(tx store.Tx) error {
		raw, err := tx.GetRecord(nsUpstreamEmail, key)
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, &before)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if before == now {
		return nil
	}
	return p.st.Update(ctx, "oidc:"+string(u.Tenant), func(tx store.Tx) error {
		if now.Email == "" {
			return ignoreNotFound(tx.DeleteRecord(nsUpstreamEmail, key))
		}
		b, err := json.Marshal(now)
		if err != nil {
			return err
		}
		return tx.PutRecord(nsUpstreamEmail, key, b)
	})
}

// upstreamVouches reports whether the tenant's IdP vouched for addr at the
// user's last sign-in there.
func upstreamVouches(tx store.Tx, u policy.User, addr string) (bool, error) {
	raw, err := tx.GetRecord(nsUpstreamEmail, string(u.Tenant)+"/"+string(u.ID))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var v vouchedEmail
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, fmt.Errorf("oidc: decoding vouched e-mail: %w", err)
	}
	return v.Email != "" && strings.EqualFold(v.Email, addr), nil
}
