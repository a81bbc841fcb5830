package oidc

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/store"
)

// discoveryDoc is the provider metadata (OIDC Discovery §3, RFC 8414 §2).
type discoveryDoc struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	ClaimsParameterSupported          bool     `json:"claims_parameter_supported"`
	RequestParameterSupported         bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	AuthorizationResponseISSSupported bool     `json:"authorization_response_iss_parameter_supported"`
	ACRValuesSupported                []string `json:"acr_values_supported"`
	BackchannelLogoutSupported        bool     `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported bool     `json:"backchannel_logout_session_supported"`
}

func (p *Provider) discoveryDocument() ([]byte, error) {
	d := discoveryDoc{
		Issuer:                            p.issuer,
		AuthorizationEndpoint:             p.endpoint("/authorize"),
		TokenEndpoint:                     p.endpoint("/token"),
		UserinfoEndpoint:                  p.endpoint("/userinfo"),
		JWKSURI:                           p.endpoint("/keys"),
		RevocationEndpoint:                p.endpoint("/revoke"),
		IntrospectionEndpoint:             p.endpoint("/introspect"),
		EndSessionEndpoint:                p.endpoint("/logout"),
		ScopesSupported:                   slices.Clone(knownScopes),
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{AlgRS256, AlgES256},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post", "none"},
		RevocationAuthMethodsSupported:    []string{"client_secret_basic", "client_secret_post", "none"},
		IntrospectionAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid", "amr", "acr",
			"name", "given_name", "family_name", "preferred_username", "updated_at", "email", "email_verified",
			ClaimTenant, ClaimGroups, ClaimRoles},
		AuthorizationResponseISSSupported: true,
		ACRValuesSupported:                []string{acrSession, acrFresh},
		BackchannelLogoutSupported:        true,
		BackchannelLogoutSessionSupported: true,
	}
	return json.MarshalIndent(d, "", "  ")
}

func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(p.discovery)
}

// handleLogout implements OpenID Connect RP-Initiated Logout 1.0 §2-§3.
// id_token_hint is verified with the provider's keys (expired tokens are
// accepted, as the spec allows); post_logout_redirect_uri must exactly
// match one the client registered. The session named by the hint's sid
// ends (every token issued in it is revoked and its other clients get
// back-channel logout tokens), and so does the browser's own session when
// it is the hint's user's. Without a hint, a browser with a session is
// asked to confirm (a form with the session's CSRF token).
//
// The request is capped at maxLogoutBytes and each parameter at its
// paramCaps entry (invalid_request otherwise, on a page: an unverified
// address is never redirected to).
func (p *Provider) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !parseLimited(w, r, maxLogoutBytes) {
		p.errorPage(w, http.StatusBadRequest, "The request is malformed or too large (invalid_request).")
		return
	}
	f := r.Form
	if k := overlong(f); k != "" {
		p.errorPage(w, http.StatusBadRequest, "The parameter "+k+" is too long (invalid_request).")
		return
	}
	var hint struct {
		Iss string          `json:"iss"`
		Aud json.RawMessage `json:"aud"`
		Sid string          `json:"sid"`
		Sub string          `json:"sub"`
	}
	clientID := f.Get("client_id")
	if raw := f.Get("id_token_hint"); raw != "" {
		payload, err := p.keys.verify(raw)
		if err == nil {
			err = json.Unmarshal(payload, &hint)
		}
		if err != nil || hint.Iss != p.issuer {
			p.errorPage(w, http.StatusBadRequest, "The sign-out request carries an ID token this site did not issue.")
			return
		}
		var aud string
		if json.Unmarshal(hint.Aud, &aud) != nil {
			var auds []string
			if json.Unmarshal(hint.Aud, &auds) != nil || len(auds) == 0 {
				p.errorPage(w, http.StatusBadRequest, "The sign-out request carries a malformed ID token.")
				return
			}
			aud = auds[0]
		}
		if clientID != "" && clientID != aud {
			p.errorPage(w, http.StatusBadRequest, "The sign-out request names two different applications.")
			return
		}
		clientID = aud
	}
	redirect := f.Get("post_logout_redirect_uri")
	var c *ClientConfig
	if clientID != "" {
		var err error
		if c, err = p.clients.get(r.Context(), clientID); err != nil {
			p.errorPage(w, http.StatusBadRequest, "The application that sent you here is not registered.")
			return
		}
	}
	if redirect != "" && (c == nil || !slices.Contains(c.PostLogoutRedirectURIs, redirect)) {
		p.errorPage(w, http.StatusBadRequest, "The application asked to return to an address it has not registered.")
		return
	}
	cur, curUser, hasCur := p.browserSession(r.Context(), r)
	var end []string
	actor := clientActor("")
	if c != nil {
		actor = clientActor(c.ID)
	}
	if hasCur {
		actor = userActor(curUser.Tenant, curUser.UserName)
	}
	if hint.Sid != "" && c != nil && len(hint.Sid) <= 64 {
		var isSession bool
		err := p.st.View(r.Context(), func(tx store.Tx) error {
			var err error
			isSession, err = sessionAlive(tx, hint.Sid)
			return err
		})
		if err != nil {
			p.pageForError(w, err)
			return
		}
		if isSession {
			end = append(end, hint.Sid)
		} else if err := p.revokeHintGrant(r, c, hint.Sid); err != nil {
			p.pageForError(w, err)
			return
		}
	}
	if hasCur && !slices.Contains(end, cur.ID) {
		switch {
		case hint.Sub != "":
			// The RP vouches, with an ID token we signed, for whom it
			// signs out: this browser's session goes too when it is
			// that user's.
			if hint.Sub == string(curUser.ID) {
				end = append(end, cur.ID)
			}
		case r.Method == http.MethodPost && f.Get("confirm") == "yes" &&
			subtle.ConstantTimeCompare([]byte(f.Get("csrf")), []byte(cur.CSRF)) == 1:
			end = append(end, cur.ID)
		default:
			// Without an ID token anybody's page could sign the member
			// out: ask (RP-Initiated Logout §2, §3).
			name := curUser.DisplayName
			if name == "" {
				name = curUser.UserName
			}
			id := ""
			if c != nil {
				id = c.ID
			}
			p.render(w, http.StatusOK, "logout.html", "Sign out", logoutPage{Name: name, CSRF: cur.CSRF, ClientID: id,
				Redirect: redirect, State: f.Get("state")})
			return
		}
	}
	if len(end) > 0 {
		p.endSessions(r.Context(), actor, "signed out", end...)
	}
	if hasCur && slices.Contains(end, cur.ID) {
		p.setCookie(w, p.sessionCookieName(), "", -1)
	}
	p.setCookie(w, bindingCookie, "", -1)
	if redirect != "" {
		to := redirect
		if s := f.Get("state"); s != "" {
			to = addQuery(redirect, map[string][]string{"state": {s}})
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	p.render(w, http.StatusOK, "loggedout.html", "Signed out", nil)
}

// logoutPage is the data of the sign-out confirmation.
type logoutPage struct {
	Name, CSRF, ClientID, Redirect, State string
}

// revokeHintGrant revokes the grant an ID token of an earlier version
// named as sid (before sessions, sid was the grant).
func (p *Provider) revokeHintGrant(r *http.Request, c *ClientConfig, sid string) error {
	key := pfxGrant + sid
	return p.st.Update(r.Context(), p.actorOf(r.Context(), key, clientActor(c.ID)), func(tx store.Tx) error {
		var g grantRecord
		if err := jsonrec.Get(tx, nsTokens, key, &g); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		if g.Client != c.ID || g.ClientInst != c.Instance {
			return nil
		}
		return revokeGrant(tx, sid, "signed out")
	})
}
