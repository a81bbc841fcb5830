package main

import (
	"context"
	"net/http"
	"time"

	"github.com/roster-dev/roster/admin"
	"github.com/roster-dev/roster/admission"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/scim"
	"github.com/roster-dev/roster/store"
)

// mounted is one protocol handler and the pattern it serves.
type mounted struct {
	pattern   string
	component string
	handler   http.Handler
}

// protocolSet is what the protocol packages add to the server.
type protocolSet struct {
	handlers        []mounted
	adminExtensions []admin.Extension
	accessTokens    admin.AccessTokenVerifier
}

// protocols builds the SCIM, LDAP and OIDC components from the
// configuration.
func (a *app) protocols(ctx context.Context) (protocolSet, error) {
	var p protocolSet
	if err := a.wireSCIM(&p); err != nil {
		return p, err
	}
	if err := a.wireLDAP(&p); err != nil {
		return p, err
	}
	if err := a.wireOIDC(ctx, &p); err != nil {
		return p, err
	}
	return p, nil
}

func scimAttributes(in []scimAttribute) []scim.ExtensionAttribute {
	var out []scim.ExtensionAttribute
	for _, a := range in {
		out = append(out, scim.ExtensionAttribute{
			Name: a.Name, Type: a.Type, MultiValued: a.MultiValued, Mutability: a.Mutability,
			Returned: a.Returned, CaseExact: a.CaseExact, Description: a.Description,
			SubAttributes: scimAttributes(a.SubAttributes),
		})
	}
	return out
}

func (a *app) wireSCIM(p *protocolSet) error {
	sec := a.sections.scim
	tenants := map[policy.TenantID]scim.TenantConfig{}
	for id, ts := range a.sections.tenantSCIM {
		tc := scim.TenantConfig{Tokens: ts.Tokens}
		for _, e := range ts.Extensions {
			tc.Extensions = append(tc.Extensions, scim.Extension{
				URN: e.URN, ResourceType: e.ResourceType, Description: e.Description,
				Attributes: scimAttributes(e.Attributes),
			})
		}
		tenants[id] = tc
	}
	srv, err := scim.New(scim.Config{
		Logger:            a.log.With("component", "scim"),
		Store:             a.store,
		BaseURL:           a.cfg.Issuer,
		Tenants:           tenants,
		MaxBodyBytes:      sec.MaxBodyBytes,
		MaxResults:        sec.MaxResults,
		BulkMaxOperations: sec.Bulk.MaxOperations,
		BulkMaxBytes:      sec.Bulk.MaxPayloadSize,
		Admission: admission.New(admission.Config{
			Global:     sec.Admission.Global,
			PerKey:     sec.Admission.PerTenant,
			RetryAfter: time.Duration(sec.Admission.RetryAfter),
		}),
	})
	if err != nil {
		return err
	}
	p.handlers = append(p.handlers, mounted{pattern: "/scim/v2/", component: "scim", handler: srv})
	p.adminExtensions = append(p.adminExtensions,
		admin.Extension{Pattern: "POST /tenants/{tenant}/scim-tokens", Permission: admin.PermTenants, Handle: func(r *http.Request, body admin.Body) (int, any, error) {
			var in struct {
				Name string `json:"name"`
			}
			if err := body(&in); err != nil {
				return 0, nil, err
			}
			tenant := policy.TenantID(r.PathValue("tenant"))
			if err := a.store.View(r.Context(), func(tx store.Tx) error { _, err := tx.Tenant(tenant); return err }); err != nil {
				return 0, nil, err
			}
			tok, err := srv.CreateToken(r.Context(), tenant, in.Name)
			if err != nil {
				return 0, nil, err
			}
			return http.StatusCreated, map[string]string{"name": in.Name, "token": tok}, nil
		}},
		admin.Extension{Pattern: "GET /tenants/{tenant}/scim-tokens", Permission: admin.PermTenants, Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			ts, err := scim.ListTokens(r.Context(), a.store, policy.TenantID(r.PathValue("tenant")))
			if ts == nil {
				ts = []scim.TokenInfo{}
			}
			return http.StatusOK, map[string]any{"items": ts}, err
		}},
		admin.Extension{Pattern: "DELETE /tenants/{tenant}/scim-tokens/{name}", Permission: admin.PermTenants, Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			return 0, nil, scim.RevokeToken(r.Context(), a.store, policy.TenantID(r.PathValue("tenant")), r.PathValue("name"))
		}},
	)
	return nil
}
