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
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Key prefixes in namespace oidc-tokens. Tokens and codes are keyed by the
// base64url SHA-256 of their value; the value itself is never stored.
const (
	pfxCode    = "c/"
	pfxAccess  = "a/"
	pfxRefresh = "r/"
	pfxGrant   = "g/"
	// pfxLogin: sign-in requests of earlier versions, which kept them in
	// the store; Cleanup removes them as they expire.
	pfxLogin = "q/"
)

// Prefixes of the opaque token values, to tell them apart at a glance.
const (
	accessPrefix  = "rat_"
	refreshPrefix = "rrt_"
	codePrefix    = "rac_"
)

func tokenKey(pfx, token string) string {
	sum := sha256.Sum256([]byte(token))
	return pfx + base64.RawURLEncoding.EncodeToString(sum[:])
}

// grantRecord ties together every token issued from one authorization (one
// code, its access tokens and its refresh-token family). Revoking the grant
// invalidates all of them (RFC 9700 §2.2.2, §4.14.2).
//
// Every record carries the client's Instance ("ci"): it must equal the
// client's current one, so a client deleted and created again with the same
// id does not inherit the tokens of the first.
type grantRecord struct {
	Client     string          `json:"client"`
	ClientInst string          `json:"ci,omitempty"`
	User       policy.UserID   `json:"user,omitempty"`
	Tenant     policy.TenantID `json:"tenant,omitempty"`
	Revoked    bool            `json:"revoked,omitempty"`
	Expires    time.Time       `json:"exp"`
}

// tokenGrant is what a code and every token issued from it carry: their
// grant, the client (and its Instance) they were issued to, whose they are
// and the scopes they allow. Embedded, its fields stand in the record's
// JSON as the record's own.
type tokenGrant struct {
	Grant      string          `json:"grant"`
	Client     string          `json:"client"`
	ClientInst string          `json:"ci,omitempty"`
	User       policy.UserID   `json:"user,omitempty"`
	Tenant     policy.TenantID `json:"tenant,omitempty"`
	Scopes     []string        `json:"scopes"`
}

type codeRecord struct {
	tokenGrant
	RedirectURI string    `json:"redirectURI"`
	Nonce       string    `json:"nonce,omitempty"`
	Challenge   string    `json:"challenge,omitempty"`
	AuthTime    time.Time `json:"authTime"`
	// Session is the browser session the code was issued in (the sid
	// claim); AMR and ACR how the user authenticated.
	Session string    `json:"sid,omitempty"`
	AMR     []string  `json:"amr,omitempty"`
	ACR     string    `json:"acr,omitempty"`
	Expires time.Time `json:"exp"`
	Used    bool      `json:"used,omitempty"`
}

type accessRecord struct {
	tokenGrant
	Issued  time.Time `json:"iat"`
	Expires time.Time `json:"exp"`
}

type refreshRecord struct {
	tokenGrant
	AuthTime time.Time `json:"authTime"`
	Session  string    `json:"sid,omitempty"`
	AMR      []string  `json:"amr,omitempty"`
	Issued   time.Time `json:"iat"`
	Expires  time.Time `json:"exp"`
	Used     bool      `json:"used,omitempty"`
}

// revokeGrant marks a grant revoked; every token of it stops working. The
// revocation is audited (on behalf of the transaction's actor) with why.
func revokeGrant(tx store.Tx, id, reason string) error {
	var g grantRecord
	if err := jsonrec.Get(tx, nsTokens, pfxGrant+id, &g); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	if g.Revoked {
		return nil
	}
	g.Revoked = true
	if err := jsonrec.Put(tx, nsTokens, pfxGrant+id, g); err != nil {
		return err
	}
	return tx.Record(g.Tenant, policy.OpDelete, auditGrant+id, map[string]any{"client": g.Client, "user": g.User, "reason": reason})
}

// auditGrant prefixes the audit ids of token issue and revocation; the
// rest is the grant id, which ID tokens carry as sid.
const auditGrant = "oidc-grant/"

// userActor names a user in the audit log.
func userActor(tenant policy.TenantID, userName string) string {
	return "user:" + string(tenant) + "/" + userName
}

// clientActor names a client acting for itself in the audit log.
func clientActor(id string) string { return "client:" + id }

// actorOf returns on whose behalf an operation on the token record at key
// (a code, access or refresh token) acts: its user, or def when the
// record has none or is unknown. It reads before the write transaction
// starts, as Update takes its actor first.
func (p *Provider) actorOf(ctx context.Context, key, def string) string {
	actor := def
	p.st.View(ctx, func(tx store.Tx) error {
		var rec struct {
			User   policy.UserID   `json:"user"`
			Tenant policy.TenantID `json:"tenant"`
		}
		if jsonrec.Get(tx, nsTokens, key, &rec) != nil || rec.User == "" {
			return nil
		}
		if u, err := tx.User(rec.Tenant, rec.User); err == nil {
			actor = userActor(u.Tenant, u.UserName)
		}
		return nil
	})
	return actor
}

// OAuth 2.0 error codes (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7009
// §2.2.1).
const (
	errInvalidRequest          = "invalid_request"
	errInvalidClient           = "invalid_client"
	errInvalidGrant            = "invalid_grant"
	errUnauthorizedClient      = "unauthorized_client"
	errUnsupportedGrantType    = "unsupported_grant_type"
	errInvalidScope            = "invalid_scope"
	errUnsupportedResponseType = "unsupported_response_type"
	errAccessDenied            = "access_denied"
	errServerError             = "server_error"
	errTemporarilyUnavailable  = "temporarily_unavailable"
	errInvalidToken            = "invalid_token"
	errUnsupportedTokenType    = "unsupported_token_type"
)

// oauthError is an OAuth 2.0 error response.
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	status      int
	basic       bool // client tried HTTP Basic: answer with WWW-Authenticate
}

func (e *oauthError) Error() string { return "oidc: " + e.Code + ": " + e.Description }

func oerr(code, format string, a ...any) *oauthError {
	return &oauthError{Code: code, Description: fmt.Sprintf(format, a...)}
}

func (p *Provider) writeOAuthError(w http.ResponseWriter, err error) {
	var oe *oauthError
	switch {
	case errors.As(err, &oe):
	case errors.Is(err, store.ErrStorage):
		// RFC 6749 §5.2 has no storage code; temporarily_unavailable
		// with 503 tells the client to retry (the store logs the
		// condition once).
		oe = oerr(errTemporarilyUnavailable, "storage cannot take writes; nothing was issued, retry later")
		oe.status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	case errors.Is(err, context.Canceled):
		p.log.Debug("oidc: request canceled by the client")
		oe = oerr(errServerError, "request canceled")
		oe.status = 499 // nobody reads it; keeps hang-ups apart from 5xx in metrics
	default:
		p.log.Error("oidc: internal error", "err", err)
		oe = oerr(errServerError, "internal error")
		oe.status = http.StatusInternalServerError
	}
	status := oe.status
	if status == 0 {
		status = http.StatusBadRequest
		if oe.Code == errInvalidClient {
			status = http.StatusUnauthorized
		}
	}
	if oe.Code == errInvalidClient && oe.basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="roster"`)
	}
	writeJSON(w, status, oe)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// authenticateClient authenticates the client of a token, revocation or
// introspection request: client_secret_basic, client_secret_post, or none
// for public clients (RFC 6749 §2.3.1). For a public client it only checks
// that the client exists.
func (p *Provider) authenticateClient(r *http.Request) (*ClientConfig, error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, &oauthError{Code: errInvalidClient, Description: "malformed credentials", basic: true}
		}
		if r.PostForm.Get("client_secret") != "" {
			return nil, oerr(errInvalidRequest, "more than one client authentication method")
		}
	} else {
		id = r.PostForm.Get("client_id")
		secret = r.PostForm.Get("client_secret")
	}
	if id == "" {
		return nil, &oauthError{Code: errInvalidClient, Description: "client authentication required", basic: basic}
	}
	if fid := r.PostForm.Get("client_id"); basic && fid != "" && fid != id {
		return nil, oerr(errInvalidRequest, "client_id does not match the credentials")
	}
	c, err := p.clients.get(r.Context(), id)
	if errors.Is(err, ErrClientNotFound) {
		return nil, &oauthError{Code: errInvalidClient, Description: "unknown client", basic: basic}
	}
	if err != nil {
		return nil, err
	}
	if c.Public {
		if secret != "" {
			return nil, &oauthError{Code: errInvalidClient, Description: "public client must not send a secret", basic: basic}
		}
		return c, nil
	}
	if !c.checkSecret(secret) {
		return nil, &oauthError{Code: errInvalidClient, Description: "client authentication failed", basic: basic}
	}
	return c, nil
}

// parseTokenForm parses the form of the token, revocation and
// introspection endpoints, capped at maxTokenBytes and each parameter at
// its paramCaps entry; on failure it answers invalid_request and reports
// false.
func (p *Provider) parseTokenForm(w http.ResponseWriter, r *http.Request) bool {
	if !parseLimited(w, r, maxTokenBytes) {
		p.writeOAuthError(w, oerr(errInvalidRequest, "malformed or too large request"))
		return false
	}
	if k := overlong(r.Form); k != "" {
		p.writeOAuthError(w, oerr(errInvalidRequest, "parameter %s is too long", k))
		return false
	}
	if id, secret, ok := r.BasicAuth(); ok && (len(id) > 3*paramCaps["client_id"] || len(secret) > 3*paramCaps["client_secret"]) {
		p.writeOAuthError(w, oerr(errInvalidRequest, "client credentials are too long"))
		return false
	}
	return true
}

// formClient parses the form of a revocation or introspection request
// (parseTokenForm) and authenticates its client; on failure it has
// answered with the OAuth error and reports false.
func (p *Provider) formClient(w http.ResponseWriter, r *http.Request) (*ClientConfig, bool) {
	if !p.parseTokenForm(w, r) {
		return nil, false
	}
	c, err := p.authenticateClient(r)
	if err != nil {
		p.writeOAuthError(w, err)
		return nil, false
	}
	return c, true
}

// tokenResponse is the successful token response (RFC 6749 §5.1, OIDC Core
// §3.1.3.3).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	if !p.parseTokenForm(w, r) {
		return
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			p.writeOAuthError(w, oerr(errInvalidRequest, "parameter %s repeated", k))
			return
		}
	}
	c, err := p.authenticateClient(r)
	if err != nil {
		p.writeOAuthError(w, err)
		return
	}
	var resp *tokenResponse
	switch gt := r.PostForm.Get("grant_type"); gt {
	case GrantAuthorizationCode:
		resp, err = p.exchangeCode(r.Context(), c, r.PostForm)
	case GrantRefreshToken:
		resp, err = p.refresh(r.Context(), c, r.PostForm)
	case GrantClientCredentials:
		resp, err = p.clientCredentials(r.Context(), c, r.PostForm)
	case "":
		err = oerr(errInvalidRequest, "grant_type is required")
	default:
		err = oerr(errUnsupportedGrantType, "grant type %q is not supported", gt)
	}
	if err != nil {
		p.writeOAuthError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// issued is what one transaction of the token endpoint produced.
type issued struct {
	err      error // OAuth error for the client, writes kept
	grant    string
	user     policy.User
	scopes   []string
	nonce    string
	authTime time.Time
	session  string   // sid
	amr      []string // amr
	acr      string
	access   string
	refresh  string
	expires  time.Time
}

// newTokens writes a fresh access token (and a refresh token when
// offline_access was granted and the client may refresh) for the grant.
func (p *Provider) newTokens(tx store.Tx, out *issued, c *ClientConfig, grantType string, g grantRecord, access, refresh string) error {
	now := p.now()
	out.access = access
	out.expires = now.Add(p.cfg.AccessTokenLifetime)
	tg := tokenGrant{Grant: out.grant, Client: c.ID, ClientInst: c.Instance, User: out.user.ID, Tenant: out.user.Tenant, Scopes: out.scopes}
	ar := accessRecord{tokenGrant: tg, Issued: now, Expires: out.expires}
	if err := jsonrec.Put(tx, nsTokens, tokenKey(pfxAccess, access), ar); err != nil {
		return err
	}
	g.Expires = maxTime(g.Expires, out.expires)
	if refresh != "" && slices.Contains(out.scopes, ScopeOfflineAccess) && c.allowsGrant(GrantRefreshToken) {
		out.refresh = refresh
		rr := refreshRecord{tokenGrant: tg, AuthTime: out.authTime, Session: out.session, AMR: out.amr, Issued: now, Expires: now.Add(p.cfg.RefreshTokenLifetime)}
		if err := jsonrec.Put(tx, nsTokens, tokenKey(pfxRefresh, refresh), rr); err != nil {
			return err
		}
		g.Expires = maxTime(g.Expires, rr.Expires)
	}
	g.ClientInst = c.Instance
	if err := jsonrec.Put(tx, nsTokens, pfxGrant+out.grant, g); err != nil {
		return err
	}
	// Token issue is audited on behalf of the user (or the client, for
	// client credentials): the transaction's actor.
	return tx.Record(out.user.Tenant, policy.OpCreate, auditGrant+out.grant, map[string]any{
		"client": c.ID, "user": out.user.ID, "grantType": grantType, "scope": strings.Join(out.scopes, " "),
		"refreshToken": out.refresh != ""})
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// activeUser loads the user of a grant and checks it may still get tokens.
func activeUser(tx store.Tx, tenant policy.TenantID, id policy.UserID) (policy.User, error) {
	u, err := tx.User(tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return u, oerr(errInvalidGrant, "user no longer exists")
	}
	if err != nil {
		return u, err
	}
	if !u.Active {
		return u, oerr(errInvalidGrant, "user is inactive")
	}
	return u, nil
}

// credential names a single-use credential (an authorization code or a
// refresh token) for the checks both grants share.
type credential struct {
	what      string // in error descriptions: "code", "refresh token"
	replayLog string // logged when a used one is presented again
	revokedAs string // the reason recorded when its grant is revoked
}

var (
	credCode    = credential{"code", "oidc: authorization code replayed; revoking its grant", "code replayed"}
	credRefresh = credential{"refresh token", "oidc: refresh token reused; revoking its family", "refresh token reused"}
)

// redeem runs fn in one write transaction for the credential stored at
// key and answers with the tokens fn issued, or with the OAuth error fn
// set in out; the writes fn made are kept either way (a replay's
// revocation must stand).
func (p *Provider) redeem(ctx context.Context, c *ClientConfig, key string, fn func(tx store.Tx, out *issued) error) (*tokenResponse, error) {
	var out issued
	err := p.writes.DoAs(ctx, p.actorOf(ctx, key, clientActor(c.ID)), func(tx store.Tx) error {
		out = issued{}
		return fn(tx, &out)
	})
	if err != nil {
		return nil, err
	}
	if out.err != nil {
		return nil, out.err
	}
	return p.tokenResponse(ctx, c, &out)
}

// clientBound is a stored credential that names the client it was issued to.
type clientBound interface {
	issuedTo() (client, instance string)
}

func (r *codeRecord) issuedTo() (string, string)    { return r.Client, r.ClientInst }
func (r *refreshRecord) issuedTo() (string, string) { return r.Client, r.ClientInst }

// openIssued loads the credential record at key into rec and checks it
// was issued to c. An unknown credential or another client's sets
// out.err (invalid_grant) and ok is false with a nil error.
func openIssued(tx store.Tx, out *issued, c *ClientConfig, key string, rec clientBound, cred credential) (ok bool, err error) {
	if err := jsonrec.Get(tx, nsTokens, key, rec); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			out.err = oerr(errInvalidGrant, "unknown %s", cred.what)
			return false, nil
		}
		return false, err
	}
	if client, inst := rec.issuedTo(); client != c.ID || inst != c.Instance {
		out.err = oerr(errInvalidGrant, "%s was issued to another client", cred.what)
		return false, nil
	}
	return true, nil
}

// spendable checks a credential has not been used nor expired. A used
// one is a replay: its grant is revoked (RFC 6749 §4.1.2, RFC 9700
// §4.14.2). Either failure sets out.err and ok is false.
func (p *Provider) spendable(tx store.Tx, out *issued, c *ClientConfig, used bool, expires time.Time, grant string, cred credential) (ok bool, err error) {
	if used {
		p.log.Warn(cred.replayLog, "client", c.ID, "grant", grant)
		out.err = oerr(errInvalidGrant, "%s already used", cred.what)
		return false, revokeGrant(tx, grant, cred.revokedAs)
	}
	if !p.now().Before(expires) {
		out.err = oerr(errInvalidGrant, "%s expired", cred.what)
		return false, nil
	}
	return true, nil
}

// grantUser returns the active user a grant is for. A user deleted or
// inactive since sets out.err and ok is false with a nil error.
func grantUser(tx store.Tx, out *issued, tenant policy.TenantID, id policy.UserID) (u policy.User, ok bool, err error) {
	u, err = activeUser(tx, tenant, id)
	var oe *oauthError
	if errors.As(err, &oe) {
		out.err = oe
		return u, false, nil
	}
	return u, err == nil, err
}

// exchangeCode implements the authorization code grant (RFC 6749 §4.1.3)
// with PKCE (RFC 7636 §4.6). A code is single-use: presenting it again
// revokes every token issued from it (RFC 6749 §4.1.2).
func (p *Provider) exchangeCode(ctx context.Context, c *ClientConfig, f url.Values) (*tokenResponse, error) {
	if !c.allowsGrant(GrantAuthorizationCode) {
		return nil, oerr(errUnauthorizedClient, "client may not use the authorization code grant")
	}
	code := f.Get("code")
	if code == "" {
		return nil, oerr(errInvalidRequest, "code is required")
	}
	verifier := f.Get("code_verifier")
	if verifier != "" && !validVerifier(verifier) {
		return nil, oerr(errInvalidRequest, "malformed code_verifier")
	}
	redirectURI := f.Get("redirect_uri")
	access, refresh := accessPrefix+randomString(32), refreshPrefix+randomString(32)
	key := tokenKey(pfxCode, code)
	return p.redeem(ctx, c, key, func(tx store.Tx, out *issued) error {
		var cr codeRecord
		if ok, err := openIssued(tx, out, c, key, &cr, credCode); !ok {
			return err
		}
		if ok, err := p.spendable(tx, out, c, cr.Used, cr.Expires, cr.Grant, credCode); !ok {
			return err
		}
		if redirectURI != cr.RedirectURI {
			out.err = oerr(errInvalidGrant, "redirect_uri does not match the authorization request")
			return nil
		}
		switch {
		case cr.Challenge == "" && verifier != "":
			out.err = oerr(errInvalidGrant, "code_verifier sent but no code_challenge was")
			return nil
		case cr.Challenge != "" && verifier == "":
			out.err = oerr(errInvalidGrant, "code_verifier is required")
			return nil
		case cr.Challenge != "" && subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(cr.Challenge)) != 1:
			out.err = oerr(errInvalidGrant, "code_verifier does not match")
			return nil
		}
		// The used code is kept as long as tokens issued from it may live,
		// so that a late replay is still recognised and revokes them
		// (RFC 6749 §4.1.2); Cleanup would otherwise forget it after 60 s.
		used := cr
		used.Used = true
		used.Expires = maxTime(cr.Expires, p.now().Add(max(p.cfg.AccessTokenLifetime, p.cfg.RefreshTokenLifetime)))
		if err := jsonrec.Put(tx, nsTokens, key, used); err != nil {
			return err
		}
		u, ok, err := grantUser(tx, out, cr.Tenant, cr.User)
		if !ok {
			return err
		}
		// A code of a session that ended since (sign-out, revocation,
		// the user deactivated) gives no tokens.
		if alive, err := sessionAlive(tx, cr.Session); err != nil || !alive {
			if err == nil {
				out.err = oerr(errInvalidGrant, "the sign-in session has ended")
			}
			return err
		}
		out.grant, out.user, out.scopes, out.nonce, out.authTime = cr.Grant, u, cr.Scopes, cr.Nonce, cr.AuthTime
		out.session, out.amr, out.acr = cr.Session, cr.AMR, cr.ACR
		g := grantRecord{Client: c.ID, User: u.ID, Tenant: u.Tenant, Expires: cr.Expires}
		return p.newTokens(tx, out, c, GrantAuthorizationCode, g, access, refresh)
	})
}

// refresh implements the refresh token grant (RFC 6749 §6) with rotation:
// each refresh token works once; presenting a used one revokes the whole
// family (RFC 9700 §4.14.2).
func (p *Provider) refresh(ctx context.Context, c *ClientConfig, f url.Values) (*tokenResponse, error) {
	if !c.allowsGrant(GrantRefreshToken) {
		return nil, oerr(errUnauthorizedClient, "client may not use refresh tokens")
	}
	rt := f.Get("refresh_token")
	if rt == "" {
		return nil, oerr(errInvalidRequest, "refresh_token is required")
	}
	var narrow []string
	if s := f.Get("scope"); s != "" {
		narrow = strings.Fields(s)
	}
	access, refresh := accessPrefix+randomString(32), refreshPrefix+randomString(32)
	key := tokenKey(pfxRefresh, rt)
	return p.redeem(ctx, c, key, func(tx store.Tx, out *issued) error {
		var rr refreshRecord
		if ok, err := openIssued(tx, out, c, key, &rr, credRefresh); !ok {
			return err
		}
		var g grantRecord
		if err := jsonrec.Get(tx, nsTokens, pfxGrant+rr.Grant, &g); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if g.Revoked {
			out.err = oerr(errInvalidGrant, "refresh token revoked")
			return nil
		}
		if ok, err := p.spendable(tx, out, c, rr.Used, rr.Expires, rr.Grant, credRefresh); !ok {
			return err
		}
		scopes := rr.Scopes
		if narrow != nil {
			for _, s := range narrow {
				if !slices.Contains(rr.Scopes, s) {
					out.err = oerr(errInvalidScope, "scope %q was not granted", s)
					return nil
				}
			}
			scopes = narrow
			if !slices.Contains(scopes, ScopeOfflineAccess) {
				scopes = append(scopes, ScopeOfflineAccess) // keep the family alive
			}
		}
		// Scopes the client may no longer have (its configuration changed
		// since sign-in) are dropped; without offline_access the family
		// ends with this refresh.
		scopes = slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return !c.allowsScope(s) })
		rr.Used = true
		if err := jsonrec.Put(tx, nsTokens, key, rr); err != nil {
			return err
		}
		u, ok, err := grantUser(tx, out, rr.Tenant, rr.User)
		if err != nil {
			return err
		}
		if !ok {
			return revokeGrant(tx, rr.Grant, "user inactive or deleted")
		}
		out.grant, out.user, out.scopes, out.authTime = rr.Grant, u, scopes, rr.AuthTime
		out.session, out.amr = rr.Session, rr.AMR
		if g.Client == "" {
			g = grantRecord{Client: c.ID, User: u.ID, Tenant: u.Tenant}
		}
		return p.newTokens(tx, out, c, GrantRefreshToken, g, access, refresh)
	})
}

// clientCredentials implements RFC 6749 §4.4: an access token for the
// client itself, without user, ID token or refresh token.
func (p *Provider) clientCredentials(ctx context.Context, c *ClientConfig, f url.Values) (*tokenResponse, error) {
	if c.Public || !c.allowsGrant(GrantClientCredentials) {
		return nil, oerr(errUnauthorizedClient, "client may not use the client credentials grant")
	}
	var scopes []string
	for _, s := range strings.Fields(f.Get("scope")) {
		if s == ScopeOpenID || s == ScopeOfflineAccess || !c.allowsScope(s) {
			return nil, oerr(errInvalidScope, "scope %q is not available to this client", s)
		}
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	out := issued{grant: randomString(16), scopes: scopes}
	access := accessPrefix + randomString(32)
	err := p.writes.DoAs(ctx, clientActor(c.ID), func(tx store.Tx) error {
		return p.newTokens(tx, &out, c, GrantClientCredentials, grantRecord{Client: c.ID}, access, "")
	})
	if err != nil {
		return nil, err
	}
	return &tokenResponse{AccessToken: out.access, TokenType: "Bearer",
		ExpiresIn: int64(p.cfg.AccessTokenLifetime / time.Second), Scope: strings.Join(scopes, " ")}, nil
}

func (p *Provider) tokenResponse(ctx context.Context, c *ClientConfig, out *issued) (*tokenResponse, error) {
	resp := &tokenResponse{
		AccessToken:  out.access,
		TokenType:    "Bearer",
		ExpiresIn:    int64(p.cfg.AccessTokenLifetime / time.Second),
		RefreshToken: out.refresh,
		Scope:        strings.Join(out.scopes, " "),
	}
	if slices.Contains(out.scopes, ScopeOpenID) {
		idt, err := p.idToken(ctx, c, out)
		if err != nil {
			return nil, err
		}
		resp.IDToken = idt
	}
	return resp, nil
}

// idToken builds and signs an ID token (OIDC Core §2, §3.1.3.6).
func (p *Provider) idToken(ctx context.Context, c *ClientConfig, out *issued) (string, error) {
	now := p.now()
	claims, err := p.userClaims(ctx, out.user, c, out.scopes, true)
	if err != nil {
		return "", err
	}
	claims["iss"] = p.issuer
	claims["sub"] = string(out.user.ID)
	claims["aud"] = c.ID
	claims["azp"] = c.ID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(p.cfg.IDTokenLifetime).Unix()
	claims["auth_time"] = out.authTime.Unix()
	// sid names the browser session (Back-Channel Logout §2.1); codes
	// issued before sessions existed name their grant.
	claims["sid"] = out.grant
	if out.session != "" {
		claims["sid"] = out.session
	}
	if len(out.amr) > 0 {
		claims["amr"] = out.amr
	}
	if out.acr != "" {
		claims["acr"] = out.acr
	}
	if out.nonce != "" {
		claims["nonce"] = out.nonce
	}
	if out.access != "" {
		claims["at_hash"] = atHash(out.access)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	alg := c.IDTokenAlg
	if alg == "" {
		alg = p.cfg.DefaultAlg
	}
	return p.keys.sign(ctx, alg, payload)
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier checks RFC 7636 §4.1: 43 to 128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		ch := v[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			return false
		}
	}
	return true
}
