package scim

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	scimerr "github.com/elimity-com/scim/errors"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// etag returns the weak entity tag of a record version (RFC 7644 §3.14).
func etag(version uint64) string { return `W/"` + strconv.FormatUint(version, 10) + `"` }

func meta(kind, loc string, created, updated time.Time, version uint64) map[string]any {
	m := map[string]any{"resourceType": kind, "location": loc, "version": etag(version)}
	if !created.IsZero() {
		m["created"] = created.UTC().Format(time.RFC3339)
	}
	if !updated.IsZero() {
		m["lastModified"] = updated.UTC().Format(time.RFC3339)
	}
	return m
}

// userToSCIM renders a user as a SCIM User (RFC 7643 §4.1) with the
// enterprise extension (§4.3) when it has one. Attributes are laid out
// first, so the core fields always win.
func userToSCIM(u policy.User, loc string) map[string]any {
	m := make(map[string]any, len(u.Attributes)+10)
	for k, v := range u.Attributes {
		m[k] = deepCopy(v)
	}
	name, _ := m["name"].(map[string]any)
	if name == nil {
		name = map[string]any{}
	}
	if u.GivenName != "" {
		name["givenName"] = u.GivenName
	}
	if u.FamilyName != "" {
		name["familyName"] = u.FamilyName
	}
	if len(name) > 0 {
		m["name"] = name
	} else {
		delete(m, "name")
	}
	m["schemas"] = withExtensions(m, UserSchema)
	m["id"] = string(u.ID)
	if u.ExternalID != "" {
		m["externalId"] = u.ExternalID
	}
	m["userName"] = u.UserName
	if u.DisplayName != "" {
		m["displayName"] = u.DisplayName
	}
	if len(u.Emails) > 0 {
		emails := make([]any, len(u.Emails))
		for i, e := range u.Emails {
			em := map[string]any{"value": e.Value}
			if e.Type != "" {
				em["type"] = e.Type
			}
			if e.Primary {
				em["primary"] = true
			}
			emails[i] = em
		}
		m["emails"] = emails
	}
	m["active"] = u.Active
	m["meta"] = meta(typeUser, loc, u.Created, u.Updated, u.Version)
	return m
}

// withExtensions lists core and, after it, the extension URNs of which
// the resource m holds an object: the enterprise one first, then the
// tenant's in name order.
func withExtensions(m map[string]any, core string) []any {
	schemas := []any{core}
	if _, ok := m[EnterpriseSchema]; ok {
		schemas = append(schemas, EnterpriseSchema)
	}
	var custom []string
	for k, v := range m {
		if _, isObj := v.(map[string]any); isObj && k != EnterpriseSchema && strings.HasPrefix(strings.ToLower(k), "urn:") {
			custom = append(custom, k)
		}
	}
	slices.Sort(custom)
	for _, k := range custom {
		schemas = append(schemas, k)
	}
	return schemas
}

// dropped are attributes never stored: server-assigned ones, secrets and
// read-only ones Okta echoes back.
var dropped = map[string]bool{"id": true, "meta": true, "schemas": true, "password": true, "groups": true}

// storedAttrs walks a SCIM resource's attributes, normalized, that are
// stored: not in dropped and not null. set maps each onto its field or, for
// one kept exactly as sent, into attrs, which storedAttrs returns (nil when
// none was kept). The first error of set ends the walk; then the attribute
// required must be a non-empty string.
func storedAttrs(m map[string]any, required string, set func(attrs map[string]any, k string, v any) error) (map[string]any, error) {
	m = normalize(m).(map[string]any)
	attrs := map[string]any{}
	for k, v := range m {
		if dropped[k] || v == nil {
			continue
		}
		if err := set(attrs, k, v); err != nil {
			return nil, err
		}
	}
	if s, _ := m[required].(string); s == "" {
		return nil, errorf(scimerr.ScimErrorInvalidValue, "%s is required", required)
	}
	if len(attrs) == 0 {
		return nil, nil
	}
	return attrs, nil
}

// userFromSCIM maps a SCIM User onto a policy.User. Core attributes go to
// their fields; every other attribute, including the enterprise extension,
// is kept in Attributes exactly as sent. Version, ID and timestamps are
// left for the caller.
func userFromSCIM(m map[string]any) (policy.User, error) {
	var u policy.User
	attrs, err := storedAttrs(m, "userName", func(attrs map[string]any, k string, v any) (err error) {
		switch k {
		case "userName":
			u.UserName, err = str(k, v)
		case "externalId":
			u.ExternalID, err = str(k, v)
		case "displayName":
			u.DisplayName, err = str(k, v)
		case "active":
			b, ok := v.(bool)
			if !ok {
				if b, ok = stringBool(v); !ok {
					return errorf(scimerr.ScimErrorInvalidValue, "active must be a boolean")
				}
			}
			u.Active = b
		case "name":
			nm, ok := v.(map[string]any)
			if !ok {
				return errorf(scimerr.ScimErrorInvalidValue, "name must be an object")
			}
			rest := map[string]any{}
			for nk, nv := range nm {
				switch nk {
				case "givenName":
					u.GivenName, err = str("name.givenName", nv)
				case "familyName":
					u.FamilyName, err = str("name.familyName", nv)
				default:
					if nv != nil {
						rest[nk] = nv
					}
				}
				if err != nil {
					return err
				}
			}
			if len(rest) > 0 {
				attrs["name"] = rest
			}
		case "emails":
			u.Emails, err = emails(v)
		case EnterpriseSchema:
			ext, ok := v.(map[string]any)
			if !ok {
				return errorf(scimerr.ScimErrorInvalidValue, "%s must be an object", k)
			}
			if len(ext) > 0 {
				attrs[k] = ext
			}
		default:
			attrs[k] = v
		}
		return err
	})
	u.Attributes = attrs
	return u, err
}

func str(name string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", errorf(scimerr.ScimErrorInvalidValue, "%s must be a string", name)
	}
	return s, nil
}

func emails(v any) ([]policy.Email, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, errorf(scimerr.ScimErrorInvalidValue, "emails must be an array")
	}
	var out []policy.Email
	for _, el := range list {
		em, ok := el.(map[string]any)
		if !ok {
			return nil, errorf(scimerr.ScimErrorInvalidValue, "emails must hold objects")
		}
		var e policy.Email
		var err error
		if v := em["value"]; v != nil {
			if e.Value, err = str("emails.value", v); err != nil {
				return nil, err
			}
		}
		if v := em["type"]; v != nil {
			if e.Type, err = str("emails.type", v); err != nil {
				return nil, err
			}
		}
		switch p := em["primary"].(type) {
		case nil:
		case bool:
			e.Primary = p
		default:
			b, ok := stringBool(p)
			if !ok {
				return nil, errorf(scimerr.ScimErrorInvalidValue, "emails.primary must be a boolean")
			}
			e.Primary = b
		}
		if e.Value == "" {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// sameUser reports whether a and b hold the same SCIM-visible facts.
func sameUser(a, b policy.User) bool {
	a.ID, a.Version, a.Created, a.Updated, a.Source, a.Tenant = "", 0, time.Time{}, time.Time{}, "", ""
	b.ID, b.Version, b.Created, b.Updated, b.Source, b.Tenant = "", 0, time.Time{}, time.Time{}, "", ""
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// groupToSCIM renders a directory group as a SCIM Group (RFC 7643 §4.2).
// Members are listed users first, then groups, each in stored order.
func groupToSCIM(g policy.DirGroup, loc func(kind, id string) string) map[string]any {
	m := make(map[string]any, len(g.Attributes)+6)
	for k, v := range g.Attributes {
		m[k] = deepCopy(v)
	}
	m["schemas"] = withExtensions(m, GroupSchema)
	m["id"] = string(g.ID)
	if g.ExternalID != "" {
		m["externalId"] = g.ExternalID
	}
	m["displayName"] = g.DisplayName
	members := make([]any, 0, len(g.MemberUsers)+len(g.MemberGroups))
	for _, u := range g.MemberUsers {
		members = append(members, map[string]any{"value": string(u), "type": typeUser, "$ref": loc("Users", string(u))})
	}
	for _, sg := range g.MemberGroups {
		members = append(members, map[string]any{"value": string(sg), "type": typeGroup, "$ref": loc("Groups", string(sg))})
	}
	m["members"] = members
	m["meta"] = meta(typeGroup, loc("Groups", string(g.ID)), g.Created, g.Updated, g.Version)
	return m
}

// groupFromSCIM maps a SCIM Group onto a policy.DirGroup. Members are
// resolved within tenant: each value must name a user or a directory group
// of the tenant (known caches the kind of ids already resolved: "User" or
// "Group").
func groupFromSCIM(tx store.Tx, tenant policy.TenantID, m map[string]any, known map[string]string) (policy.DirGroup, error) {
	var g policy.DirGroup
	attrs, err := storedAttrs(m, "displayName", func(attrs map[string]any, k string, v any) (err error) {
		switch k {
		case "displayName":
			g.DisplayName, err = str(k, v)
		case "externalId":
			g.ExternalID, err = str(k, v)
		case "members":
			g.MemberUsers, g.MemberGroups, err = members(tx, tenant, v, known)
		default:
			attrs[k] = v
		}
		return err
	})
	g.Attributes = attrs
	return g, err
}

func members(tx store.Tx, tenant policy.TenantID, v any, known map[string]string) ([]policy.UserID, []policy.DirGroupID, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, nil, errorf(scimerr.ScimErrorInvalidValue, "members must be an array")
	}
	var users []policy.UserID
	var groups []policy.DirGroupID
	seen := make(map[string]bool, len(list))
	for _, el := range list {
		mm, ok := el.(map[string]any)
		if !ok {
			return nil, nil, errorf(scimerr.ScimErrorInvalidValue, "members must hold objects")
		}
		id, ok := mm["value"].(string)
		if !ok || id == "" {
			return nil, nil, errorf(scimerr.ScimErrorInvalidValue, "members.value must be a non-empty string")
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		kind := known[id]
		if kind == "" {
			var err error
			if kind, err = memberKind(tx, tenant, id); err != nil {
				return nil, nil, err
			}
		}
		if kind == typeUser {
			users = append(users, policy.UserID(id))
		} else {
			groups = append(groups, policy.DirGroupID(id))
		}
	}
	return users, groups, nil
}

// The resource types Roster serves (RFC 7643 §6), which are also the
// "type" of a group member (RFC 7643 §4.2).
const (
	typeUser  = "User"
	typeGroup = "Group"
)

// memberKind finds whether id is a user or a directory group of tenant.
func memberKind(tx store.Tx, tenant policy.TenantID, id string) (string, error) {
	_, err := tx.User(tenant, policy.UserID(id))
	if err == nil {
		return typeUser, nil
	}
	if !isNotFound(err) {
		return "", err
	}
	_, err = tx.DirGroup(tenant, policy.DirGroupID(id))
	if err == nil {
		return typeGroup, nil
	}
	if !isNotFound(err) {
		return "", err
	}
	return "", errorf(scimerr.ScimErrorInvalidValue, "member %q is not a user or group of this tenant", id)
}

func knownMembers(g policy.DirGroup) map[string]string {
	k := make(map[string]string, len(g.MemberUsers)+len(g.MemberGroups))
	for _, u := range g.MemberUsers {
		k[string(u)] = typeUser
	}
	for _, sg := range g.MemberGroups {
		k[string(sg)] = typeGroup
	}
	return k
}

// sameGroup reports whether a and b hold the same SCIM-visible facts.
func sameGroup(a, b policy.DirGroup) bool {
	return a.DisplayName == b.DisplayName && a.ExternalID == b.ExternalID &&
		slices.Equal(a.MemberUsers, b.MemberUsers) && slices.Equal(a.MemberGroups, b.MemberGroups) &&
		jsonEqual(a.Attributes, b.Attributes)
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}
