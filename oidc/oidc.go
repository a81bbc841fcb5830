// Package oidc is Roster's OpenID Connect provider: members of user groups
// sign in (with a password checked by a Passwords implementation, or at
// their company's own identity provider) and the groups' tools receive ID
// tokens, access tokens and userinfo carrying group-membership and role
// claims.
//
// It implements the authorization code flow with PKCE (RFC 6749 §4.1,
// RFC 7636), refresh tokens with rotation and the client credentials grant
// (RFC 6749 §4.4), token revocation (RFC 7009), token introspection
// (RFC 7662), OpenID Connect Discovery 1.0, OpenID Connect Core 1.0 ID
// tokens and userinfo, and RP-initiated logout 1.0, following the security
// best current practice of RFC 9700.
//
// Access and refresh tokens are opaque random strings; only their SHA-256
// hashes are kept, as store records. Signing keys (RS256 and ES256) are kept
// in the store too and rotated on a schedule.
//
// A sign-in starts a browser session at the provider (a cookie, with a
// session record in the store): later authorization requests from the same
// browser, for any client, are answered at once until the session ends —
// idle or absolute lifetime, sign-out, an administrator revoking it, or its
// user deactivated or deleted by any source. Ending a session revokes the
// tokens issued in it and tells its clients (OpenID Connect Back-Channel
// Logout 1.0). The prompt, max_age, login_hint and id_token_hint parameters
// of OIDC Core §3.1.2.1 are honoured. The sign-in page asks for an e-mail
// address or user name first and routes by the address's domain to the
// tenant (home-realm discovery).
//
// It does not implement the implicit or hybrid flows, request objects,
// dynamic client registration, front-channel logout or DPoP.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Record namespaces used in the store.
const (
	nsKeys    = "oidc-keys"
	nsClients = "oidc-clients"
	nsTokens  = "oidc-tokens"
	// NSLocalAccounts is the store namespace of local accounts; keys are
	// "<tenant>/<folded userName>".
	NSLocalAccounts = "local-accounts"
)

// Sources of the users this package creates (policy.User.Source).
const (
	// SourceLocal: a local account (LocalAccounts.SetPassword).
	SourceLocal = "local"
	// upstreamSourcePrefix + tenant: created at the first sign-in at the
	// tenant's IdP (UpstreamConfig.CreateUsers).
	upstreamSourcePrefix = "oidc:"
)

// Sentinel errors returned by Passwords implementations. The adapter that
// cmd/roster puts in front of a directory source maps its own errors onto
// these (for example ldap.ErrInvalidCredentials to ErrBadCredentials).
var (
	// ErrBadCredentials: unknown user or wrong password. The sign-in page
	// does not tell the two apart.
	ErrBadCredentials = errors.New("oidc: bad credentials")
	// ErrDisabled: the account exists, the password is right, but it may
	// not sign in. The sign-in page says so, so an implementation must
	// answer ErrBadCredentials instead when the password is wrong, or the
	// page tells who has a (disabled) account.
	ErrDisabled = errors.New("oidc: account disabled")
	// ErrUnavailable: the password could not be checked now (directory
	// down); the user may retry later.
	ErrUnavailable = errors.New("oidc: credential check unavailable")
)

// Other sentinel errors of the package.
var (
	// ErrInvalidToken: an access token is unknown, expired, revoked or
	// malformed (RFC 6750 §3.1 invalid_token).
	ErrInvalidToken = errors.New("oidc: invalid token")
	// ErrClientNotFound: no client with that id.
	ErrClientNotFound = errors.New("oidc: client not found")
	// ErrConfigClient: the client comes from configuration and cannot be
	// changed through the API.
	ErrConfigClient = errors.New("oidc: client is defined in configuration")
	// ErrInvalidClient: a client definition is invalid.
	ErrInvalidClient = errors.New("oidc: invalid client definition")
)

// Passwords checks a user's password within a tenant. It returns the
// Roster user (at least its UserName; its ID when known) or an error
// wrapping ErrBadCredentials, ErrDisabled or ErrUnavailable.
type Passwords interface {
	CheckPassword(ctx context.Context, tenant policy.TenantID, userName, password string) (policy.User, error)
}

// Engine is the part of *policy.Engine the provider needs to compute group
// and role claims.
type Engine interface {
	// EffectiveGroups returns every role the user holds in every group.
	EffectiveGroups(u policy.UserID) []policy.EffectiveMembership
	// Group returns a user group by id.
	Group(id policy.GroupID) (policy.Group, bool)
	// Ancestors returns the ancestors of a group, parent first.
	Ancestors(id policy.GroupID) []policy.GroupID
}

// UpstreamConfig is a tenant's own OpenID provider: users of that tenant
// sign in there instead of entering a password at Roster.
type UpstreamConfig struct {
	// Issuer is the upstream issuer URL (discovery is used).
	Issuer string `yaml:"issuer" json:"issuer"`
	// ClientID and ClientSecret are Roster's credentials at the upstream.
	ClientID     string `yaml:"clientID" json:"clientID"`
	ClientSecret string `yaml:"clientSecret" json:"clientSecret"`
	// Scopes requested upstream; default "openid profile email".
	Scopes []string `yaml:"scopes" json:"scopes,omitempty"`
	// UserNameClaim is the ID token claim matched against the Roster
	// userName; default "preferred_username". "email" is common too; then
	// an ID token with "email_verified": false is refused.
	UserNameClaim string `yaml:"userNameClaim" json:"userNameClaim,omitempty"`
	// CreateUsers creates unknown users just in time, with Source
	// "oidc:<tenant>".
	CreateUsers bool `yaml:"createUsers" json:"createUsers,omitempty"`
	// HTTPClient is used to talk to the upstream; default
	// http.DefaultClient.
	HTTPClient *http.Client `yaml:"-" json:"-"`
}

// RateLimit configures a token bucket: Burst attempts at once, refilled at
// one attempt per Every.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// Config configures a Provider. Zero durations take the defaults noted.
type Config struct {
	Logger *slog.Logger
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// Issuer is the issuer identifier (OIDC Discovery §4.2), the
	// absolute URL at which the Provider is mounted, e.g.
	// "https://roster.example.com" or "http://127.0.0.1:8080/oidc".
	// Endpoints are served below its path.
	Issuer string
	// Store keeps keys, clients, tokens and local accounts.
	Store store.Store
	// Engine computes effective group memberships for claims.
	Engine Engine
	// Passwords checks passwords for tenants without an upstream IdP.
	// When nil, password sign-in is refused.
	Passwords Passwords
	// Clients are defined in configuration (read-only through the API).
	Clients []ClientConfig
	// Upstreams are per-tenant upstream OpenID providers.
	Upstreams map[policy.TenantID]UpstreamConfig
	// EmailVerified says whether a directory user's address is vouched
	// for by its source; email_verified is false for every directory
	// user when nil. Local accounts are never verified; upstream users
	// are when their IdP says so for an address of the tenant's domains.
	EmailVerified EmailVerifier

	// IDTokenLifetime, AccessTokenLifetime: default 10 minutes.
	IDTokenLifetime     time.Duration
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime: default 8 hours, counted from the last
	// rotation.
	RefreshTokenLifetime time.Duration
	// CodeLifetime: default 60 seconds.
	CodeLifetime time.Duration
	// LoginLifetime bounds how long a sign-in page stays usable; default
	// 10 minutes.
	LoginLifetime time.Duration
	// KeyRotation is the age after which a new signing key replaces the
	// current one; default 24 hours. Retired keys stay in the JWKS until
	// every token they signed has expired.
	KeyRotation time.Duration
	// DefaultAlg signs ID tokens of clients that do not choose: "RS256"
	// (default) or "ES256".
	DefaultAlg string
	// MaxGroupsInToken is the default limit of groups listed in an ID
	// token before the list moves to userinfo (distributed claims); 0:
	// 100.
	MaxGroupsInToken int
	// AccountRate limits failed password attempts per tenant/userName;
	// default burst 5, one more every minute. A successful sign-in
	// refills the account's bucket. A browser holding a device cookie of
	// the account (a successful sign-in within DeviceLifetime) has a
	// bucket of its own, so strangers' guessing cannot lock the member
	// out.
	AccountRate RateLimit
	// AddressRate limits failed password attempts per client address
	// (per /64 for IPv6); default burst 10, one more every 30 s.
	AddressRate RateLimit
	// DeviceLifetime is how long a browser is remembered as a known device
	// of an account after a successful sign-in; default 30 days.
	DeviceLifetime time.Duration
	// Session bounds browser sessions (idle 8 h, absolute 7 days).
	Session SessionConfig
	// UI is the look of the pages (title, logo, colour).
	UI UI
	// BackchannelHTTPClient posts logout tokens; default a client with a
	// 10 s timeout. BackchannelBackoff is the first delay between
	// attempts, doubled each time (default 2 s).
	BackchannelHTTPClient *http.Client
	BackchannelBackoff    time.Duration
	// TrustForwardedFor takes the client address from the last
	// X-Forwarded-For entry, the one appended by the proxy (only behind
	// one trusted proxy).
	TrustForwardedFor bool
	// MaxPendingSignIns bounds the sign-in requests kept in memory between
	// /authorize and the code, in all (default 10,000) and per client
	// address (MaxPendingPerAddress, default 64; per /64 for IPv6). Past
	// a bound the oldest request gives way.
	MaxPendingSignIns    int
	MaxPendingPerAddress int
	// SharedSignIns keeps pending sign-ins in the store as well as in
	// memory, so that a sign-in begun on one replica can continue on
	// another (several replicas on one PostgreSQL database), and the
	// failed-password buckets in the store only, so that N replicas give
	// a guesser one budget, not N. The bounds above still apply per
	// replica, and Cleanup sweeps expired records. Off for a single
	// process (bbolt): then no unauthenticated request writes to the
	// store at all.
	SharedSignIns bool
}

// Provider is an OpenID provider. It is an http.Handler serving the
// endpoints below the issuer's path:
//
//	/.well-known/openid-configuration  discovery (OIDC Discovery §4)
//	/keys                              JWKS (RFC 7517 §5)
//	/authorize                         authorization endpoint (RFC 6749 §3.1)
//	/login                             sign-in page
//	/callback/upstream                 return from a tenant's IdP
//	/token                             token endpoint (RFC 6749 §3.2)
//	/userinfo                          userinfo (OIDC Core §5.3)
//	/revoke                            revocation (RFC 7009)
//	/introspect                        introspection (RFC 7662)
//	/logout                            RP-initiated logout 1.0
//	/account                           the signed-in member's account page
//	/static/…                          the pages' style sheet and images
//
// A Provider is safe for concurrent use.
type Provider struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	issuer  string
	prefix  string // issuer URL path without trailing slash
	secure  bool   // issuer is https: cookies are Secure
	st      store.Store
	engine  Engine
	mux     *http.ServeMux
	keys    *keyManager
	clients *clientRegistry
	writes  *store.Batcher
	limiter *limiter
	logins  *pendingLogins
	bcWG    sync.WaitGroup
	devices *deviceKeys
	// devOrigin is the issuer's origin when the issuer is plain http (a
	// development setup): clients may then use http redirect URIs there.
	devOrigin string

	discovery []byte

	upMu      sync.Mutex
	upstreams map[policy.TenantID]*upstream
}

// New validates cfg, loads or creates the signing keys and returns a
// Provider. It does not start background work; call Run for cleanup and
// scheduled key rotation.
func New(cfg Config) (*Provider, error) {
	if cfg.Store == nil {
		return nil, errors.New("oidc: Config.Store is required")
	}
	if cfg.Engine == nil {
		return nil, errors.New("oidc: Config.Engine is required")
	}
	iu, err := url.Parse(cfg.Issuer)
	if err != nil || (iu.Scheme != "http" && iu.Scheme != "https") || iu.Host == "" || iu.RawQuery != "" || iu.Fragment != "" {
		return nil, fmt.Errorf("oidc: Config.Issuer %q must be an absolute http(s) URL without query or fragment", cfg.Issuer)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.IDTokenLifetime, 10*time.Minute)
	def(&cfg.AccessTokenLifetime, 10*time.Minute)
	def(&cfg.RefreshTokenLifetime, 8*time.Hour)
	def(&cfg.CodeLifetime, 60*time.Second)
	def(&cfg.LoginLifetime, 10*time.Minute)
	def(&cfg.KeyRotation, 24*time.Hour)
	if cfg.DefaultAlg == "" {
		cfg.DefaultAlg = AlgRS256
	}
	if cfg.DefaultAlg != AlgRS256 && cfg.DefaultAlg != AlgES256 {
		return nil, fmt.Errorf("oidc: Config.DefaultAlg %q: want RS256 or ES256", cfg.DefaultAlg)
	}
	if cfg.MaxGroupsInToken <= 0 {
		cfg.MaxGroupsInToken = 100
	}
	if cfg.AccountRate.Burst <= 0 {
		cfg.AccountRate = RateLimit{Burst: 5, Every: time.Minute}
	}
	if cfg.AddressRate.Burst <= 0 {
		cfg.AddressRate = RateLimit{Burst: 10, Every: 30 * time.Second}
	}
	def(&cfg.DeviceLifetime, 30*24*time.Hour)
	def(&cfg.Session.Idle, 8*time.Hour)
	def(&cfg.Session.Absolute, 7*24*time.Hour)
	def(&cfg.BackchannelBackoff, 2*time.Second)
	if cfg.BackchannelHTTPClient == nil {
		cfg.BackchannelHTTPClient = backchannelClient()
	}
	cfg.UI = cfg.UI.withDefaults()
	if cfg.MaxPendingSignIns <= 0 {
		cfg.MaxPendingSignIns = defaultMaxPendingSignIns
	}
	if cfg.MaxPendingPerAddress <= 0 {
		cfg.MaxPendingPerAddress = defaultMaxPendingPerAddr
	}
	for t, u := range cfg.Upstreams {
		if u.Issuer == "" || u.ClientID == "" {
			return nil, fmt.Errorf("oidc: upstream of tenant %q needs issuer and clientID", t)
		}
	}
	p := &Provider{
		cfg:       cfg,
		log:       cfg.Logger,
		now:       cfg.Now,
		issuer:    strings.TrimSuffix(cfg.Issuer, "/"),
		prefix:    strings.TrimSuffix(iu.EscapedPath(), "/"),
		secure:    iu.Scheme == "https",
		st:        cfg.Store,
		engine:    cfg.Engine,
		writes:    store.NewBatcher(cfg.Store, "oidc"),
		upstreams: map[policy.TenantID]*upstream{},
	}
	var shared store.Store
	if cfg.SharedSignIns {
		shared = cfg.Store
	}
	p.limiter = newLimiter(cfg.Now, cfg.AccountRate, cfg.AddressRate, shared)
	p.logins = newPendingLogins(cfg.MaxPendingSignIns, cfg.MaxPendingPerAddress, shared)
	if iu.Scheme == "http" {
		p.devOrigin = "http://" + iu.Host
	}
	p.clients, err = newClientRegistry(cfg.Store, cfg.Clients, p.devOrigin)
	if err != nil {
		return nil, err
	}
	p.keys, err = newKeyManager(context.Background(), cfg.Store, cfg.Now, cfg.KeyRotation, cfg.IDTokenLifetime+cfg.AccessTokenLifetime, cfg.Logger)
	if err != nil {
		return nil, err
	}
	p.devices, err = loadDeviceKeys(context.Background(), cfg.Store)
	if err != nil {
		return nil, err
	}
	p.discovery, err = p.discoveryDocument()
	if err != nil {
		return nil, err
	}
	p.routes()
	return p, nil
}

// Issuer returns the issuer identifier.
func (p *Provider) Issuer() string { return p.issuer }

func (p *Provider) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /.well-known/openid-configuration", p.handleDiscovery)
	m.HandleFunc("GET /keys", p.handleJWKS)
	m.HandleFunc("GET /authorize", p.handleAuthorize)
	m.HandleFunc("POST /authorize", p.handleAuthorize)
	m.HandleFunc("GET /login", p.handleLoginPage)
	m.HandleFunc("POST /login", p.handleLoginPost)
	m.HandleFunc("GET /callback/upstream", p.handleUpstreamCallback)
	m.HandleFunc("POST /token", p.handleToken)
	m.HandleFunc("GET /userinfo", p.handleUserinfo)
	m.HandleFunc("POST /userinfo", p.handleUserinfo)
	m.HandleFunc("POST /revoke", p.handleRevoke)
	m.HandleFunc("POST /introspect", p.handleIntrospect)
	m.HandleFunc("GET /logout", p.handleLogout)
	m.HandleFunc("POST /logout", p.handleLogout)
	m.HandleFunc("GET /account", p.handleAccount)
	m.HandleFunc("POST /account/sessions/{id}/end", p.handleAccountEnd)
	m.Handle("GET /static/", p.staticHandler())
	p.mux = m
}

// ServeHTTP serves the provider's endpoints below the issuer's path.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.prefix != "" {
		rest, ok := strings.CutPrefix(r.URL.Path, p.prefix)
		if !ok || (rest != "" && rest[0] != '/') {
			http.NotFound(w, r)
			return
		}
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path = rest
		u.RawPath = ""
		r2.URL = &u
		r = r2
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	p.mux.ServeHTTP(w, r)
}

// endpoint returns the absolute URL of one of the provider's paths.
func (p *Provider) endpoint(path string) string { return p.issuer + path }

// Run performs periodic maintenance until ctx is done: it removes expired
// codes, tokens, sessions and sign-in requests, and rotates signing keys
// when due. It also follows the store's change feed and ends the sessions
// of users deactivated or deleted by any source (sending back-channel
// logout tokens). every is the interval (0: one minute). It returns
// ctx.Err().
func (p *Provider) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = time.Minute
	}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		p.watchUsers(ctx)
	}()
	defer func() { <-watched }()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := p.Cleanup(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("oidc: cleanup failed", "err", err)
		}
		if err := p.keys.rotateIfDue(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("oidc: key rotation failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
