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
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/jsonrec"
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
	// LoginHint is the client's login_hint (OIDC Core §3.1.2.1),
	// prefilled in the first step.
	LoginHint string `json:"loginHint,omitempty"`
	// Account: a sign-in for the account page rather than for a client.
	Account bool `json:"account,omitempty"`
	// Routed: the first step chose Tenant (or found none, for a user
	// name that names nobody); Identifier is what the member typed.
	Routed     bool   `json:"routed,omitempty"`
	Identifier string `json:"identifier,omitempty"`
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
// A browser with a live session is answered with a code at once, unless
// the request asks for a fresh sign-in (prompt=login or select_account,
// max_age=0, max_age shorter than the session's age) or names another
// account in login_hint. prompt=none never shows a page: without a usable
// session it answers login_required (interaction_required when the
// session is another account's) (OIDC Core §3.1.2.6).
//
// The request is capped at maxAuthorizeBytes and each parameter at its
// paramCaps entry; nothing of it reaches the store (see pendingLogins).
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if !parseLimited(w, r, maxAuthorizeBytes) {
		p.errorPage(w, http.StatusBadRequest, "The request is malformed or too large (invalid_request).")
		return
	}
	q := r.Form
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint"} {
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
	prompts := strings.Fields(q.Get("prompt"))
	none := slices.Contains(prompts, "none")
	if none && len(prompts) > 1 {
		fail(errInvalidRequest, "prompt=none cannot be combined with other values")
		return
	}
	fresh := slices.Contains(prompts, "login") || slices.Contains(prompts, "select_account")
	maxAge := -1
	if v := q.Get("max_age"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fail(errInvalidRequest, "max_age must be a non-negative number of seconds")
			return
		}
		maxAge = n
		// max_age=0 asks for a sign-in now, like prompt=login.
		fresh = fresh || n == 0
	}
	hint := q.Get("login_hint")
	lr := loginRequest{
		ID: randomString(24), Client: c.ID, ClientInst: c.Instance, RedirectURI: redirectURI, Scopes: granted,
		State: state, Nonce: q.Get("nonce"), Challenge: challenge, LoginHint: hint,
	}
	if s, u, ok := p.browserSession(r.Context(), r); ok {
		young := maxAge < 0 || p.now().Sub(s.AuthTime) <= time.Duration(maxAge)*time.Second
		same := hintNames(hint, u)
		if !fresh && young && same {
			p.issueCode(w, r, &lr, u, s.ID, s.AMR, s.AuthTime, acrSession)
			return
		}
		if none {
			if !same {
				fail("interaction_required", "the browser is signed in as another user")
			} else {
				fail("login_required", "the user must sign in again")
			}
			return
		}
	} else if none {
		fail("login_required", "the user must sign in")
		return
	}
	lr.CSRF, lr.Binding, lr.Expires = randomString(32), p.binding(w, r), p.now().Add(p.cfg.LoginLifetime)
	p.startLogin(w, r, lr)
}

// startLogin keeps a pending sign-in and sends the browser to its page.
func (p *Provider) startLogin(w http.ResponseWriter, r *http.Request, lr loginRequest) {
	addr := addressKey(p.clientAddr(r))
	if n := p.logins.add(lr, addr, p.now()); n > 0 {
		p.log.Debug("oidc: older sign-in requests gave way", "addr", addr, "count", n)
	}
	http.Redirect(w, r, p.endpoint("/login?req="+lr.ID), http.StatusSeeOther)
}

// hintNames reports whether a login_hint is empty or names u (its user
// name or one of its addresses).
func hintNames(hint string, u policy.User) bool {
	if hint == "" {
		return true
	}
	if policy.FoldUserName(hint) == policy.FoldUserName(u.UserName) {
		return true
	}
	for _, e := range u.Emails {
		if strings.EqualFold(e.Value, hint) {
			return true
		}
	}
	return false
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
	lr, ok := p.logins.get(id, p.now())
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
	p.log.Error("oidc: sign-in", "err", err)
	p.errorPage(w, http.StatusInternalServerError, "Something went wrong. Please try again later.")
}

// basePage is the sign-in page of lr before any step.
func (p *Provider) basePage(ctx context.Context, lr *loginRequest) loginPage {
	pg := loginPage{Req: lr.ID, CSRF: lr.CSRF, Identifier: lr.LoginHint}
	if lr.Account {
		pg.Client = "your account"
	} else {
		pg.Client = p.clientName(ctx, lr.Client)
	}
	return pg
}

// handleLoginPage shows the first step: the e-mail address or user name
// (or, with pick=1, the list of organisations).
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
	pg := p.basePage(r.Context(), lr)
	pg.Step = stepIdentify
	if r.URL.Query().Get("pick") == "1" {
		pg.Step = stepTenant
		if pg.Tenants, err = p.tenantChoices(r.Context()); err != nil {
			p.pageForError(w, err)
			return
		}
	}
	p.renderLogin(w, http.StatusOK, pg)
}

// Steps of the sign-in page.
const (
	stepIdentify = "identify"
	stepTenant   = "tenant"
	stepPassword = "password"
)

func (p *Provider) clientName(ctx context.Context, id string) string {
	if c, err := p.clients.get(ctx, id); err == nil && c.Name != "" {
		return c.Name
	}
	return id
}

// tenantChoices lists the organisations for the fallback picker, by name.
func (p *Provider) tenantChoices(ctx context.Context) ([]tenantChoice, error) {
	var ts []policy.Tenant
	err := p.st.View(ctx, func(tx store.Tx) error {
		var err error
		ts, err = tx.Tenants()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("oidc: listing tenants: %w", err)
	}
	out := make([]tenantChoice, 0, len(ts))
	for _, t := range ts {
		name := t.Name
		if name == "" {
			name = string(t.ID)
		}
		out = append(out, tenantChoice{ID: string(t.ID), Name: name})
	}
	slices.SortFunc(out, func(a, b tenantChoice) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out, nil
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
	page := p.basePage(r.Context(), lr)
	step := f.Get("step")
	identifier := strings.TrimSpace(f.Get("identifier"))
	tenantField := strings.TrimSpace(f.Get("tenant"))
	switch {
	case step == stepPassword && lr.Routed:
		p.checkPassword(w, r, lr, page)
	case identifier == "" && tenantField != "":
		// The organisation picker (or a form that names the tenant).
		p.routeTenant(w, r, lr, page, policy.TenantID(tenantField))
	default:
		page.Step, page.Identifier = stepIdentify, identifier
		if identifier == "" {
			page.Error = "Enter your e-mail address or user name."
			p.renderLogin(w, http.StatusBadRequest, page)
			return
		}
		p.routeIdentifier(w, r, lr, page, identifier)
	}
}

// routeTenant continues a sign-in at the chosen tenant: its IdP, or the
// password step.
func (p *Provider) routeTenant(w http.ResponseWriter, r *http.Request, lr *loginRequest, page loginPage, id policy.TenantID) {
	tenant, err := p.tenant(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		page.Step, page.Error = stepTenant, "We do not know the organisation “"+string(id)+"”. Choose it from the list."
		if page.Tenants, err = p.tenantChoices(r.Context()); err != nil {
			p.pageForError(w, err)
			return
		}
		p.renderLogin(w, http.StatusBadRequest, page)
		return
	}
	if err != nil {
		p.pageForError(w, err)
		return
	}
	if _, ok := p.cfg.Upstreams[id]; ok {
		p.startUpstream(w, r, lr, id)
		return
	}
	lr.Routed, lr.Tenant, lr.Identifier = true, id, ""
	if !p.logins.update(*lr) {
		p.errorPage(w, http.StatusBadRequest, "This sign-in request is unknown or already finished. Go back to the application and start again.")
		return
	}
	page.Step, page.TenantName = stepPassword, tenant.Name
	if page.TenantName == "" {
		page.TenantName = string(tenant.ID)
	}
	page.Identifier = ""
	p.renderLogin(w, http.StatusOK, page)
}

// routeIdentifier is home-realm discovery (the e-mail-first step). An
// address goes to the tenant owning its domain (its IdP, or the password
// step); an unknown domain gets a message. A user name is looked up among
// the tenants that sign in with passwords: one match goes to the password
// step, several get a message, none goes to the password step as well, so
// the page never tells whether an account exists.
func (p *Provider) routeIdentifier(w http.ResponseWriter, r *http.Request, lr *loginRequest, page loginPage, identifier string) {
	var tenants []policy.Tenant
	err := p.st.View(r.Context(), func(tx store.Tx) error {
		var err error
		tenants, err = tx.Tenants()
		return err
	})
	if err != nil {
		p.pageForError(w, err)
		return
	}
	var target policy.TenantID
	if strings.Contains(identifier, "@") {
		owner, ok := policy.DomainOwner(tenants, identifier)
		if !ok {
			page.Error = "We do not know the organisation of “" + policy.EmailDomain(identifier) + "”. Check the address, enter your user name, or choose your organisation."
			p.renderLogin(w, http.StatusBadRequest, page)
			return
		}
		if _, ok := p.cfg.Upstreams[owner]; ok {
			lr.Identifier = identifier
			p.startUpstream(w, r, lr, owner)
			return
		}
		target = owner
		for _, t := range tenants {
			if t.ID == owner {
				page.TenantName = t.Name
				if page.TenantName == "" {
					page.TenantName = string(t.ID)
				}
			}
		}
	} else {
		folded := policy.FoldUserName(identifier)
		var found []policy.TenantID
		if folded != "" {
			err := p.st.View(r.Context(), func(tx store.Tx) error {
				for _, t := range tenants {
					if _, up := p.cfg.Upstreams[t.ID]; up {
						continue
					}
					_, err := tx.UserByUserName(t.ID, folded)
					if err == nil {
						found = append(found, t.ID)
					} else if !errors.Is(err, store.ErrNotFound) {
						return err
					}
				}
				return nil
			})
			if err != nil {
				p.pageForError(w, err)
				return
			}
		}
		if len(found) > 1 {
			page.Error = "More than one organisation has a member called “" + identifier + "”. Enter your e-mail address instead, or choose your organisation."
			p.renderLogin(w, http.StatusBadRequest, page)
			return
		}
		if len(found) == 1 {
			target = found[0]
		}
	}
	lr.Routed, lr.Tenant, lr.Identifier = true, target, identifier
	if !p.logins.update(*lr) {
		p.errorPage(w, http.StatusBadRequest, "This sign-in request is unknown or already finished. Go back to the application and start again.")
		return
	}
	page.Step, page.Identifier = stepPassword, identifier
	p.renderLogin(w, http.StatusOK, page)
}

// checkPassword is the password step. Failed attempts are counted per
// account and per address (or per known device); a success clears the
// account's count and remembers the browser as a device of the account.
func (p *Provider) checkPassword(w http.ResponseWriter, r *http.Request, lr *loginRequest, page loginPage) {
	f := r.PostForm
	tenantID := lr.Tenant
	page.Step = stepPassword
	if tenantID != "" && lr.Identifier == "" {
		if t, err := p.tenant(r.Context(), tenantID); err == nil {
			page.TenantName = t.Name
		}
	}
	userName := strings.TrimSpace(f.Get("username"))
	if userName == "" {
		userName = lr.Identifier
	}
	page.Identifier = userName
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
	account := string(tenantID) + "/" + folded
	addr := addressKey(p.clientAddr(r))
	device := p.knownDevice(r, account)
	if !p.limiter.allow(account, addr, device) {
		page.Error = "Too many wrong passwords. Wait a few minutes and try again."
		w.Header().Set("Retry-After", "60")
		p.renderLogin(w, http.StatusTooManyRequests, page)
		return
	}
	if p.cfg.Passwords == nil {
		page.Error = "Password sign-in is not available for this organisation."
		p.renderLogin(w, http.StatusBadRequest, page)
		return
	}
	var u policy.User
	var err error
	if tenantID == "" {
		// A user name that names nobody: the same work and answer as a
		// wrong password.
		LocalAccounts{}.dummyCheck(f.Get("password"))
		err = fmt.Errorf("%w: no tenant has user %q", ErrBadCredentials, folded)
	} else {
		u, err = p.cfg.Passwords.CheckPassword(r.Context(), tenantID, folded, f.Get("password"))
		if errors.Is(err, ErrBadCredentials) && strings.Contains(folded, "@") {
			// An address that is not the user name: the user whose
			// primary address it is.
			if name, ok := p.userNameByEmail(r.Context(), tenantID, userName); ok && policy.FoldUserName(name) != folded {
				u, err = p.cfg.Passwords.CheckPassword(r.Context(), tenantID, policy.FoldUserName(name), f.Get("password"))
			}
		}
		if err == nil {
			u, err = p.resolveUser(r.Context(), tenantID, u)
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrBadCredentials):
		p.limiter.failed(account, addr, device)
		page.Error = "The user name or password is wrong."
		p.log.Info("oidc: sign-in failed", "tenant", tenantID, "user", userName, "addr", p.clientAddr(r))
		p.renderLogin(w, http.StatusUnauthorized, page)
		return
	case errors.Is(err, ErrDisabled):
		page.Error = "This account is disabled. Ask your organisation's administrator."
		p.renderLogin(w, http.StatusForbidden, page)
		return
	case errors.Is(err, ErrUnavailable):
		page.Error = "Your organisation's directory cannot be reached right now. Try again in a few minutes."
		p.renderLogin(w, http.StatusServiceUnavailable, page)
		return
	default:
		p.pageForError(w, err)
		return
	}
	p.limiter.succeeded(account, device)
	p.rememberDevice(w, r, account)
	p.finishLogin(w, r, lr, u, AMRPassword)
}

// userNameByEmail finds the user of tenant whose address addr is.
func (p *Provider) userNameByEmail(ctx context.Context, tenant policy.TenantID, addr string) (string, bool) {
	var name string
	errFound := errors.New("found")
	err := p.st.View(ctx, func(tx store.Tx) error {
		if et, ok := tx.(store.EmailTx); ok { // an index: no scan
			us, err := et.UsersByEmail(tenant, addr)
			if err != nil || len(us) != 1 {
				return err // none, or ambiguous: no user
			}
			name = us[0].UserName
			return errFound
		}
		return tx.ForEachUser(tenant, func(u policy.User) error {
			for _, e := range u.Emails {
				if strings.EqualFold(e.Value, addr) {
					name = u.UserName
					return errFound
				}
			}
			return nil
		})
	})
	return name, errors.Is(err, errFound)
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

// finishLogin ends a successful sign-in by amr: it starts (or renews) the
// browser session, then issues the code, or opens the account page for a
// sign-in that came from there.
func (p *Provider) finishLogin(w http.ResponseWriter, r *http.Request, lr *loginRequest, u policy.User, amr string) {
	// The sign-in request is consumed: the code is issued once.
	if !p.logins.take(lr.ID) {
		p.errorPage(w, http.StatusBadRequest, "This sign-in request is already finished. Go back to the application and start again.")
		return
	}
	s, err := p.newSession(r.Context(), w, r, u, amr)
	if err != nil {
		p.pageForError(w, err)
		return
	}
	p.log.Info("oidc: signed in", "tenant", u.Tenant, "user", u.ID, "client", lr.Client, "amr", amr, "session", s.ID)
	if lr.Account {
		http.Redirect(w, r, p.endpoint("/account"), http.StatusSeeOther)
		return
	}
	p.issueCode(w, r, lr, u, s.ID, s.AMR, s.AuthTime, acrFresh)
}

// issueCode issues the authorization code of lr in session sid and sends
// the browser back to the client (RFC 6749 §4.1.2, RFC 9207 iss). The
// code and the session's use are one (group-committed) write.
func (p *Provider) issueCode(w http.ResponseWriter, r *http.Request, lr *loginRequest, u policy.User, sid string, amr []string, authTime time.Time, acr string) {
	code := codePrefix + randomString(32)
	now := p.now()
	cr := codeRecord{
		tokenGrant:  tokenGrant{Grant: randomString(16), Client: lr.Client, ClientInst: lr.ClientInst, User: u.ID, Tenant: u.Tenant, Scopes: lr.Scopes},
		RedirectURI: lr.RedirectURI, Nonce: lr.Nonce, Challenge: lr.Challenge, AuthTime: authTime,
		Session: sid, AMR: amr, ACR: acr, Expires: now.Add(p.cfg.CodeLifetime),
	}
	c, err := p.clients.get(r.Context(), lr.Client)
	if err != nil || c.Instance != lr.ClientInst {
		p.errorPage(w, http.StatusBadRequest, "The application that sent you here is no longer registered.")
		return
	}
	alive := true
	err = p.writes.Do(r.Context(), func(tx store.Tx) error {
		var err error
		if alive, err = p.useSession(tx, sid, c, cr.Grant); err != nil || !alive {
			return err
		}
		return jsonrec.Put(tx, nsTokens, tokenKey(pfxCode, code), cr)
	})
	if err != nil {
		p.pageForError(w, err)
		return
	}
	if !alive {
		p.errorPage(w, http.StatusBadRequest, "Your session has just ended. Go back to the application and sign in again.")
		return
	}
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
