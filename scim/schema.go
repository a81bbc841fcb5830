package scim

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/elimity-com/scim/schema"
)

// Schema and message URNs (RFC 7643 §8.7, RFC 7644 §3).
const (
	UserSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

	patchOpSchema       = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	listResponseSchema  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	searchRequestSchema = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	spcSchema           = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	resourceTypeSchema  = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchema        = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

var knownSchemas = []string{UserSchema, GroupSchema, EnterpriseSchema}

// knownSchema reports whether s is (case-insensitively) one of the schema
// URNs this server serves, returning its canonical spelling.
func knownSchema(s string) (string, bool) {
	for _, k := range knownSchemas {
		if strings.EqualFold(s, k) {
			return k, true
		}
	}
	return "", false
}

// splitKnownSchema splits "urn:…:User:employeeNumber" into the known URN and
// the attribute path after it.
func splitKnownSchema(s string) (urn, rest string, ok bool) {
	for _, k := range knownSchemas {
		if len(s) > len(k)+1 && strings.EqualFold(s[:len(k)], k) && s[len(k)] == ':' {
			return k, s[len(k)+1:], true
		}
	}
	return "", "", false
}

// canonicalNames maps lower-cased attribute names of RFC 7643 to their
// canonical spelling, so that "UserName" and "username" are stored as
// "userName".
var canonicalNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"id", "externalId", "meta", "schemas", "userName", "name", "formatted",
		"familyName", "givenName", "middleName", "honorificPrefix",
		"honorificSuffix", "displayName", "nickName", "profileUrl", "title",
		"userType", "preferredLanguage", "locale", "timezone", "active",
		"password", "emails", "phoneNumbers", "ims", "photos", "addresses",
		"groups", "entitlements", "roles", "x509Certificates", "value",
		"display", "type", "primary", "$ref", "members", "employeeNumber",
		"costCenter", "organization", "division", "department", "manager",
		"streetAddress", "locality", "region", "postalCode", "country",
		"resourceType", "created", "lastModified", "location", "version",
	} {
		m[strings.ToLower(n)] = n
	}
	return m
}()

func canonical(name string) string {
	if c, ok := canonicalNames[strings.ToLower(name)]; ok {
		return c
	}
	if c, ok := knownSchema(name); ok {
		return c
	}
	return name
}

// normalize rewrites a decoded request value in place into the shape the
// rest of the package expects: known attribute names in canonical case,
// string booleans ("True", "False", as Entra ID sends them) of active and
// primary turned into booleans, and a manager in any of the shapes IdPs send
// turned into {"value": …} (normalizeManager). Unknown attributes are kept exactly as sent.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		for _, k := range keys {
			val := v[k]
			c := canonical(k)
			if c != k {
				if _, clash := v[c]; !clash {
					delete(v, k)
				}
			}
			val = normalize(val)
			switch c {
			case "active", "primary":
				if b, ok := stringBool(val); ok {
					val = b
				}
			case "manager":
				val = normalizeManager(val)
			}
			v[c] = val
		}
		return v
	case []any:
		for i := range v {
			v[i] = normalize(v[i])
		}
		return v
	}
	return v
}

func stringBool(v any) (bool, bool) {
	s, ok := v.(string)
	if !ok {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// discovery holds the pre-rendered discovery documents of RFC 7644 §4 of
// a tenant, and the resource schemas they describe, which drive the
// validation of what the tenant sends.
type discovery struct {
	schemas       []map[string]any
	resourceTypes []map[string]any
	user, group   *resourceSchema
}

// newDiscovery renders the discovery documents: the core and enterprise
// schemas plus the tenant's extensions.
func newDiscovery(exts []Extension) (*discovery, error) {
	d := &discovery{}
	docs := map[string]map[string]any{}
	for _, s := range []schema.Schema{schema.CoreUserSchema(), schema.ExtensionEnterpriseUser(), schema.CoreGroupSchema()} {
		m, err := dropNulls(s.ToMap())
		if err != nil {
			return nil, err
		}
		d.schemas = append(d.schemas, m)
		docs[m["id"].(string)] = m
	}
	d.schemas = append(d.schemas, metaSchemas()...)
	d.user = &resourceSchema{core: schemaFromDoc(docs[UserSchema]), extensions: []*schemaDef{schemaFromDoc(docs[EnterpriseSchema])}}
	d.group = &resourceSchema{core: schemaFromDoc(docs[GroupSchema])}
	userExts := []any{map[string]any{"schema": EnterpriseSchema, "required": false}}
	groupExts := []any{}
	seen := map[string]bool{}
	for _, e := range exts {
		doc, err := extensionDoc(e)
		if err != nil {
			return nil, err
		}
		if seen[strings.ToLower(e.URN)] {
			return nil, fmt.Errorf("extension %q declared twice", e.URN)
		}
		seen[strings.ToLower(e.URN)] = true
		doc = docJSON(doc)
		d.schemas = append(d.schemas, doc)
		ref := map[string]any{"schema": e.URN, "required": false}
		switch e.ResourceType {
		case "", typeUser:
			d.user.extensions = append(d.user.extensions, schemaFromDoc(doc))
			userExts = append(userExts, ref)
		case typeGroup:
			d.group.extensions = append(d.group.extensions, schemaFromDoc(doc))
			groupExts = append(groupExts, ref)
		default:
			return nil, fmt.Errorf("extension %q: resourceType must be User or Group", e.URN)
		}
	}
	d.resourceTypes = []map[string]any{
		{
			"schemas":          []any{resourceTypeSchema},
			"id":               typeUser,
			"name":             typeUser,
			"description":      "User Account",
			"endpoint":         "/Users",
			"schema":           UserSchema,
			"schemaExtensions": userExts,
		},
		{
			"schemas":          []any{resourceTypeSchema},
			"id":               typeGroup,
			"name":             typeGroup,
			"description":      "Group",
			"endpoint":         "/Groups",
			"schema":           GroupSchema,
			"schemaExtensions": groupExts,
		},
	}
	return d, nil
}

// dropNulls round-trips v through JSON, removing null members (Entra ID
// rejects nulls in /Schemas).
func dropNulls(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	stripNulls(m)
	return m, nil
}

func stripNulls(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			if val == nil {
				delete(v, k)
				continue
			}
			stripNulls(val)
		}
	case []any:
		for _, val := range v {
			stripNulls(val)
		}
	}
}
