package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/roster-dev/roster/admin"
	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/oidc"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// passwords checks sign-in passwords: against the tenant's LDAP
// directories when it has any, otherwise against local accounts. It
// translates the LDAP package's errors into the OIDC package's, so neither
// imports the other.
type passwords struct {
	dirs  map[policy.TenantID][]*ldap.Source
	local oidc.LocalAccounts
}

var _ oidc.Passwords = (*passwords)(nil)

// CheckPassword implements oidc.Passwords.
func (p *passwords) CheckPassword(ctx context.Context, tenant policy.TenantID, userName, password string) (policy.User, error) {
	srcs := p.dirs[tenant]
	if len(srcs) == 0 {
		return p.local.CheckPassword(ctx, tenant, userName, password)
	}
	var last error
	for _, src := range srcs {
		u, err := src.Authenticate(ctx, userName, password)
		switch {
		case err == nil:
			return u, nil
		case errors.Is(err, ldap.ErrInvalidCredentials):
			// Includes a disabled account whose password was not
			// verified: say no more than "wrong password". Try the
			// tenant's next directory.
			if last == nil {
				last = fmt.Errorf("%w: %v", oidc.ErrBadCredentials, err)
			}
		case errors.Is(err, ldap.ErrAccountDisabled):
			return policy.User{}, fmt.Errorf("%w: %v", oidc.ErrDisabled, err)
		default: // unreachable, service bind refused, not yet synced…
			last = fmt.Errorf("%w: %v", oidc.ErrUnavailable, err)
		}
	}
	return policy.User{}, last
}

// emailVouchers says which directory sources vouch for their users'
// e-mail addresses (OIDC email_verified): an LDAP directory for the
// domains it is authoritative for (ldap[].verifiedEmailDomains), a SCIM
// tenant that verifies addresses (scim.verifiesEmail) for the domains the
// tenant owns. Nobody else: a partner's SCIM client may put any address on
// its users, including a vendor employee's.
type emailVouchers struct {
	ldap map[policy.TenantID]map[string][]string // tenant -> source "ldap:<id>" -> domains
	scim map[policy.TenantID]bool
}

func (s *sections) emailVouchers() emailVouchers {
	v := emailVouchers{ldap: map[policy.TenantID]map[string][]string{}, scim: map[policy.TenantID]bool{}}
	for _, d := range s.directories {
		if v.ldap[d.tenant] == nil {
			v.ldap[d.tenant] = map[string][]string{}
		}
		v.ldap[d.tenant][d.cfg.Source()] = d.cfg.VerifiedEmailDomains
	}
	for t, sc := range s.tenantSCIM {
		v.scim[t] = sc.VerifiesEmail
	}
	return v
}

// verified implements oidc.EmailVerifier.
func (v emailVouchers) verified(u policy.User, t policy.Tenant, addr string) bool {
	if u.Tenant != t.ID {
		return false
	}
	if strings.HasPrefix(u.Source, "ldap:") {
		return policy.InDomains(addr, v.ldap[t.ID][u.Source]) && policy.InDomains(addr, t.Domains)
	}
	return u.Source == "scim:"+string(t.ID) && v.scim[t.ID] && policy.InDomains(addr, t.Domains)
}

var _ oidc.EmailVerifier = emailVouchers{}.verified

// accessTokens adapts the OIDC provider's verifier to the admin API: it
// accepts tokens of the clients named in admin.clients only.
type accessTokens struct {
	p       *oidc.Provider
	clients []string
}

// errWrongAudience: the token was issued to a client the admin API does
// not accept.
var errWrongAudience = errors.New("access token of a client the admin API does not accept")

// VerifyAccessToken implements admin.AccessTokenVerifier.
func (a accessTokens) VerifyAccessToken(ctx context.Context, tok string) (admin.AccessToken, error) {
	info, err := a.p.VerifyAccessToken(ctx, tok)
	if err != nil {
		return admin.AccessToken{}, err
	}
	if !slices.Contains(a.clients, info.Client) {
		return admin.AccessToken{}, errWrongAudience
	}
	return admin.AccessToken{User: info.User, Tenant: info.Tenant}, nil
}

func (a *app) wireOIDC(ctx context.Context, p *protocolSet) error {
	sec, clients, upstreams := a.sections.oidc, a.sections.clients, a.sections.upstreams
	pw := &passwords{dirs: map[policy.TenantID][]*ldap.Source{}, local: oidc.LocalAccounts{Store: a.store}}
	keys := make([]string, 0, len(a.directories))
	for k := range a.directories {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t, _, _ := strings.Cut(k, "/")
		pw.dirs[policy.TenantID(t)] = append(pw.dirs[policy.TenantID(t)], a.directories[k])
	}
	for i, t := range a.cfg.Tenants {
		field := fmt.Sprintf("tenants[%d].localAccounts", i)
		if err := a.seedLocalAccounts(ctx, policy.TenantID(t.ID), field, a.sections.accounts[policy.TenantID(t.ID)]); err != nil {
			return err
		}
	}
	prov, err := oidc.New(oidc.Config{
		Logger:               a.log.With("component", "oidc"),
		Issuer:               a.cfg.Issuer,
		Store:                a.store,
		Engine:               a.engine,
		Passwords:            pw,
		SharedSignIns:        a.cfg.Store.Postgres != nil, // replicas: a sign-in may move between them
		Clients:              clients,
		Upstreams:            upstreams,
		IDTokenLifetime:      sec.IDTokenLifetime.D(),
		AccessTokenLifetime:  sec.AccessTokenLifetime.D(),
		RefreshTokenLifetime: sec.RefreshTokenLifetime.D(),
		KeyRotation:          sec.KeyRotation.D(),
		DefaultAlg:           sec.DefaultAlg,
		MaxGroupsInToken:     sec.MaxGroupsInToken,
		TrustForwardedFor:    sec.TrustForwardedFor,
		EmailVerified:        a.sections.emailVouchers().verified,
		Session:              oidc.SessionConfig{Idle: sec.Session.Idle.D(), Absolute: sec.Session.Absolute.D()},
		AccountRate:          sec.RateLimit.Account.limit(),
		AddressRate:          sec.RateLimit.Address.limit(),
		DeviceLifetime:       sec.RateLimit.DeviceLifetime.D(),
		UI:                   oidc.UI{Title: a.cfg.UI.Title, LogoURL: a.cfg.UI.LogoURL, PrimaryColor: a.cfg.UI.PrimaryColor},
	})
	if err != nil {
		return fmt.Errorf("oidc: %w", err)
	}
	a.oidc = prov
	if len(a.cfg.Admin.Clients) > 0 {
		p.accessTokens = accessTokens{p: prov, clients: a.cfg.Admin.Clients}
	}
	p.handlers = append(p.handlers, mounted{pattern: "/", component: "oidc", handler: prov})
	// Key rotation, expiry sweeps and the sessions of deactivated users
	// are handled by one replica (lease.go); every replica reloads the
	// keys another one rotated (keyReload, PostgreSQL only).
	a.jobs = append(a.jobs, a.leased("oidc-maintenance", func(ctx context.Context) {
		if err := prov.Run(ctx, 0); err != nil && ctx.Err() == nil {
			a.log.Error("oidc maintenance stopped", "err", err)
		}
	}))
	if a.syncer != nil {
		a.jobs = append(a.jobs, a.keyReload(prov))
	}
	p.adminExtensions = append(p.adminExtensions,
		admin.Extension{Pattern: "GET /clients", Permission: admin.PermClients, Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			cs, err := prov.ListClients(r.Context())
			if cs == nil {
				cs = []oidc.Client{}
			}
			return http.StatusOK, map[string]any{"items": cs}, err
		}},
		admin.Extension{Pattern: "POST /clients", Permission: admin.PermClients, Handle: func(r *http.Request, body admin.Body) (int, any, error) {
			var in oidc.ClientConfig
			if err := body(&in); err != nil {
				return 0, nil, err
			}
			c, secret, err := prov.CreateClient(r.Context(), in)
			if err != nil {
				return 0, nil, oidcAdminErr(err)
			}
			return http.StatusCreated, map[string]any{"client": c, "secret": secret}, nil
		}},
		admin.Extension{Pattern: "DELETE /clients/{id}", Permission: admin.PermClients, Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			return 0, nil, oidcAdminErr(prov.DeleteClient(r.Context(), r.PathValue("id")))
		}},
		admin.Extension{Pattern: "GET /tenants/{tenant}/users/{user}/sessions", Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			u, err := a.sessionUser(r)
			if err != nil {
				return 0, nil, err
			}
			ss, err := prov.Sessions(r.Context(), u.Tenant, u.ID)
			return http.StatusOK, map[string]any{"items": ss}, err
		}},
		admin.Extension{Pattern: "DELETE /tenants/{tenant}/users/{user}/sessions/{id}", Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			return a.revokeSessions(r, prov, r.PathValue("id"))
		}},
		admin.Extension{Pattern: "DELETE /tenants/{tenant}/users/{user}/sessions", Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			return a.revokeSessions(r, prov, "")
		}},
		admin.Extension{Pattern: "PUT /tenants/{tenant}/local-accounts/{userName}", Handle: func(r *http.Request, body admin.Body) (int, any, error) {
			var in struct {
				Password string `json:"password"`
			}
			if err := body(&in); err != nil {
				return 0, nil, err
			}
			if len(in.Password) < 8 {
				return 0, nil, &admin.Error{Status: http.StatusBadRequest, Code: "bad_request", Message: "password must have at least 8 characters"}
			}
			return 0, nil, oidc.SetLocalPassword(r.Context(), a.store, policy.TenantID(r.PathValue("tenant")), r.PathValue("userName"), in.Password)
		}},
	)
	return nil
}

// seedLocalAccounts creates the local users of tenants[].localAccounts that
// do not exist yet and sets their passwords (bcrypt-hashed by package oidc).
func (a *app) seedLocalAccounts(ctx context.Context, tenant policy.TenantID, field string, accounts []localAccount) error {
	for j, acc := range accounts {
		f := fmt.Sprintf("%s[%d]", field, j)
		err := a.store.Update(ctx, "config", func(tx store.Tx) error {
			_, err := tx.UserByUserName(tenant, acc.UserName)
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			u := policy.User{Tenant: tenant, UserName: acc.UserName, DisplayName: acc.DisplayName, Active: true, Source: "local"}
			if acc.Email != "" {
				u.Emails = []policy.Email{{Value: acc.Email, Primary: true}}
			}
			_, err = tx.CreateUser(tenant, u)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := oidc.SetLocalPassword(ctx, a.store, tenant, acc.UserName, acc.Password); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}

// sessionUser resolves the {tenant}/{user} of a sessions route: a user id
// or a user name.
func (a *app) sessionUser(r *http.Request) (policy.User, error) {
	tenant := policy.TenantID(r.PathValue("tenant"))
	ref := r.PathValue("user")
	var u policy.User
	err := a.store.View(r.Context(), func(tx store.Tx) error {
		var err error
		u, err = tx.User(tenant, policy.UserID(ref))
		if errors.Is(err, store.ErrNotFound) {
			u, err = tx.UserByUserName(tenant, ref)
		}
		return err
	})
	return u, err
}

// revokeSessions ends one session of the user (id) or all of them; the
// sessions' clients receive back-channel logout tokens.
func (a *app) revokeSessions(r *http.Request, prov *oidc.Provider, id string) (int, any, error) {
	u, err := a.sessionUser(r)
	if err != nil {
		return 0, nil, err
	}
	n, err := prov.RevokeSession(r.Context(), u.Tenant, u.ID, id)
	if errors.Is(err, oidc.ErrSessionNotFound) {
		return 0, nil, &admin.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such session of this user"}
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]int{"revoked": n}, nil
}
