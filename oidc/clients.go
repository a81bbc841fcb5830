package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Scopes a client may be allowed (OIDC Core §5.4, §11; "groups" and "roles"
// are Roster's).
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeGroups        = "groups"
	ScopeRoles         = "roles"
	ScopeOfflineAccess = "offline_access"
)

var knownScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeGroups, ScopeRoles, ScopeOfflineAccess}

// Grant types (RFC 6749 §4).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// GroupFilter selects which of a user's groups reach a client's tokens.
// The zero value selects all groups.
type GroupFilter struct {
	// Root, a group slug: only that group and its descendants.
	Root string `yaml:"root" json:"root,omitempty"`
	// Kinds: only groups of these kinds.
	Kinds []policy.GroupKind `yaml:"kinds" json:"kinds,omitempty"`
}

// Group claim formats.
const (
	GroupClaimSlug = "slug"
	GroupClaimID   = "id"
)

// ClientConfig defines a relying party (OIDC Core §2 "Client"). In YAML:
//
//	clients:
//	  - id: wiki
//	    name: Group wiki
//	    secretHash: 9f86d08…   # hex SHA-256 of the secret (or secret: …)
//	    redirectURIs: [https://wiki.example.com/callback]
//	    postLogoutRedirectURIs: [https://wiki.example.com/]
//	    scopes: [openid, profile, email, groups, roles, offline_access]
//	    groups: {root: isug, kinds: [local, regional]}
//	    groupClaim: slug
//	    maxGroups: 50
//	    idTokenAlg: ES256
//	    backchannelLogoutURI: https://wiki.example.com/backchannel-logout
//	    pkce: required          # default; "optional" for a confidential client that cannot send one
//	    resourceServer: false   # true: may introspect other clients' access tokens
type ClientConfig struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name,omitempty"`
	// Secret is the client secret in clear (configuration only; use a
	// long random value). It is hashed on load and never stored.
	Secret string `yaml:"secret" json:"-"`
	// SecretHash is the hex SHA-256 of the secret.
	SecretHash string `yaml:"secretHash" json:"secretHash,omitempty"`
	// Public clients have no secret and must use PKCE (RFC 7636).
	Public bool `yaml:"public" json:"public,omitempty"`
	// PKCE is "required" (the default, RFC 9700 §2.1.1: every
	// authorization request carries an S256 code_challenge) or
	// "optional", which only a confidential client may choose.
	PKCE string `yaml:"pkce" json:"pkce,omitempty"`
	// ResourceServer lets the client introspect access tokens issued to
	// other clients (RFC 7662 §2.1); any other client learns only about
	// its own tokens.
	ResourceServer bool `yaml:"resourceServer" json:"resourceServer,omitempty"`
	// RedirectURIs are matched exactly (RFC 9700 §4.1.3). Each is https,
	// http on a loopback address (RFC 8252 §7.3), or a private-use
	// scheme containing a dot (RFC 8252 §7.1, "com.example.app:/cb");
	// when the issuer itself is plain http (development), http on the
	// issuer's origin too.
	RedirectURIs []string `yaml:"redirectURIs" json:"redirectURIs,omitempty"`
	// PostLogoutRedirectURIs are matched exactly (RP-initiated logout
	// §3) and follow the rules of RedirectURIs.
	PostLogoutRedirectURIs []string `yaml:"postLogoutRedirectURIs" json:"postLogoutRedirectURIs,omitempty"`
	// BackchannelLogoutURI receives a signed logout token when a browser
	// session in which the client got a code ends (OpenID Connect
	// Back-Channel Logout 1.0 §2.2): https, or http on a loopback
	// address or the development issuer's origin.
	BackchannelLogoutURI string `yaml:"backchannelLogoutURI" json:"backchannelLogoutURI,omitempty"`
	// Scopes the client may request; default openid profile email groups
	// roles offline_access.
	Scopes []string `yaml:"scopes" json:"scopes,omitempty"`
	// GrantTypes the client may use; default authorization_code and
	// refresh_token. client_credentials needs a confidential client.
	GrantTypes []string `yaml:"grantTypes" json:"grantTypes,omitempty"`
	// Groups filters the groups in the client's tokens.
	Groups GroupFilter `yaml:"groups" json:"groups,omitzero"`
	// GroupClaim is "slug" (default) or "id".
	GroupClaim string `yaml:"groupClaim" json:"groupClaim,omitempty"`
	// MaxGroups overrides Config.MaxGroupsInToken for this client.
	MaxGroups int `yaml:"maxGroups" json:"maxGroups,omitempty"`
	// IDTokenAlg is "RS256" or "ES256"; default Config.DefaultAlg
	// (id_token_signed_response_alg, OIDC Registration §2).
	IDTokenAlg string `yaml:"idTokenAlg" json:"idTokenAlg,omitempty"`
	// Created is set by CreateClient.
	Created time.Time `yaml:"-" json:"created,omitzero"`
	// Instance is a random value set by CreateClient and kept in every
	// code and token of the client: a client created again with the id
	// of a deleted one does not inherit its tokens. Empty for clients
	// from configuration.
	Instance string `yaml:"-" json:"instance,omitempty"`
}

// PKCE settings of a client.
const (
	PKCERequired = "required"
	PKCEOptional = "optional"
)

func (c *ClientConfig) pkceRequired() bool { return c.Public || c.PKCE != PKCEOptional }

// Client is a registered client as listed by ListClients: its definition
// without secrets, and whether it comes from configuration.
type Client struct {
	ClientConfig
	FromConfig bool `json:"fromConfig"`
}

// normalize validates c and fills defaults. It hashes Secret into
// SecretHash and clears Secret. devOrigin is the issuer's origin when the
// issuer is plain http, else "".
func (c *ClientConfig) normalize(devOrigin string) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: client %q: %s", ErrInvalidClient, c.ID, fmt.Sprintf(format, a...))
	}
	if c.ID == "" {
		return bad("id is required")
	}
	if c.Secret != "" {
		c.SecretHash = hashSecret(c.Secret)
		c.Secret = ""
	}
	if c.Public && c.SecretHash != "" {
		return bad("a public client has no secret")
	}
	if !c.Public {
		if b, err := hex.DecodeString(c.SecretHash); err != nil || len(b) != sha256.Size {
			return bad("a confidential client needs a secret (secretHash is hex SHA-256)")
		}
	}
	if len(c.Scopes) == 0 {
		c.Scopes = slices.Clone(knownScopes)
	}
	for _, s := range c.Scopes {
		if !slices.Contains(knownScopes, s) {
			return bad("unknown scope %q", s)
		}
	}
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	for _, g := range c.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken:
		case GrantClientCredentials:
			if c.Public {
				return bad("client_credentials needs a confidential client")
			}
		default:
			return bad("unknown grant type %q", g)
		}
	}
	if slices.Contains(c.GrantTypes, GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return bad("redirectURIs are required for authorization_code")
	}
	for _, u := range append(slices.Clone(c.RedirectURIs), c.PostLogoutRedirectURIs...) {
		if err := checkRedirectURI(u, devOrigin); err != nil {
			return bad("redirect URI %q: %v", u, err)
		}
	}
	if u := c.BackchannelLogoutURI; u != "" {
		pu, err := url.Parse(u)
		switch {
		case err != nil:
		case pu.Scheme == "http" && devOrigin == "":
			// Roster itself posts there: http (a loopback service of
			// the server's own) only for a plain-http development
			// issuer.
			err = errors.New("must be https")
		case pu.Scheme != "https" && pu.Scheme != "http":
			err = errors.New("must be http(s)")
		}
		if err == nil {
			err = checkRedirectURI(u, devOrigin)
		}
		if err != nil {
			return bad("backchannelLogoutURI %q: %v", u, err)
		}
	}
	switch c.PKCE {
	case "":
		c.PKCE = PKCERequired
	case PKCERequired:
	case PKCEOptional:
		if c.Public {
			return bad("a public client must use PKCE (pkce: optional is for confidential clients)")
		}
	default:
		return bad("pkce %q: want required or optional", c.PKCE)
	}
	switch c.GroupClaim {
	case "":
		c.GroupClaim = GroupClaimSlug
	case GroupClaimSlug, GroupClaimID:
	default:
		return bad("groupClaim %q: want slug or id", c.GroupClaim)
	}
	switch c.IDTokenAlg {
	case "", AlgRS256, AlgES256:
	default:
		return bad("idTokenAlg %q: want RS256 or ES256", c.IDTokenAlg)
	}
	if c.MaxGroups < 0 {
		return bad("maxGroups must not be negative")
	}
	return nil
}

// checkRedirectURI checks a redirect URI a client registers: absolute,
// without fragment (RFC 6749 §3.1.2), and with a scheme that cannot run
// code in the browser or leak the code in clear text off the machine:
// https; http on a loopback address (RFC 8252 §7.3) or on devOrigin; a
// private-use scheme of reverse-domain form (RFC 8252 §7.1). javascript:,
// data:, file:, vbscript: and any other scheme are refused.
func checkRedirectURI(u, devOrigin string) error {
	pu, err := url.Parse(u)
	// An empty fragment ("…/cb#") parses as none but would still put
	// the appended code and state into a fragment.
	if err != nil || !pu.IsAbs() || strings.Contains(u, "#") {
		return errors.New("must be absolute without fragment")
	}
	switch scheme := strings.ToLower(pu.Scheme); scheme {
	case "https":
		if pu.Host == "" {
			return errors.New("https needs a host")
		}
	case "http":
		h := pu.Hostname()
		if a, err := netip.ParseAddr(h); (err == nil && a.IsLoopback()) || strings.EqualFold(h, "localhost") {
			return nil
		}
		if devOrigin != "" && strings.EqualFold("http://"+pu.Host, devOrigin) {
			return nil
		}
		return errors.New("http only on a loopback address (127.0.0.1, [::1]); use https")
	case "javascript", "data", "file", "vbscript", "blob", "about", "filesystem":
		return fmt.Errorf("scheme %s is not allowed", scheme)
	default:
		if !strings.Contains(scheme, ".") {
			return fmt.Errorf("scheme %s is not allowed: use https, or a private-use scheme such as com.example.app (RFC 8252 §7.1)", scheme)
		}
	}
	return nil
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// checkSecret compares a presented secret with the stored hash in
// constant time.
func (c *ClientConfig) checkSecret(secret string) bool {
	if c.Public || c.SecretHash == "" {
		return false
	}
	want, err := hex.DecodeString(c.SecretHash)
	if err != nil {
		return false
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(want, got[:]) == 1
}

func (c *ClientConfig) allowsScope(s string) bool { return slices.Contains(c.Scopes, s) }
func (c *ClientConfig) allowsGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// clientRegistry resolves clients: configuration first, then the store
// (cached).
type clientRegistry struct {
	st     store.Store
	config map[string]*ClientConfig

	mu    sync.RWMutex
	cache map[string]*ClientConfig
	// gen counts invalidations: a load that raced with one is not cached.
	gen uint64
}

func newClientRegistry(st store.Store, cs []ClientConfig, devOrigin string) (*clientRegistry, error) {
	r := &clientRegistry{st: st, config: map[string]*ClientConfig{}, cache: map[string]*ClientConfig{}}
	for _, c := range cs {
		c := c
		c.RedirectURIs = slices.Clone(c.RedirectURIs)
		c.Instance = ""
		if err := c.normalize(devOrigin); err != nil {
			return nil, err
		}
		if _, dup := r.config[c.ID]; dup {
			return nil, fmt.Errorf("%w: duplicate client id %q", ErrInvalidClient, c.ID)
		}
		r.config[c.ID] = &c
	}
	return r, nil
}

func (r *clientRegistry) get(ctx context.Context, id string) (*ClientConfig, error) {
	if c, ok := r.config[id]; ok {
		return c, nil
	}
	r.mu.RLock()
	c, ok := r.cache[id]
	gen := r.gen
	r.mu.RUnlock()
	if ok {
		return c, nil
	}
	var raw []byte
	err := r.st.View(ctx, func(tx store.Tx) error {
		var err error
		raw, err = tx.GetRecord(nsClients, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrClientNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("oidc: loading client: %w", err)
	}
	c = new(ClientConfig)
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("oidc: decoding client %q: %w", id, err)
	}
	r.mu.Lock()
	if r.gen == gen {
		r.cache[id] = c
	}
	r.mu.Unlock()
	return c, nil
}

// forget drops a client from the cache after a change in the store.
func (r *clientRegistry) forget(id string) {
	r.mu.Lock()
	delete(r.cache, id)
	r.gen++
	r.mu.Unlock()
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateClient registers a client in the store, for the admin API. An empty
// ID gets a random one. For a confidential client a random 256-bit secret
// is generated and returned once; only its SHA-256 is kept. Secret and
// SecretHash of c are ignored. It fails wrapping ErrInvalidClient when the
// definition is invalid, store.ErrExists when the id is taken.
func (p *Provider) CreateClient(ctx context.Context, c ClientConfig) (Client, string, error) {
	if c.ID == "" {
		c.ID = randomString(12)
	}
	if _, ok := p.clients.config[c.ID]; ok {
		return Client{}, "", fmt.Errorf("oidc: client %q: %w", c.ID, store.ErrExists)
	}
	secret := ""
	c.Secret, c.SecretHash = "", ""
	if !c.Public {
		secret = randomString(32)
		c.Secret = secret
	}
	if err := c.normalize(p.devOrigin); err != nil {
		return Client{}, "", err
	}
	c.Created = p.now().UTC()
	c.Instance = randomString(12)
	b, err := json.Marshal(c)
	if err != nil {
		return Client{}, "", err
	}
	err = p.st.Update(ctx, store.ActorOr(ctx, "oidc"), func(tx store.Tx) error {
		if _, err := tx.GetRecord(nsClients, c.ID); err == nil {
			return fmt.Errorf("oidc: client %q: %w", c.ID, store.ErrExists)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.PutRecord(nsClients, c.ID, b); err != nil {
			return err
		}
		return tx.Record("", policy.OpCreate, "oidc-client/"+c.ID, map[string]any{"name": c.Name, "public": c.Public,
			"redirectURIs": c.RedirectURIs, "grantTypes": c.GrantTypes, "pkce": c.PKCE, "resourceServer": c.ResourceServer})
	})
	if err != nil {
		return Client{}, "", fmt.Errorf("oidc: creating client: %w", err)
	}
	p.clients.forget(c.ID)
	out := c
	out.SecretHash, out.Instance = "", ""
	return Client{ClientConfig: out}, secret, nil
}

// ListClients returns the clients from configuration and from the store,
// ordered by id, without secret hashes.
func (p *Provider) ListClients(ctx context.Context) ([]Client, error) {
	var out []Client
	for _, c := range p.clients.config {
		cc := *c
		cc.SecretHash, cc.Instance = "", ""
		out = append(out, Client{ClientConfig: cc, FromConfig: true})
	}
	err := p.st.View(ctx, func(tx store.Tx) error {
		return tx.ScanRecords(nsClients, "", func(key string, v []byte) error {
			var c ClientConfig
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("oidc: decoding client %q: %w", key, err)
			}
			c.SecretHash, c.Instance = "", ""
			out = append(out, Client{ClientConfig: c})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("oidc: listing clients: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteClient removes a client created with CreateClient, and with it
// every code, token and grant issued to it, in the same transaction. A
// client created later with the same id starts without any (its Instance
// differs, so a token issued while the deletion ran does not work for it
// either). Configured clients give ErrConfigClient, unknown ones
// ErrClientNotFound.
func (p *Provider) DeleteClient(ctx context.Context, id string) error {
	if _, ok := p.clients.config[id]; ok {
		return fmt.Errorf("%w: %q", ErrConfigClient, id)
	}
	err := p.st.Update(ctx, store.ActorOr(ctx, "oidc"), func(tx store.Tx) error {
		if err := tx.DeleteRecord(nsClients, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: %q", ErrClientNotFound, id)
			}
			return err
		}
		var keys []string
		grants := 0
		err := tx.ScanRecords(nsTokens, "", func(key string, v []byte) error {
			var rec struct {
				Client string `json:"client"`
			}
			if json.Unmarshal(v, &rec) == nil && rec.Client == id {
				keys = append(keys, key)
				if strings.HasPrefix(key, pfxGrant) {
					grants++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.DeleteRecord(nsTokens, k); err != nil {
				return err
			}
		}
		return tx.Record("", policy.OpDelete, "oidc-client/"+id, map[string]any{"grantsRevoked": grants, "recordsDeleted": len(keys)})
	})
	p.clients.forget(id)
	if err != nil {
		return fmt.Errorf("oidc: deleting client: %w", err)
	}
	return nil
}
