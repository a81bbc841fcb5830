package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// loginRequest is a pending authorization request while the user signs in
// (kept in memory by pendingLogins).
type loginRequest struct {
	ID          string          `json:"id"`
	Client      string          `json:"client"`
	ClientInst  string          `json:"ci,omitempty"`
	RedirectURI string          `json:"redirectURI"`
	Scopes      []string        `json:"scopes"`
	State       string          `json:"state,omitempty"`
	Nonce       string          `json:"nonce,omitempty"`
	Challenge   string          `json:"challenge,omitempty"`
	CSRF        string          `json:"csrf"`
	Binding     string          `json:"binding"` // value of the browser's binding cookie
	Expires     time.Time       `json:"exp"`
	Tenant      policy.TenantID `json:"tenant,omitempty"`
	UpState     string          `json:"upState,omitempty"`
	UpNonce     string          `json:"upNonce,omitempty"`
	UpVerifier  string          `json:"upVerifier,omitempty"`
}

const bindingCookie = "roster_oidc_binding"

func (p *Provider) cookiePath() string { return p.prefix + "/" }

// binding returns the browser-binding cookie value, setting a new one when
// absent. The sign-in form is only accepted from the browser that started
// the authorization request (login CSRF protection, RFC 9700 §4.7).
func (p *Provider) binding(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(bindingCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	v := randomString(32)
	http.SetCookie(w, &http.Cookie{Name: bindingCookie, Value: v, Path: p.cookiePath(), HttpOnly: true,
		Secure: p.secure, SameSite: http.SameSiteLaxMode})
	return v
}

func sameBinding(r *http.Request, want string) bool {
	c, err := r.Cookie(bindingCookie)
	return err == nil && want != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(want)) == 1
}

// handleAuthorize implements the authorization endpoint (RFC 6749 §4.1.1,
// OIDC Core §3.1.2). Problems with client_id or redirect_uri are shown on
// an error page and never redirected (RFC 6749 §4.1.2.1); other problems
// are redirected to the client with error, error_description and state.
//
// The request is capped at maxAuthorizeBytes and each parameter at its
// paramCaps entry; nothing of it reaches the store (see pendingLogins).
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if !parseLimited(w, r, maxAuthorizeBytes) {
		p.errorPage(w, http.StatusBadRequest, "The request is malformed or too large (invalid_request).")
		return
	}
	q := r.Form
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method"} {
		if len(q[k]) > 1 {
			p.errorPage(w, http.StatusBadRequest, "The parameter "+k+" is repeated.")
			return
		}
	}
	long := overlong(q)
	if long == "client_id" || long == "redirect_uri" {
		p.errorPage(w, http.StatusBadRequest, "The parameter "+long+" is too long (invalid_request).")
		return
	}
	c, err := p.clients.get(r.Context(), q.Get("client_id"))
	if err != nil {
		if !errors.Is(err, ErrClientNotFound) {
			p.log.Error("oidc: loading client", "err", err)
		}
		p.errorPage(w, http.StatusBadRequest, "The application that sent you here is not registered.")
		return
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI == "" || !slices.Contains(c.RedirectURIs, redirectURI) {
		p.errorPage(w, http.StatusBadRequest, "The application sent you here with a return address it has not registered.")
		return
	}
	state := q.Get("state")
	if long != "" {
		// The over-long value is not echoed, state included.
		if long == "state" {
			state = ""
		}
		p.redirectError(w, r, redirectURI, state, errInvalidRequest, "parameter "+long+" is too long")
		return
	}
	fail := func(code, desc string) { p.redirectError(w, r, redirectURI, state, code, desc) }
	if !c.allowsGrant(GrantAuthorizationCode) {
		fail(errUnauthorizedClient, "client may not use the authorization code flow")
		return
	}
	if q.Get("request") != "" || q.Get("request_uri") != "" {
		fail("request_not_supported", "request objects are not supported")
		return
	}
	if rt := q.Get("response_type"); rt != "code" {
		fail(errUnsupportedResponseType, "only response_type=code is supported")
		return
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		fail(errInvalidRequest, "only response_mode=query is supported")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if !slices.Contains(scopes, ScopeOpenID) {
		fail(errInvalidScope, "the openid scope is required")
		return
	}
	var granted []string
	for _, s := range scopes {
		if !slices.Contains(knownScopes, s) || !c.allowsScope(s) {
			fail(errInvalidScope, fmt.Sprintf("scope %q is not available to this client", s))
			return
		}
		if !slices.Contains(granted, s) {
			granted = append(granted, s)
		}
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		fail(errInvalidRequest, "code_challenge_method without code_challenge")
		return
	case challenge == "" && c.pkceRequired():
		fail(errInvalidRequest, "PKCE (code_challenge with S256) is required for this client")
		return
	case challenge != "" && method != "S256":
		fail(errInvalidRequest, "code_challenge_method must be S256")
		return
	case challenge != "" && (len(challenge) != 43 || !validVerifier(challenge)):
		fail(errInvalidRequest, "malformed code_challenge")
		return
	}
	if slices.Contains(strings.Fields(q.Get("prompt")), "none") {
		fail("login_required", "the user must sign in")
		return
	}
	lr := loginRequest{
		ID: randomString(24), Client: c.ID, ClientInst: c.Instance, RedirectURI: redirectURI, Scopes: granted,
		State: state, Nonce: q.Get("nonce"), Challenge: challenge,
		CSRF: randomString(32), Binding: p.binding(w, r), Expires: p.now().Add(p.cfg.LoginLifetime),
	}
	addr := addressKey(p.clientAddr(r))
	if n := p.logins.add(lr, addr, p.now()); n > 0 {
		p.log.Debug("oidc: older sign-in requests gave way", "addr", addr, "count", n)
	}
	http.Redirect(w, r, p.endpoint("/login?req="+lr.ID), http.StatusSeeOther)
}

// redirectError sends an authorization error to the client (RFC 6749
// §4.1.2.1) with the iss parameter (RFC 9207).
func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state, code, desc string) {
	v := url.Values{"error": {code}, "error_description": {desc}, "iss": {p.issuer}}
	if state != "" {
		v.Set("state", state)
	}
	http.Redirect(w, r, addQuery(redirectURI, v), http.StatusSeeOther)
}

func addQuery(u string, v url.Values) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + v.Encode()
}

// loadLogin loads a pending sign-in request and checks that it has not
// expired and belongs to this browser.
func (p *Provider) loadLogin(ctx context.Context, r *http.Request, id string) (*loginRequest, error) {
	if id == "" || len(id) > 64 {
		return nil, errSignIn("This sign-in link is not valid.")
	}
	lr, ok := p.logins.get(id)
	if !ok {
		return nil, errSignIn("This sign-in request is unknown or already finished. Go back to the application and start again.")
	}
	if !p.now().Before(lr.Expires) {
		return nil, errSignIn("This sign-in request has expired. Go back to the application and start again.")
	}
	if !sameBinding(r, lr.Binding) {
		return nil, errSignIn("This sign-in request was started in another browser. Go back to the application and start again.")
	}
	return &lr, nil
}

// signInError is a problem shown to the user on a page.
type signInError struct{ msg string }

func (e *signInError) Error() string { return "oidc: sign-in: " + e.msg }

func errSignIn(msg string) error { return &signInError{msg} }

func (p *Provider) pageForError(w http.ResponseWriter, err error) {
	var se *signInError
	if errors.As(err, &se) {
		p.errorPage(w, http.StatusBadRequest, se.msg)
		return
	}
	if errors.Is(err, store.ErrStorage) {
		w.Header().Set("Retry-After", "5")
		p.errorPage(w, http.StatusServiceUnavailable, "Sign-in is unavailable for a moment: the server cannot store anything right now. Please try again in a few minutes.")
		return
	}
	p.log.Error("oidc: sign-in", "err", err)
	p.errorPage(w, http.StatusInternalServerError, "Something went wrong. Please try again later.")
}

func (p *Provider) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.RawQuery) > maxLoginBytes {
		p.errorPage(w, http.StatusBadRequest, "The request is too large (invalid_request).")
		return
	}
	lr, err := p.loadLogin(r.Context(), r, r.URL.Query().Get("req"))
	if err != nil {
		p.pageForError(w, err)
		return
	}
	p.renderLogin(w, http.StatusOK, loginPage{Step: "tenant", Req: lr.ID, CSRF: lr.CSRF, Client: p.clientName(r.Context(), lr.Client)})
}

func (p *Provider) clientName(ctx context.Context, id string) string {
	if c, err := p.clients.get(ctx, id); err == nil && c.Name != "" {
		return c.Name
	}
	return id
}

func (p *Provider) handleLoginPost(w http.ResponseWriter, r *http.Request) {
	if !parseLimited(w, r, maxLoginBytes) {
		p.errorPage(w, http.StatusBadRequest, "The form is malformed or too large (invalid_request).")
		return
	}
	f := r.PostForm
	if k := overlong(r.Form); k != "" {
		p.errorPage(w, http.StatusBadRequest, "The field "+k+" is too long (invalid_request).")
		return
	}
	lr, err := p.loadLogin(r.Context(), r, f.Get("req"))
	if err != nil {
		p.pageForError(w, err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(f.Get("csrf")), []byte(lr.CSRF)) != 1 {
		p.errorPage(w, http.StatusForbidden, "The form has expired or was not sent by this site. Go back to the application and start again.")
		return
	}
	page := loginPage{Req: lr.ID, CSRF: lr.CSRF, Client: p.clientName(r.Context(), lr.Client)}
	tenantID := policy.TenantID(strings.TrimSpace(f.Get("tenant")))
	page.Tenant = string(tenantID)
	tenant, err := p.tenant(r.Context(), tenantID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			page.Step, page.Error = "tenant", "We do not know the company “"+string(tenantID)+"”. Check the spelling and try again."
			p.renderLogin(w, http.StatusBadRequest, page)
			return
		}
		p.pageForError(w, err)
		return
	}
	page.TenantName = tenant.Name
	if _, ok := p.cfg.Upstreams[tenantID]; ok {
		p.startUpstream(w, r, lr, tenantID)
		return
	}
	page.Step = "password"
	if f.Get("step") != "password" {
		p.renderLogin(w, http.StatusOK, page)
		return
	}
	userName := strings.TrimSpace(f.Get("username"))
	page.UserName = userName
	if userName == "" || f.Get("password") == "" {
		page.Error = "Enter your user name and password."
		p.renderLogin(w, http.StatusBadRequest, page)
		return
	}
	// User names are identifiers (RFC 8265): compared, rate-limited and
	// looked up in their PRECIS form; a name that does not survive it
	// names nobody.
	folded := policy.FoldUserName(userName)
	if folded == "" {
		page.Error = "The user name or password is wrong."
		p.renderLogin(w, http.StatusUnauthorized, page)
		return
	}
	if !p.limiter.allow(string(tenantID)+"/"+folded, addressKey(p.clientAddr(r))) {
		page.Error = "Too many sign-in attempts. Wait a minute and try again."
		w.Header().Set("Retry-After", "60")
		p.renderLogin(w, http.StatusTooManyRequests, page)
		return
	}
	if p.cfg.Passwords == nil {
		page.Error = "Password sign-in is not available for this company."
		p.renderLogin(w, http.StatusBadRequest, page)
		return
	}
	u, err := p.cfg.Passwords.CheckPassword(r.Context(), tenantID, folded, f.Get("password"))
	if err == nil {
		u, err = p.resolveUser(r.Context(), tenantID, u)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrBadCredentials):
		page.Error = "The user name or password is wrong."
		p.log.Info("oidc: sign-in failed", "tenant", tenantID, "user", userName, "addr", p.clientAddr(r))
		p.renderLogin(w, http.StatusUnauthorized, page)
		return
	case errors.Is(err, ErrDisabled):
		page.Error = "This account is disabled. Ask your company's administrator."
		p.renderLogin(w, http.StatusForbidden, page)
		return
	case errors.Is(err, ErrUnavailable):
		page.Error = "Your company's directory cannot be reached right now. Try again in a few minutes."
		p.renderLogin(w, http.StatusServiceUnavailable, page)
		return
	default:
		p.pageForError(w, err)
		return
	}
	p.finishLogin(w, r, lr, u)
}

func (p *Provider) tenant(ctx context.Context, id policy.TenantID) (policy.Tenant, error) {
	if id == "" {
		return policy.Tenant{}, fmt.Errorf("oidc: empty tenant: %w", store.ErrNotFound)
	}
	var t policy.Tenant
	err := p.st.View(ctx, func(tx store.Tx) error {
		var err error
		t, err = tx.Tenant(id)
		return err
	})
	return t, err
}

// resolveUser finds the Roster user behind what a password check returned
// and refuses inactive users.
func (p *Provider) resolveUser(ctx context.Context, tenant policy.TenantID, u policy.User) (policy.User, error) {
	var su policy.User
	err := p.st.View(ctx, func(tx store.Tx) error {
		var err error
		if u.ID != "" {
			su, err = tx.User(tenant, u.ID)
			if err == nil || !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		su, err = tx.UserByUserName(tenant, u.UserName)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return su, fmt.Errorf("%w: no Roster user %q in tenant %q", ErrBadCredentials, u.UserName, tenant)
	}
	if err != nil {
		return su, fmt.Errorf("oidc: loading user: %w", err)
	}
	if !su.Active {
		return su, fmt.Errorf("%w: user %q is inactive", ErrDisabled, su.UserName)
	}
	return su, nil
}

// finishLogin issues the authorization code and sends the browser back to
// the client (RFC 6749 §4.1.2, RFC 9207 iss).
func (p *Provider) finishLogin(w http.ResponseWriter, r *http.Request, lr *loginRequest, u policy.User) {
	code := codePrefix + randomString(32)
	now := p.now()
	cr := codeRecord{
		Grant: randomString(16), Client: lr.Client, ClientInst: lr.ClientInst, User: u.ID, Tenant: u.Tenant, Scopes: lr.Scopes,
		RedirectURI: lr.RedirectURI, Nonce: lr.Nonce, Challenge: lr.Challenge, AuthTime: now,
		Expires: now.Add(p.cfg.CodeLifetime),
	}
	// The sign-in request is consumed: the code is issued once.
	if !p.logins.take(lr.ID) {
		p.errorPage(w, http.StatusBadRequest, "This sign-in request is already finished. Go back to the application and start again.")
		return
	}
	err := p.writes.Do(r.Context(), func(tx store.Tx) error { return putJSON(tx, tokenKey(pfxCode, code), cr) })
	if err != nil {
		p.pageForError(w, err)
		return
	}
	p.log.Info("oidc: signed in", "tenant", u.Tenant, "user", u.ID, "client", lr.Client)
	v := url.Values{"code": {code}, "iss": {p.issuer}}
	if lr.State != "" {
		v.Set("state", lr.State)
	}
	http.Redirect(w, r, addQuery(lr.RedirectURI, v), http.StatusSeeOther)
}

// clientAddr returns the address password attempts are counted against.
// Behind a trusted proxy (TrustForwardedFor) that is the last
// X-Forwarded-For entry, the one the proxy appended: the entries before it
// come from the client and can be forged to dodge the per-address limit.
func (p *Provider) clientAddr(r *http.Request) string {
	if p.cfg.TrustForwardedFor {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if last = strings.TrimSpace(last); last != "" {
				return last
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
