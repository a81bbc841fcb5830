package oidc

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

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
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid",
			"name", "given_name", "family_name", "preferred_username", "updated_at", "email", "email_verified",
			ClaimTenant, ClaimGroups, ClaimRoles},
		AuthorizationResponseISSSupported: true,
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
// match one the client registered. The grant named by the hint's sid
// (every token of that sign-in) is revoked.
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
	if hint.Sid != "" && c != nil && len(hint.Sid) <= 64 {
		key := pfxGrant + hint.Sid
		err := p.st.Update(r.Context(), p.actorOf(r.Context(), key, clientActor(c.ID)), func(tx store.Tx) error {
			var g grantRecord
			if err := getJSON(tx, key, &g); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return nil
				}
				return err
			}
			if g.Client != c.ID || g.ClientInst != c.Instance {
				return nil
			}
			return revokeGrant(tx, hint.Sid, "signed out")
		})
		if err != nil {
			p.pageForError(w, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: bindingCookie, Value: "", Path: p.cookiePath(), MaxAge: -1,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
	if redirect != "" {
		to := redirect
		if s := f.Get("state"); s != "" {
			to = addQuery(redirect, map[string][]string{"state": {s}})
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	setPageHeaders(w)
	pages.ExecuteTemplate(w, "loggedout", nil)
}
