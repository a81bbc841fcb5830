// Package config reads and validates the YAML configuration of
// `roster serve`.
//
// Values may refer to the environment as ${NAME} or ${NAME:-default}; the
// expansion happens on parsed scalar values, so a secret containing YAML
// syntax cannot change the document's structure. Unknown keys are errors, and
// every validation error names the field it is about.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/roster-dev/roster/policy"
)

// Config is the whole configuration file.
type Config struct {
	// Listen is the address the HTTP server binds (host:port).
	Listen string `yaml:"listen"`
	// Issuer is the public base URL: the OIDC issuer and the root of SCIM
	// and portal links.
	Issuer string `yaml:"issuer"`
	// Store selects the storage backend.
	Store StoreConfig `yaml:"store"`
	// Admin configures the admin API.
	Admin AdminConfig `yaml:"admin"`
	// Log configures logging.
	Log LogConfig `yaml:"log"`
	// Metrics configures who may read the Prometheus metrics.
	Metrics MetricsConfig `yaml:"metrics"`
	// Policy configures roles, group kinds and the charter rule.
	Policy PolicyConfig `yaml:"policy"`
	// Tenants lists the companies whose people join the groups.
	Tenants []TenantConfig `yaml:"tenants"`
	// UI is the deployment's name, logo and colour, shown by the portal.
	UI UIConfig `yaml:"ui"`
	// Portal configures the web portal at /portal.
	Portal PortalConfig `yaml:"portal"`
	// Extensions holds the sections of the protocol packages, decoded by
	// them (see Section).
	Extensions `yaml:",inline"`

	// issuerDefaulted is set when Issuer was derived from Listen.
	issuerDefaulted bool
}

// SetListen overrides Listen (the --listen flag). An issuer that was not
// configured follows the new address, as it would have had the file said
// so.
func (c *Config) SetListen(addr string) {
	c.Listen = addr
	if c.issuerDefaulted {
		c.Issuer = "http://" + addr
	}
}

// MetricsConfig configures /metrics. By default it is served on the main
// listener to callers with an admin token or the metrics token only (the
// metrics name tenants and directories). With Listen set it moves to that
// address alone (for a scraper on a private network), where it needs the
// token only if Token is set.
type MetricsConfig struct {
	// Listen is a separate address for /metrics (host:port).
	Listen string `yaml:"listen"`
	// Token is a bearer token (≥16 characters) for scrapers.
	Token string `yaml:"token"`
}

// StoreConfig selects one storage backend: bbolt (the default when
// neither is set) or postgres, never both.
type StoreConfig struct {
	Bbolt    *BboltConfig    `yaml:"bbolt"`
	Postgres *PostgresConfig `yaml:"postgres"`
}

// BboltConfig configures the embedded bbolt store.
type BboltConfig struct {
	// Path of the database file.
	Path string `yaml:"path"`
}

// PostgresConfig configures the PostgreSQL store (store/postgres), which
// several replicas may share.
type PostgresConfig struct {
	// DSN is the connection string (postgres://user:pass@host/db?…),
	// usually "${ROSTER_DATABASE_URL}".
	DSN string `yaml:"dsn"`
	// MaxConns bounds the connection pool of each replica (default 20).
	MaxConns int32 `yaml:"maxConns"`
	// Migrate is "auto" (apply pending schema migrations at start) or
	// "manual" (the default: refuse to start on an old schema; run
	// `roster migrate`).
	Migrate string `yaml:"migrate"`
}

// Backend names the configured backend: "bbolt" or "postgres".
func (s StoreConfig) Backend() string {
	if s.Postgres != nil {
		return "postgres"
	}
	return "bbolt"
}

func (s *StoreConfig) applyDefaults() {
	if p := s.Postgres; p != nil {
		if p.MaxConns == 0 {
			p.MaxConns = 20
		}
		if p.Migrate == "" {
			p.Migrate = "manual"
		}
		return
	}
	if s.Bbolt == nil {
		s.Bbolt = &BboltConfig{}
	}
	if s.Bbolt.Path == "" {
		s.Bbolt.Path = "./roster-data/roster.db"
	}
}

func (s *StoreConfig) validate() error {
	p := s.Postgres
	if p == nil {
		return nil
	}
	switch {
	case s.Bbolt != nil:
		return &Error{"store", "set one backend, bbolt or postgres, not both"}
	case p.DSN == "":
		return &Error{"store.postgres.dsn", "is required (e.g. \"${ROSTER_DATABASE_URL}\")"}
	case p.MaxConns < 0:
		return &Error{"store.postgres.maxConns", "must not be negative"}
	case p.Migrate != "auto" && p.Migrate != "manual":
		return &Error{"store.postgres.migrate", fmt.Sprintf("%q is not one of auto, manual", p.Migrate)}
	}
	return nil
}

// AdminConfig configures the admin API.
type AdminConfig struct {
	// Tokens are the bearer tokens that grant full admin access, each a
	// plain string or {name, token}. The name (default "token-N", N from
	// 1) is the actor the audit log records for what the token does.
	Tokens []AdminToken `yaml:"tokens"`
	// MaxBodyBytes limits request bodies (default 1 MiB).
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// Clients are the OIDC clients (ids) whose access tokens the admin
	// API accepts, under delegated administration. Tokens issued to any
	// other client are refused (RFC 9700 §2.3: audience restriction).
	Clients []string `yaml:"clients"`
}

// UIConfig is the deployment's look in the portal.
type UIConfig struct {
	// Title names the deployment (default "Roster").
	Title string `yaml:"title"`
	// LogoURL is an http(s) URL or an absolute path of the logo image.
	LogoURL string `yaml:"logoURL"`
	// PrimaryColor is a CSS hex colour (#rgb or #rrggbb) for links,
	// buttons and the header; default a dark blue that keeps a 4.5:1
	// contrast with white text.
	PrimaryColor string `yaml:"primaryColor"`
}

// PortalConfig configures the web portal. The portal is served at /portal
// when ClientID is set; it signs its users in through Roster's own OIDC
// provider as the confidential client ClientID, which must be declared in
// clients (with redirect URI {issuer}/portal/callback) and listed in
// admin.clients, because the portal acts through the admin API with its
// users' access tokens.
type PortalConfig struct {
	ClientID     string `yaml:"clientID"`
	ClientSecret string `yaml:"clientSecret"`
	// MapTiles is the URL template of the tiles the LUG finder draws its
	// map with, e.g. "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
	// (mind the provider's usage policy); empty: a plain list, no map.
	// MapAttribution is the credit the provider asks for.
	MapTiles       string `yaml:"mapTiles"`
	MapAttribution string `yaml:"mapAttribution"`
}

// LogConfig configures log/slog.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// PolicyConfig configures the domain rules.
type PolicyConfig struct {
	// Roles adds roles to (or overrides) the defaults member, speaker,
	// organizer and admin.
	Roles []RoleConfig `yaml:"roles"`
	// Kinds adds custom user-group kinds to the built-in ones
	// (international, regional, local, special-interest), or changes
	// where a kind may sit. Each entry is a name, or {name, parents}
	// where parents lists the kinds a parent may have ("top" for none).
	// A custom kind without parents may sit anywhere. governance says who
	// governs groups of the kind: self (their organizers; the default for
	// local and special-interest) or managed (the parent's admins; the
	// default otherwise).
	Kinds []KindConfig `yaml:"kinds"`
	// Charter overrides the charter rule (default: local groups, 60% of
	// members in the international group above).
	Charter *policy.CharterRule `yaml:"charter"`
	// Products are the vendor's product lines that groups may name
	// (lower case; see policy.NormalizeTags).
	Products []string `yaml:"products"`
}

// KindConfig declares a user-group kind, where it may sit and who governs
// it.
type KindConfig struct {
	Name       string   `yaml:"name"`
	Parents    []string `yaml:"parents"`
	Governance string   `yaml:"governance"` // self | managed; empty: the kind's default
}

// UnmarshalYAML reads a plain name or a {name, parents} mapping.
func (k *KindConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*k = KindConfig{}
		return n.Decode(&k.Name)
	}
	type plain KindConfig
	return n.Decode((*plain)(k))
}

// Hierarchy returns the placement rules and governance modes:
// policy.DefaultHierarchy with the configured kinds added or changed.
func (p PolicyConfig) Hierarchy() (policy.Hierarchy, error) {
	h := policy.DefaultHierarchy()
	for i, k := range p.Kinds {
		f := fmt.Sprintf("policy.kinds[%d]", i)
		if !tenantIDRE.MatchString(k.Name) {
			return h, &Error{f + ".name", fmt.Sprintf("%q must be lower-case letters, digits and dashes", k.Name)}
		}
		if _, ok := h.Parents[policy.GroupKind(k.Name)]; !ok {
			h.Parents[policy.GroupKind(k.Name)] = nil // filled below
		}
	}
	for i, k := range p.Kinds {
		kind := policy.GroupKind(k.Name)
		switch m := policy.Governance(k.Governance); m {
		case "":
		case policy.GovernSelf, policy.GovernManaged:
			h.Governance[kind] = m
		default:
			return h, &Error{fmt.Sprintf("policy.kinds[%d].governance", i), fmt.Sprintf("%q is not self or managed", k.Governance)}
		}
		if len(k.Parents) == 0 {
			if h.Parents[kind] == nil { // a custom kind: anywhere
				h.Parents[kind] = append([]policy.GroupKind{policy.Root}, h.Kinds()...)
			}
			continue
		}
		var ps []policy.GroupKind
		for j, pk := range k.Parents {
			if pk == "top" {
				ps = append(ps, policy.Root)
				continue
			}
			if _, ok := h.Parents[policy.GroupKind(pk)]; !ok {
				return h, &Error{fmt.Sprintf("policy.kinds[%d].parents[%d]", i, j), fmt.Sprintf("%q is not a kind (nor \"top\")", pk)}
			}
			ps = append(ps, policy.GroupKind(pk))
		}
		h.Parents[kind] = ps
	}
	return h, nil
}

// RoleConfig declares one role.
type RoleConfig struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Permissions []string `yaml:"permissions"`
	Inherit     bool     `yaml:"inherit"`
}

// TenantConfig declares one tenant. The scim, ldap, upstream and
// localAccounts sections are decoded by the packages that use them.
type TenantConfig struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
	// Domains are the e-mail domains the company owns: addresses inside
	// them belong to this tenant alone (policy.Tenant.Domains).
	Domains []string `yaml:"domains"`
	// Protocol sections, kept as YAML nodes and decoded by their owners.
	SCIM          yaml.Node `yaml:"scim"`
	LDAP          yaml.Node `yaml:"ldap"`
	Upstream      yaml.Node `yaml:"upstream"`
	LocalAccounts yaml.Node `yaml:"localAccounts"`
}

// Extensions are top-level sections owned by protocol packages.
type Extensions struct {
	Clients yaml.Node `yaml:"clients"`
	OIDC    yaml.Node `yaml:"oidc"`
	SCIM    yaml.Node `yaml:"scim"`
	// Mail is the outbound mail section (SMTP server, sender), decoded
	// by cmd/roster.
	Mail yaml.Node `yaml:"mail"`
	// Outbound lists the provisioning targets (SCIM push, webhooks),
	// decoded by cmd/roster into outbound.TargetConfig.
	Outbound yaml.Node `yaml:"outbound"`
}

// Error is a validation error about one field.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return "config: " + e.Field + ": " + e.Msg }

// Load reads, expands and validates the configuration file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(b, os.LookupEnv)
}

// Parse decodes and validates a configuration document. lookup resolves
// environment references.
func Parse(doc []byte, lookup func(string) (string, bool)) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := expand(&root, lookup); err != nil {
		return nil, err
	}
	var c Config
	if root.Kind != 0 {
		if err := decodeStrict(&root, &c); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var plainScalar = regexp.MustCompile(`^(-?[0-9]+(\.[0-9]+)?|true|false)$`)

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expand replaces ${NAME} and ${NAME:-default} in scalar values.
func expand(n *yaml.Node, lookup func(string) (string, bool)) error {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		var missing string
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			if v, ok := lookup(m[1]); ok && v != "" {
				return v
			}
			if m[2] != "" {
				return m[3]
			}
			missing = m[1]
			return ""
		})
		if missing != "" {
			return &Error{Field: fmt.Sprintf("line %d", n.Line), Msg: fmt.Sprintf("environment variable %s is not set", missing)}
		}
		// Keep numbers and booleans plain so they decode into typed
		// fields; quote everything else so no value can add structure.
		if n.Style == 0 && plainScalar.MatchString(n.Value) {
			n.Tag = ""
		} else {
			n.Style = yaml.DoubleQuotedStyle
			n.Tag = "!!str"
		}
	}
	for _, c := range n.Content {
		if err := expand(c, lookup); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.Issuer == "" {
		c.Issuer = "http://" + c.Listen
		c.issuerDefaulted = true
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	c.Store.applyDefaults()
	if c.Admin.MaxBodyBytes == 0 {
		c.Admin.MaxBodyBytes = 1 << 20
	}
	if c.UI.Title == "" {
		c.UI.Title = "Roster"
	}
	if c.UI.PrimaryColor == "" {
		c.UI.PrimaryColor = "#1d4f91"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
}

var tenantIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks the configuration; the error names the offending field.
func (c *Config) Validate() error {
	if !strings.HasPrefix(c.Issuer, "http://") && !strings.HasPrefix(c.Issuer, "https://") {
		return &Error{"issuer", "must be an http:// or https:// URL"}
	}
	if err := c.Store.validate(); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, t := range c.Admin.Tokens {
		f := fmt.Sprintf("admin.tokens[%d]", i)
		if len(t.Token) < 16 {
			return &Error{f, "must be at least 16 characters"}
		}
		if t.Name == "" {
			c.Admin.Tokens[i].Name = fmt.Sprintf("token-%d", i+1)
		} else if !tenantIDRE.MatchString(t.Name) {
			return &Error{f + ".name", fmt.Sprintf("%q must be lower-case letters, digits and dashes", t.Name)}
		}
		if names[c.Admin.Tokens[i].Name] {
			return &Error{f + ".name", fmt.Sprintf("duplicate name %q", c.Admin.Tokens[i].Name)}
		}
		names[c.Admin.Tokens[i].Name] = true
	}
	if c.Metrics.Token != "" && len(c.Metrics.Token) < 16 {
		return &Error{"metrics.token", "must be at least 16 characters"}
	}
	if c.Admin.MaxBodyBytes < 0 {
		return &Error{"admin.maxBodyBytes", "must be positive"}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return &Error{"log.level", fmt.Sprintf("%q is not one of debug, info, warn, error", c.Log.Level)}
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return &Error{"log.format", fmt.Sprintf("%q is not one of text, json", c.Log.Format)}
	}
	if !hexColorRE.MatchString(c.UI.PrimaryColor) {
		return &Error{"ui.primaryColor", fmt.Sprintf("%q must be a hex colour such as #1d4f91", c.UI.PrimaryColor)}
	}
	if l := c.UI.LogoURL; l != "" && !strings.HasPrefix(l, "https://") && !strings.HasPrefix(l, "http://") && (!strings.HasPrefix(l, "/") || strings.HasPrefix(l, "//")) {
		return &Error{"ui.logoURL", "must be an http(s) URL or an absolute path"}
	}
	if c.Portal.ClientID != "" {
		if c.Portal.ClientSecret == "" {
			return &Error{"portal.clientSecret", "required"}
		}
		if !slices.Contains(c.Admin.Clients, c.Portal.ClientID) {
			return &Error{"portal.clientID", fmt.Sprintf("%q must be listed in admin.clients: the portal acts through the admin API", c.Portal.ClientID)}
		}
	} else if c.Portal.ClientSecret != "" {
		return &Error{"portal.clientID", "required"}
	}
	if t := c.Portal.MapTiles; t != "" && (!strings.HasPrefix(t, "https://") && !strings.HasPrefix(t, "http://") || !strings.Contains(t, "{z}") || !strings.Contains(t, "{x}") || !strings.Contains(t, "{y}")) {
		return &Error{"portal.mapTiles", "must be an http(s) URL template with {z}, {x} and {y}"}
	}
	for i, r := range c.Policy.Roles {
		f := fmt.Sprintf("policy.roles[%d]", i)
		if err := policy.ValidateRole(policy.Role{Name: policy.RoleName(r.Name)}); err != nil {
			return &Error{f + ".name", err.Error()}
		}
		if len(r.Permissions) == 0 {
			return &Error{f + ".permissions", "at least one permission is required"}
		}
	}
	for i, pr := range c.Policy.Products {
		if n := policy.NormalizeTags([]string{pr}); len(n) != 1 || n[0] != pr {
			return &Error{fmt.Sprintf("policy.products[%d]", i), fmt.Sprintf("%q must be lower case, trimmed, single-spaced", pr)}
		}
	}
	if _, err := c.Policy.Hierarchy(); err != nil {
		return err
	}
	if ch := c.Policy.Charter; ch != nil {
		if ch.Threshold <= 0 || ch.Threshold > 1 {
			return &Error{"policy.charter.threshold", "must be in (0, 1]"}
		}
		if ch.Kind == "" || ch.Parent == "" {
			return &Error{"policy.charter", "kind and parent are required"}
		}
	}
	seen := map[string]bool{}
	domainOwner := map[string]string{}
	for i, t := range c.Tenants {
		f := fmt.Sprintf("tenants[%d]", i)
		if !tenantIDRE.MatchString(t.ID) {
			return &Error{f + ".id", fmt.Sprintf("%q must be lower-case letters, digits and dashes", t.ID)}
		}
		if seen[t.ID] {
			return &Error{f + ".id", fmt.Sprintf("duplicate tenant %q", t.ID)}
		}
		seen[t.ID] = true
		if t.Name == "" {
			return &Error{f + ".name", "required"}
		}
		switch policy.TenantKind(t.Kind) {
		case policy.TenantVendor, policy.TenantPartner:
		default:
			return &Error{f + ".kind", fmt.Sprintf("%q is not one of vendor, partner", t.Kind)}
		}
		for j, d := range t.Domains {
			df := fmt.Sprintf("%s.domains[%d]", f, j)
			if !domainRE.MatchString(d) {
				return &Error{df, fmt.Sprintf("%q must be a lower-case DNS domain such as acme.example", d)}
			}
			if other, ok := domainOwner[d]; ok {
				return &Error{df, fmt.Sprintf("%q is already a domain of tenant %q", d, other)}
			}
			domainOwner[d] = t.ID
		}
	}
	for d, owner := range domainOwner {
		for parent, other := range domainOwner {
			if other != owner && strings.HasSuffix(d, "."+parent) {
				return &Error{"tenants", fmt.Sprintf("domain %q of tenant %q lies inside %q of tenant %q", d, owner, parent, other)}
			}
		}
	}
	return nil
}

var hexColorRE = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

var domainRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$`)

// Tenant returns the policy form of a tenant entry.
func (t TenantConfig) Tenant() policy.Tenant {
	return policy.Tenant{ID: policy.TenantID(t.ID), Name: t.Name, Kind: policy.TenantKind(t.Kind), Domains: slices.Clone(t.Domains)}
}

// Section decodes a protocol section (a yaml.Node kept by Config) into out,
// refusing unknown keys. An absent section leaves out unchanged. field is
// used in error messages.
func Section(n yaml.Node, field string, out any) error {
	if n.Kind == 0 {
		return nil
	}
	if err := decodeStrict(&n, out); err != nil {
		return &Error{field, strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	return nil
}

var (
	nodeType        = reflect.TypeFor[yaml.Node]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	quotedValue     = regexp.MustCompile(" `[^`]*`")
)

// decodeStrict decodes n into out, refusing keys out has no field for.
// It decodes the parsed (and expanded) nodes themselves, so line numbers
// are those of the file, and its type errors do not quote the value,
// which may come from the environment.
func decodeStrict(n *yaml.Node, out any) error {
	if unknown := unknownKeys(n, reflect.TypeOf(out), nil); len(unknown) > 0 {
		return &yaml.TypeError{Errors: unknown}
	}
	err := n.Decode(out)
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for i, e := range te.Errors {
			te.Errors[i] = quotedValue.ReplaceAllString(e, "")
		}
	}
	return err
}

// unknownKeys lists, as yaml.v3 would with KnownFields, the mapping keys
// of n for which t (the type n decodes into) has no field. yaml.Node
// fields (protocol sections) and types with their own UnmarshalYAML are
// not looked into.
func unknownKeys(n *yaml.Node, t reflect.Type, out []string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return out
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			out = unknownKeys(c, t, out)
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			out = unknownKeys(n.Alias, t, out)
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for _, c := range n.Content {
				out = unknownKeys(c, t.Elem(), out)
			}
		}
	case yaml.MappingNode:
		switch t.Kind() {
		case reflect.Map:
			for i := 1; i < len(n.Content); i += 2 {
				out = unknownKeys(n.Content[i], t.Elem(), out)
			}
		case reflect.Struct:
			fields := yamlFields(t, map[string]reflect.Type{})
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "<<" && k.Tag == "!!merge" {
					out = unknownKeys(v, t, out)
					continue
				}
				ft, ok := fields[k.Value]
				if !ok {
					out = append(out, fmt.Sprintf("line %d: field %s not found in type %s", k.Line, k.Value, t))
					continue
				}
				out = unknownKeys(v, ft, out)
			}
		}
	}
	return out
}

// yamlFields maps the YAML keys of struct type t to their field types, the
// way yaml.v3 names them (tag name, else the lower-cased field name;
// ",inline" structs contribute their own keys).
func yamlFields(t reflect.Type, m map[string]reflect.Type) map[string]reflect.Type {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if slices.Contains(strings.Split(opts, ","), "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				yamlFields(ft, m)
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

// AdminToken is one admin bearer token and the name it acts under.
type AdminToken struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
}

// UnmarshalYAML reads a plain string (the token, named later by its
// position) or a {name, token} mapping.
func (t *AdminToken) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		t.Name = ""
		return n.Decode(&t.Token)
	}
	type plain AdminToken
	return n.Decode((*plain)(t))
}

// Duration is a time.Duration that reads "5m" from YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		// The value is not quoted: it may come from the environment.
		return fmt.Errorf("line %d: not a duration (such as 90s, 5m or 1h30m)", n.Line)
	}
	*d = Duration(v)
	return nil
}

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
