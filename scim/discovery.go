package scim

// This file holds discovery: /ServiceProviderConfig, /ResourceTypes and /Schemas (RFC 7644 §4).

import (
	"net/http"
	"strings"
)

// serviceProviderConfig tells the truth about what this server does
// (RFC 7643 §5).
func (s *Server) serviceProviderConfig(r request) map[string]any {
	return map[string]any{
		"schemas":          []any{spcSchema},
		"documentationUri": "https://github.com/roster-dev/roster#scim",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": true, "maxOperations": s.bulkMaxOps, "maxPayloadSize": s.bulkMax},
		"filter":           map[string]any{"supported": true, "maxResults": s.maxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "A per-tenant bearer token in the Authorization header.",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc6750",
			"primary":     true,
		}},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     s.location(r.tenant, "ServiceProviderConfig", ""),
		},
	}
}

// resourceTypes serves /ResourceTypes and /ResourceTypes/{name}
// (RFC 7644 §4). Query parameters are ignored.
func (s *Server) resourceTypes(r request, name string) (response, error) {
	return s.discovery(r, s.discFor(r.tenant).resourceTypes, "ResourceType", "ResourceTypes", "name", name)
}

// schemas serves /Schemas and /Schemas/{urn} (RFC 7644 §4).
func (s *Server) schemas(r request, id string) (response, error) {
	return s.discovery(r, s.discFor(r.tenant).schemas, "Schema", "Schemas", "id", id)
}

// discovery serves a discovery listing, or its item whose key attribute
// equals want (case-insensitively) when want is set.
func (s *Server) discovery(r request, items []map[string]any, resourceType, endpoint, key, want string) (response, error) {
	var all []any
	for _, it := range items {
		m := copyMap(it)
		m["meta"] = map[string]any{"resourceType": resourceType, "location": s.location(r.tenant, endpoint, it[key].(string))}
		if want != "" && strings.EqualFold(want, it[key].(string)) {
			return response{status: http.StatusOK, body: m}, nil
		}
		all = append(all, m)
	}
	if want != "" {
		return response{}, errNotFound(resourceType, want)
	}
	return response{status: http.StatusOK, body: listResponse(len(all), 1, all)}, nil
}
