package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Flavor selects presets for a kind of directory server.
type Flavor string

// Supported flavors.
const (
	FlavorOpenLDAP        Flavor = "openldap"
	FlavorActiveDirectory Flavor = "activedirectory"
	FlavorFreeIPA         Flavor = "freeipa"
	// Flavor389DS is a plain 389 Directory Server: the freeipa preset's
	// attributes with nsUniqueId, which every 389-ds entry carries, as
	// the id instead of FreeIPA's ipaUniqueID.
	Flavor389DS Flavor = "389ds"
)

// Membership attribute styles (see DirectoryConfig.Membership).
const (
	MembershipMember       = "member"
	MembershipUniqueMember = "uniqueMember"
	MembershipMemberUID    = "memberUid"
)

// Values of DirectoryConfig.Syncrepl.
const (
	SyncreplAuto = "auto"
	SyncreplOff  = "off"
)

// Defaults applied by Validate to omitted fields.
const (
	DefaultInterval         = 5 * time.Minute
	DefaultFullSyncInterval = time.Hour
	DefaultDeletionGuard    = 0.10
	DefaultGuardWindow      = 24 * time.Hour
	DefaultMinEntries       = 10
	DefaultTimeout          = 10 * time.Second
	DefaultPageSize         = 1000
)

// ErrConfig is wrapped by every error of DirectoryConfig.Validate.
var ErrConfig = errors.New("ldap: invalid configuration")

// SearchConfig says where and what to search.
type SearchConfig struct {
	// BaseDN is the subtree searched.
	BaseDN string `yaml:"baseDN"`
	// Filter selects the entries (RFC 4515), e.g. "(objectClass=inetOrgPerson)".
	Filter string `yaml:"filter"`
}

// AttributeMap names the directory attributes Roster reads.
type AttributeMap struct {
	// ID is the stable identifier: entryUUID (OpenLDAP), objectGUID (AD,
	// binary, turned into its UUID string), ipaUniqueID (FreeIPA),
	// nsUniqueId (389 Directory Server). It becomes the ExternalID, so a
	// rename or a move is an update.
	ID          string `yaml:"id"`
	UserName    string `yaml:"userName"`
	Email       string `yaml:"email"`
	DisplayName string `yaml:"displayName"`
	GivenName   string `yaml:"givenName"`
	FamilyName  string `yaml:"familyName"`
	// City, Region and Country, when set, fill the user's location
	// (policy.User.Location): typically l, st and c (RFC 4519; c is an
	// ISO 3166 two-letter code; a value that is not one is left out).
	// None is read by default.
	City    string `yaml:"city"`
	Region  string `yaml:"region"`
	Country string `yaml:"country"`
	// Phone, when set (typically telephoneNumber), is kept as the user's
	// attribute "phone": the work number a member may share with their
	// groups (never shown unless they do).
	Phone string `yaml:"phone"`
	// GroupName is the group attribute that becomes its display name
	// (default cn).
	GroupName string `yaml:"groupName"`
}

// DirectoryConfig is one directory of a tenant, as written under
// tenants[].ldap[] in the configuration file.
type DirectoryConfig struct {
	// ID names the directory; the source of its records is "ldap:<ID>".
	ID string `yaml:"id"`
	// URL is ldap://host:port or ldaps://host:port.
	URL string `yaml:"url"`
	// StartTLS upgrades an ldap:// connection with the StartTLS
	// operation (RFC 4511 §4.14).
	StartTLS bool `yaml:"startTLS"`
	// CAFile is a PEM bundle of CAs trusted for the server certificate
	// (system roots when empty).
	CAFile string `yaml:"caFile"`
	// InsecureSkipVerify turns off certificate verification. Tests only.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify"`
	// BindDN and BindPassword are the service account used to search.
	BindDN       string `yaml:"bindDN"`
	BindPassword string `yaml:"bindPassword"`
	// Flavor presets the fields below: openldap (default),
	// activedirectory, freeipa (id ipaUniqueID), 389ds (the freeipa
	// attributes with id nsUniqueId). freeipa and 389ds poll
	// modifyTimestamp and read deletions from the retro changelog
	// (cn=changelog) when the server publishes one.
	Flavor     Flavor       `yaml:"flavor"`
	Users      SearchConfig `yaml:"users"`
	Groups     SearchConfig `yaml:"groups"`
	Attributes AttributeMap `yaml:"attributes"`
	// Membership is the group attribute listing members: member and
	// uniqueMember hold DNs, memberUid holds user names.
	Membership string `yaml:"membership"`
	// MemberRange is the number of member values asked for per request
	// (ranged retrieval, [MS-ADTS] §3.1.1.3.1.3.3): a group entry carries
	// the first MemberRange values, and the rest are read a range at a
	// time. Active Directory returns at most MaxValRange values (1,500 by
	// default) of an attribute and expects the client to ask for the next
	// range; a larger MemberRange still works (the server's ranges are
	// followed). Default 1500 for activedirectory; 0 for other flavors;
	// -1 turns it off.
	MemberRange int `yaml:"memberRange"`
	// Syncrepl is auto (default) or off. With auto, an OpenLDAP
	// directory with entryUUID ids is followed with RFC 4533 content
	// synchronisation where the server offers it (syncprov): incremental
	// runs see deletions, and Run applies changes as they happen
	// (Source.Persist), polling otherwise.
	Syncrepl string `yaml:"syncrepl"`
	// Interval between incremental runs; FullSyncInterval between full
	// reconciles (default 1h, or Interval when that is longer).
	Interval         time.Duration `yaml:"interval"`
	FullSyncInterval time.Duration `yaml:"fullSyncInterval"`
	// DeletionGuard bounds what a run may remove (users deleted or
	// deactivated, groups deleted, memberships removed) without an
	// approval. The old scalar form "deletionGuard: 0.10" sets the share
	// of users and of memberships.
	DeletionGuard DeletionGuard `yaml:"deletionGuard"`
	// Timeout bounds dialing and each LDAP operation.
	Timeout time.Duration `yaml:"timeout"`
	// PageSize is the RFC 2696 page size (default 1000).
	PageSize int `yaml:"pageSize"`
	// VerifiedEmailDomains are the e-mail domains this directory is
	// authoritative for: the OIDC provider reports a user's address in
	// one of them (or a subdomain) as verified (email_verified, OIDC Core
	// §5.1), any other address as unverified. Each must lie within the
	// tenant's domains. Empty: no address of this directory is verified.
	VerifiedEmailDomains []string `yaml:"verifiedEmailDomains"`
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Source returns the Source value of the records of this directory:
// "ldap:<id>".
func (c DirectoryConfig) Source() string { return "ldap:" + c.ID }

// Validate applies the flavor presets and defaults to omitted fields and
// checks the configuration. Its messages name the field, as in
// "ldap[corp].users.baseDN: required"; they wrap ErrConfig.
func (c *DirectoryConfig) Validate() error {
	name := func(field string) string { return fmt.Sprintf("ldap[%s].%s", c.ID, field) }
	bad := func(field, msg string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, name(field), fmt.Sprintf(msg, args...))
	}
	if !idRE.MatchString(c.ID) {
		return fmt.Errorf("%w: ldap[%s].id: must be lower-case letters, digits, '-' or '_'", ErrConfig, c.ID)
	}
	if c.Flavor == "" {
		c.Flavor = FlavorOpenLDAP
	}
	p, ok := presets[c.Flavor]
	if !ok {
		return bad("flavor", "unknown %q (openldap, activedirectory, freeipa, 389ds)", c.Flavor)
	}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&c.Users.Filter, p.userFilter)
	def(&c.Groups.Filter, p.groupFilter)
	def(&c.Attributes.ID, p.attrs.ID)
	def(&c.Attributes.UserName, p.attrs.UserName)
	def(&c.Attributes.Email, p.attrs.Email)
	def(&c.Attributes.DisplayName, p.attrs.DisplayName)
	def(&c.Attributes.GivenName, p.attrs.GivenName)
	def(&c.Attributes.FamilyName, p.attrs.FamilyName)
	def(&c.Attributes.GroupName, p.attrs.GroupName)
	def(&c.Membership, p.membership)
	if c.MemberRange == 0 {
		c.MemberRange = p.memberRange
	}
	def(&c.Syncrepl, SyncreplAuto)
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.FullSyncInterval == 0 {
		// The default follows a long interval: every run is then full.
		c.FullSyncInterval = max(DefaultFullSyncInterval, c.Interval)
	}
	c.DeletionGuard.defaults()
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}

	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return bad("url", "required")
	case err != nil:
		return bad("url", "%v", err)
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		return bad("url", "scheme must be ldap or ldaps, not %q", u.Scheme)
	case u.Host == "":
		return bad("url", "host required")
	case c.StartTLS && u.Scheme == "ldaps":
		return bad("startTLS", "cannot be used with ldaps://")
	}
	if c.CAFile != "" {
		if _, err := os.Stat(c.CAFile); err != nil {
			return bad("caFile", "%v", err)
		}
	}
	if c.BindDN != "" && c.BindPassword == "" {
		return bad("bindPassword", "required with bindDN")
	}
	for _, f := range []struct{ field, v string }{
		{"users.baseDN", c.Users.BaseDN},
		{"groups.baseDN", c.Groups.BaseDN},
		{"attributes.id", c.Attributes.ID},
		{"attributes.userName", c.Attributes.UserName},
	} {
		if strings.TrimSpace(f.v) == "" {
			return bad(f.field, "required")
		}
	}
	for _, f := range []struct{ field, v string }{{"users.filter", c.Users.Filter}, {"groups.filter", c.Groups.Filter}} {
		if !strings.HasPrefix(f.v, "(") || !strings.HasSuffix(f.v, ")") {
			return bad(f.field, "must be an LDAP filter in parentheses")
		}
	}
	switch c.Membership {
	case MembershipMember, MembershipUniqueMember, MembershipMemberUID:
	default:
		return bad("membership", "must be member, uniqueMember or memberUid, not %q", c.Membership)
	}
	switch {
	case c.Interval < 0:
		return bad("interval", "must be positive")
	case c.FullSyncInterval < c.Interval:
		return bad("fullSyncInterval", "must be at least interval (%s)", c.Interval)
	}
	if field, msg := c.DeletionGuard.check(); field != "" {
		return bad("deletionGuard"+field, "%s", msg)
	}
	switch {
	case c.Timeout < 0:
		return bad("timeout", "must be positive")
	case c.PageSize < 0 || c.PageSize > 100000:
		return bad("pageSize", "must be between 1 and 100000")
	case c.MemberRange < -1:
		return bad("memberRange", "must be positive, or -1 (off)")
	case c.Syncrepl != SyncreplAuto && c.Syncrepl != SyncreplOff:
		return bad("syncrepl", "must be auto or off, not %q", c.Syncrepl)
	}
	return nil
}

// tlsConfig returns the TLS configuration for the directory's host.
func (c DirectoryConfig) tlsConfig() (*tls.Config, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: ldap[%s].url: %w", ErrConfig, c.ID, err)
	}
	tc := &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pemBytes, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: ldap[%s].caFile: %w", ErrConfig, c.ID, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("%w: ldap[%s].caFile: no PEM certificates", ErrConfig, c.ID)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

type preset struct {
	userFilter, groupFilter string
	attrs                   AttributeMap
	membership              string
	memberRange             int
	disabled                disabledCheck
}

// disabledCheck says how a flavor marks disabled accounts.
type disabledCheck int

const (
	disabledNone      disabledCheck = iota
	disabledPPolicy                 // pwdAccountLockedTime present
	disabledUACBit2                 // AD userAccountControl & 2
	disabledNsAccount               // FreeIPA nsAccountLock=TRUE
)

// groupOfNames is the preset of the RFC 4519 directories (OpenLDAP,
// FreeIPA, 389-ds): users named by uid, groups of names listing their
// members in member. They differ only in the users' object class, the
// attribute that holds an entry's stable id, and how an account is marked
// disabled.
func groupOfNames(userClass, id string, disabled disabledCheck) preset {
	return preset{
		userFilter:  "(objectClass=" + userClass + ")",
		groupFilter: "(objectClass=groupOfNames)",
		attrs: AttributeMap{ID: id, UserName: "uid", Email: "mail", DisplayName: "cn",
			GivenName: "givenName", FamilyName: "sn", GroupName: "cn"},
		membership: MembershipMember,
		disabled:   disabled,
	}
}

var presets = map[Flavor]preset{
	FlavorOpenLDAP: groupOfNames("inetOrgPerson", "entryUUID", disabledPPolicy),
	FlavorActiveDirectory: {
		userFilter:  "(&(objectCategory=person)(objectClass=user))",
		groupFilter: "(objectClass=group)",
		attrs: AttributeMap{ID: "objectGUID", UserName: "sAMAccountName", Email: "mail", DisplayName: "displayName",
			GivenName: "givenName", FamilyName: "sn", GroupName: "cn"},
		membership:  MembershipMember,
		memberRange: 1500,
		disabled:    disabledUACBit2,
	},
	FlavorFreeIPA: groupOfNames("person", "ipaUniqueID", disabledNsAccount),
	Flavor389DS:   groupOfNames("person", "nsUniqueId", disabledNsAccount),
}

// GuardLimit bounds one kind of removal: a share of the records this
// source holds, and a count. Either one exceeded trips the guard.
type GuardLimit struct {
	// Share is the largest fraction of the stored records (users, or
	// direct memberships) that may be removed; 1 sets no share limit.
	Share float64 `yaml:"share"`
	// Count is the largest number that may be removed; 0 sets no count
	// limit.
	Count int `yaml:"count"`
}

// UnmarshalYAML accepts a number (the share) or {share, count}.
func (l *GuardLimit) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&l.Share)
	}
	if err := knownKeys(n, "share", "count"); err != nil {
		return err
	}
	type plain GuardLimit
	return n.Decode((*plain)(l))
}

func (l GuardLimit) set() bool { return l.Share != 0 || l.Count != 0 }

// exceeded reports whether removing k of n records goes beyond l.
func (l GuardLimit) exceeded(k, n int) bool {
	if k == 0 {
		return false
	}
	if l.Count > 0 && k > l.Count {
		return true
	}
	if l.Share <= 0 || l.Share >= 1 {
		return false
	}
	return n <= 0 || float64(k)/float64(n) > l.Share
}

// DeletionGuard bounds what directory runs may remove without an
// approval (see Source.Approve). It weighs one run's whole removal — users
// deleted or deactivated, groups deleted, memberships removed — and, over
// Window, the removals runs applied without approval. Additions and
// attribute changes are never held.
//
// In YAML it is either a number, the old form (the share of users and of
// memberships; 1 turns the share limits off), or a mapping:
//
//	deletionGuard: {users: 0.10, memberships: {share: 0.10, count: 5000},
//	                window: 24h, windowUsers: 0.20, windowMemberships: 0.20,
//	                minEntries: 10}
type DeletionGuard struct {
	// Users bounds the users one run deletes or deactivates (and the
	// groups it deletes, as a share of groups). Default share 0.10.
	Users GuardLimit `yaml:"users"`
	// Memberships bounds the direct memberships (user in group, group in
	// group) one run removes, those of deleted users and groups included.
	// Default share 0.10.
	Memberships GuardLimit `yaml:"memberships"`
	// Window is the period WindowUsers and WindowMemberships look back
	// on (default 24h).
	Window time.Duration `yaml:"window"`
	// WindowUsers and WindowMemberships bound the removals applied
	// without approval within Window, this run's included. Unset: no
	// window limit.
	WindowUsers       GuardLimit `yaml:"windowUsers"`
	WindowMemberships GuardLimit `yaml:"windowMemberships"`
	// MinEntries: a full run that reads no user (or no group) where this
	// source holds at least MinEntries of them takes it for a vanished
	// subtree — a failure of the directory, not deletions (default 10;
	// negative turns the check off).
	MinEntries int `yaml:"minEntries"`
}

// GuardShare returns the guard of the old scalar form: share of users and
// of memberships; 1 turns the share limits off.
func GuardShare(share float64) DeletionGuard {
	return DeletionGuard{Users: GuardLimit{Share: share}, Memberships: GuardLimit{Share: share}}
}

// UnmarshalYAML accepts the old scalar form as well as the mapping.
func (g *DeletionGuard) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var share float64
		if err := n.Decode(&share); err != nil {
			return err
		}
		*g = GuardShare(share)
		return nil
	}
	if err := knownKeys(n, "users", "memberships", "window", "windowUsers", "windowMemberships", "minEntries"); err != nil {
		return err
	}
	type plain DeletionGuard
	return n.Decode((*plain)(g))
}

// knownKeys refuses a mapping key not in keys (a custom UnmarshalYAML
// escapes the decoder's KnownFields).
func knownKeys(n *yaml.Node, keys ...string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a number or a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !slices.Contains(keys, k) {
			return fmt.Errorf("line %d: field %s not found (want one of %s)", n.Content[i].Line, k, strings.Join(keys, ", "))
		}
	}
	return nil
}

func (g *DeletionGuard) defaults() {
	if g.Users.Share == 0 {
		g.Users.Share = DefaultDeletionGuard
	}
	if g.Memberships.Share == 0 {
		g.Memberships.Share = DefaultDeletionGuard
	}
	if g.Window == 0 {
		g.Window = DefaultGuardWindow
	}
	if g.MinEntries == 0 {
		g.MinEntries = DefaultMinEntries
	}
}

// check returns the faulty field (".users.share"…) and why, or "".
func (g DeletionGuard) check() (field, msg string) {
	for _, l := range []struct {
		name string
		l    GuardLimit
	}{{".users", g.Users}, {".memberships", g.Memberships}, {".windowUsers", g.WindowUsers}, {".windowMemberships", g.WindowMemberships}} {
		if l.l.Share < 0 || l.l.Share > 1 {
			return l.name + ".share", "must be a fraction between 0 and 1"
		}
		if l.l.Count < 0 {
			return l.name + ".count", "must not be negative"
		}
	}
	if g.Window < 0 {
		return ".window", "must be positive"
	}
	return "", ""
}
