package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Flavor selects presets for a kind of directory server.
type Flavor string

// Supported flavors.
const (
	FlavorOpenLDAP        Flavor = "openldap"
	FlavorActiveDirectory Flavor = "activedirectory"
	FlavorFreeIPA         Flavor = "freeipa"
)

// Membership attribute styles (see DirectoryConfig.Membership).
const (
	MembershipMember       = "member"
	MembershipUniqueMember = "uniqueMember"
	MembershipMemberUID    = "memberUid"
)

// Defaults applied by Validate to omitted fields.
const (
	DefaultInterval         = 5 * time.Minute
	DefaultFullSyncInterval = time.Hour
	DefaultDeletionGuard    = 0.10
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
	// binary, turned into its UUID string), ipaUniqueID (FreeIPA). It
	// becomes the ExternalID, so a rename or a move is an update.
	ID          string `yaml:"id"`
	UserName    string `yaml:"userName"`
	Email       string `yaml:"email"`
	DisplayName string `yaml:"displayName"`
	GivenName   string `yaml:"givenName"`
	FamilyName  string `yaml:"familyName"`
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
	// activedirectory, freeipa.
	Flavor     Flavor       `yaml:"flavor"`
	Users      SearchConfig `yaml:"users"`
	Groups     SearchConfig `yaml:"groups"`
	Attributes AttributeMap `yaml:"attributes"`
	// Membership is the group attribute listing members: member and
	// uniqueMember hold DNs, memberUid holds user names.
	Membership string `yaml:"membership"`
	// Interval between incremental runs; FullSyncInterval between full
	// reconciles, which also catch deletions.
	Interval         time.Duration `yaml:"interval"`
	FullSyncInterval time.Duration `yaml:"fullSyncInterval"`
	// DeletionGuard is the largest fraction of this source's users (or
	// groups) one run may delete or deactivate without an approval.
	// 0 means the default 0.10; 1 turns the guard off.
	DeletionGuard float64 `yaml:"deletionGuard"`
	// Timeout bounds dialing and each LDAP operation.
	Timeout time.Duration `yaml:"timeout"`
	// PageSize is the RFC 2696 page size (default 1000).
	PageSize int `yaml:"pageSize"`
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
		return bad("flavor", "unknown %q (openldap, activedirectory, freeipa)", c.Flavor)
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
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.FullSyncInterval == 0 {
		c.FullSyncInterval = DefaultFullSyncInterval
	}
	if c.DeletionGuard == 0 {
		c.DeletionGuard = DefaultDeletionGuard
	}
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
	case c.DeletionGuard < 0 || c.DeletionGuard > 1:
		return bad("deletionGuard", "must be a fraction between 0 and 1")
	case c.Timeout < 0:
		return bad("timeout", "must be positive")
	case c.PageSize < 0 || c.PageSize > 100000:
		return bad("pageSize", "must be between 1 and 100000")
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

var presets = map[Flavor]preset{
	FlavorOpenLDAP: {
		userFilter:  "(objectClass=inetOrgPerson)",
		groupFilter: "(objectClass=groupOfNames)",
		attrs: AttributeMap{ID: "entryUUID", UserName: "uid", Email: "mail", DisplayName: "cn",
			GivenName: "givenName", FamilyName: "sn", GroupName: "cn"},
		membership: MembershipMember,
		disabled:   disabledPPolicy,
	},
	FlavorActiveDirectory: {
		userFilter:  "(&(objectCategory=person)(objectClass=user))",
		groupFilter: "(objectClass=group)",
		attrs: AttributeMap{ID: "objectGUID", UserName: "sAMAccountName", Email: "mail", DisplayName: "displayName",
			GivenName: "givenName", FamilyName: "sn", GroupName: "cn"},
		membership: MembershipMember,
		disabled:   disabledUACBit2,
	},
	FlavorFreeIPA: {
		userFilter:  "(objectClass=person)",
		groupFilter: "(objectClass=groupOfNames)",
		attrs: AttributeMap{ID: "ipaUniqueID", UserName: "uid", Email: "mail", DisplayName: "cn",
			GivenName: "givenName", FamilyName: "sn", GroupName: "cn"},
		membership: MembershipMember,
		disabled:   disabledNsAccount,
	},
}
