package main

import (
	"fmt"

	"github.com/roster-dev/roster/config"
	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/oidc"
	"github.com/roster-dev/roster/outbound"
	"github.com/roster-dev/roster/policy"
)

// scimSection is the top-level `scim:` section.
type scimSection struct {
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	MaxResults   int   `yaml:"maxResults"`
	// Bulk bounds a /Bulk request (maxOperations, maxPayloadSize); zero
	// values take the scim package's defaults.
	Bulk struct {
		MaxOperations  int   `yaml:"maxOperations"`
		MaxPayloadSize int64 `yaml:"maxPayloadSize"`
	} `yaml:"bulk"`
	// Admission bounds the expensive SCIM requests (unindexed filters,
	// deep pages, full listings) running at once; beyond it they get 429
	// with Retry-After. Zero values take admission's defaults.
	Admission struct {
		Global     int             `yaml:"global"`
		PerTenant  int             `yaml:"perTenant"`
		RetryAfter config.Duration `yaml:"retryAfter"`
	} `yaml:"admission"`
}

// tenantSCIM is a tenant's `scim:` section.
type tenantSCIM struct {
	Tokens []string `yaml:"tokens"`
	// VerifiesEmail: the tenant verifies the addresses its SCIM client
	// pushes, so those inside the tenant's own domains are reported as
	// verified (email_verified); others never are.
	VerifiesEmail bool `yaml:"verifiesEmail"`
	// Extensions are the tenant's custom schema extensions, served at
	// /Schemas and accepted, stored and returned under their URN.
	Extensions []scimExtension `yaml:"extensions"`
}

// scimExtension is one entry of `tenants[].scim.extensions`.
type scimExtension struct {
	URN          string          `yaml:"urn"`
	ResourceType string          `yaml:"resourceType"`
	Description  string          `yaml:"description"`
	Attributes   []scimAttribute `yaml:"attributes"`
}

// scimAttribute is an attribute of a scimExtension (RFC 7643 §7).
type scimAttribute struct {
	Name          string          `yaml:"name"`
	Type          string          `yaml:"type"`
	MultiValued   bool            `yaml:"multiValued"`
	Mutability    string          `yaml:"mutability"`
	Returned      string          `yaml:"returned"`
	CaseExact     bool            `yaml:"caseExact"`
	Description   string          `yaml:"description"`
	SubAttributes []scimAttribute `yaml:"subAttributes"`
}

// oidcSection is the top-level `oidc:` section.
type oidcSection struct {
	IDTokenLifetime      config.Duration `yaml:"idTokenLifetime"`
	AccessTokenLifetime  config.Duration `yaml:"accessTokenLifetime"`
	RefreshTokenLifetime config.Duration `yaml:"refreshTokenLifetime"`
	KeyRotation          config.Duration `yaml:"keyRotation"`
	DefaultAlg           string          `yaml:"defaultAlg"`
	MaxGroupsInToken     int             `yaml:"maxGroupsInToken"`
	TrustForwardedFor    bool            `yaml:"trustForwardedFor"`
	// Session bounds browser sessions at the provider.
	Session struct {
		Idle     config.Duration `yaml:"idle"`
		Absolute config.Duration `yaml:"absolute"`
	} `yaml:"session"`
	// RateLimit counts failed password attempts.
	RateLimit struct {
		Account        rateLimitSection `yaml:"account"`
		Address        rateLimitSection `yaml:"address"`
		DeviceLifetime config.Duration  `yaml:"deviceLifetime"`
	} `yaml:"rateLimit"`
}

// rateLimitSection is a token bucket: burst failures at once, one more
// every `every`.
type rateLimitSection struct {
	Burst int             `yaml:"burst"`
	Every config.Duration `yaml:"every"`
}

func (r rateLimitSection) limit() oidc.RateLimit {
	return oidc.RateLimit{Burst: r.Burst, Every: r.Every.D()}
}

// localAccount is one entry of tenants[].localAccounts: a password for an
// existing user, or for a new local user created at start.
type localAccount struct {
	UserName    string `yaml:"userName"`
	Password    string `yaml:"password"`
	DisplayName string `yaml:"displayName"`
	Email       string `yaml:"email"`
}

// directory is one tenants[].ldap[] entry with the field it came from.
type directory struct {
	tenant policy.TenantID
	field  string
	cfg    ldap.DirectoryConfig
}

// sections are the protocol sections of the configuration, decoded and
// checked before anything is opened, so a mistake in any of them stops
// Roster before it touches the store.
type sections struct {
	scim        scimSection
	tenantSCIM  map[policy.TenantID]tenantSCIM
	directories []directory
	oidc        oidcSection
	clients     []oidc.ClientConfig
	upstreams   map[policy.TenantID]oidc.UpstreamConfig
	accounts    map[policy.TenantID][]localAccount
	outbound    []outbound.TargetConfig
	outboundKey []byte // outbound.secretKey: encrypts the secrets of targets made through the admin API
}

// decodeSections decodes and validates every protocol section of cfg.
func decodeSections(cfg *config.Config) (*sections, error) {
	s := &sections{
		tenantSCIM: map[policy.TenantID]tenantSCIM{},
		upstreams:  map[policy.TenantID]oidc.UpstreamConfig{},
		accounts:   map[policy.TenantID][]localAccount{},
	}
	if err := config.Section(cfg.SCIM, "scim", &s.scim); err != nil {
		return nil, err
	}
	if err := decodeOutbound(cfg, s); err != nil { // outbound.go
		return nil, err
	}
	if s.scim.MaxBodyBytes < 0 || s.scim.MaxResults < 0 || s.scim.Bulk.MaxOperations < 0 || s.scim.Bulk.MaxPayloadSize < 0 {
		return nil, &config.Error{Field: "scim", Msg: "maxBodyBytes, maxResults and bulk limits must not be negative"}
	}
	if a := s.scim.Admission; a.Global < 0 || a.PerTenant < 0 || a.RetryAfter < 0 {
		return nil, &config.Error{Field: "scim.admission", Msg: "global, perTenant and retryAfter must not be negative"}
	}
	if err := config.Section(cfg.OIDC, "oidc", &s.oidc); err != nil {
		return nil, err
	}
	if o := s.oidc; o.Session.Idle < 0 || o.Session.Absolute < 0 || (o.Session.Idle > 0 && o.Session.Absolute > 0 && o.Session.Idle > o.Session.Absolute) {
		return nil, &config.Error{Field: "oidc.session", Msg: "idle and absolute must be positive, idle at most absolute"}
	}
	if rl := s.oidc.RateLimit; rl.Account.Burst < 0 || rl.Address.Burst < 0 || rl.Account.Every < 0 || rl.Address.Every < 0 || rl.DeviceLifetime < 0 {
		return nil, &config.Error{Field: "oidc.rateLimit", Msg: "burst, every and deviceLifetime must not be negative"}
	}
	if err := config.Section(cfg.Clients, "clients", &s.clients); err != nil {
		return nil, err
	}
	for i, t := range cfg.Tenants {
		id := policy.TenantID(t.ID)
		var ts tenantSCIM
		if err := config.Section(t.SCIM, fmt.Sprintf("tenants[%d].scim", i), &ts); err != nil {
			return nil, err
		}
		for j, tok := range ts.Tokens {
			if len(tok) < 16 {
				return nil, &config.Error{Field: fmt.Sprintf("tenants[%d].scim.tokens[%d]", i, j), Msg: "must be at least 16 characters"}
			}
		}
		s.tenantSCIM[id] = ts

		var dirs []ldap.DirectoryConfig
		field := fmt.Sprintf("tenants[%d].ldap", i)
		if err := config.Section(t.LDAP, field, &dirs); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for j, d := range dirs {
			f := fmt.Sprintf("%s[%d]", field, j)
			if err := d.Validate(); err != nil {
				return nil, &config.Error{Field: f, Msg: err.Error()}
			}
			if seen[d.ID] {
				return nil, &config.Error{Field: f + ".id", Msg: "duplicate directory " + d.ID}
			}
			for k, dom := range d.VerifiedEmailDomains {
				// A directory vouches only for addresses its tenant owns.
				if !policy.InDomains("x@"+dom, t.Domains) {
					return nil, &config.Error{Field: fmt.Sprintf("%s.verifiedEmailDomains[%d]", f, k),
						Msg: fmt.Sprintf("%q is not within the tenant's domains", dom)}
				}
			}
			seen[d.ID] = true
			s.directories = append(s.directories, directory{tenant: id, field: f, cfg: d})
		}

		var up oidc.UpstreamConfig
		field = fmt.Sprintf("tenants[%d].upstream", i)
		if err := config.Section(t.Upstream, field, &up); err != nil {
			return nil, err
		}
		switch {
		case up.Issuer != "" && up.ClientID == "":
			return nil, &config.Error{Field: field + ".clientID", Msg: "required"}
		case up.Issuer == "" && (up.ClientID != "" || up.ClientSecret != "" || len(up.Scopes) > 0 || up.UserNameClaim != "" || up.CreateUsers):
			return nil, &config.Error{Field: field + ".issuer", Msg: "required"}
		case up.Issuer != "":
			s.upstreams[id] = up
		}

		var accounts []localAccount
		field = fmt.Sprintf("tenants[%d].localAccounts", i)
		if err := config.Section(t.LocalAccounts, field, &accounts); err != nil {
			return nil, err
		}
		for j, acc := range accounts {
			f := fmt.Sprintf("%s[%d]", field, j)
			if acc.UserName == "" {
				return nil, &config.Error{Field: f + ".userName", Msg: "required"}
			}
			if len(acc.Password) < 8 {
				return nil, &config.Error{Field: f + ".password", Msg: "must have at least 8 characters"}
			}
		}
		s.accounts[id] = accounts
	}
	return s, nil
}
