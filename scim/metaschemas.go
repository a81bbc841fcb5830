package scim

// The schemas of the discovery resources themselves (RFC 7643 §8.7.2):
// ServiceProviderConfig (§5), ResourceType (§6) and Schema (§7), served at
// /Schemas beside the resource schemas. Every attribute is readOnly.

// roAttr is a readOnly attribute of a discovery schema.
func roAttr(name, typ string, multi bool, subs ...map[string]any) map[string]any {
	m := map[string]any{
		"name": name, "type": typ, "multiValued": multi, "required": false,
		"caseExact": false, "mutability": "readOnly", "returned": "default", "uniqueness": "none",
	}
	if typ == "reference" {
		m["referenceTypes"] = []any{"external"}
		m["caseExact"] = true
	}
	if len(subs) > 0 {
		list := make([]any, len(subs))
		for i, s := range subs {
			list[i] = s
		}
		m["subAttributes"] = list
	}
	return m
}

func supported(name string, more ...map[string]any) map[string]any {
	return roAttr(name, "complex", false, append([]map[string]any{roAttr("supported", "boolean", false)}, more...)...)
}

func metaSchemaDoc(id, name, desc string, attrs ...map[string]any) map[string]any {
	list := make([]any, len(attrs))
	for i, a := range attrs {
		list[i] = a
	}
	return docJSON(map[string]any{
		"schemas": []any{schemaSchema}, "id": id, "name": name, "description": desc, "attributes": list,
	})
}

// metaSchemas returns the documents of the discovery schemas.
func metaSchemas() []map[string]any {
	attrProps := []map[string]any{
		roAttr("name", "string", false), roAttr("type", "string", false), roAttr("multiValued", "boolean", false),
		roAttr("description", "string", false), roAttr("required", "boolean", false),
		roAttr("canonicalValues", "string", true), roAttr("caseExact", "boolean", false),
		roAttr("mutability", "string", false), roAttr("returned", "string", false),
		roAttr("uniqueness", "string", false), roAttr("referenceTypes", "string", true),
	}
	return []map[string]any{
		metaSchemaDoc(spcSchema, "Service Provider Configuration", "Schema for representing the service provider's configuration",
			roAttr("documentationUri", "reference", false),
			supported("patch"),
			supported("bulk", roAttr("maxOperations", "integer", false), roAttr("maxPayloadSize", "integer", false)),
			supported("filter", roAttr("maxResults", "integer", false)),
			supported("changePassword"),
			supported("sort"),
			supported("etag"),
			roAttr("authenticationSchemes", "complex", true,
				roAttr("type", "string", false), roAttr("name", "string", false), roAttr("description", "string", false),
				roAttr("specUri", "reference", false), roAttr("documentationUri", "reference", false), roAttr("primary", "boolean", false)),
		),
		metaSchemaDoc(resourceTypeSchema, "ResourceType", "Specifies the schema that describes a SCIM resource type",
			roAttr("id", "string", false), roAttr("name", "string", false), roAttr("description", "string", false),
			roAttr("endpoint", "reference", false), roAttr("schema", "reference", false),
			roAttr("schemaExtensions", "complex", true, roAttr("schema", "reference", false), roAttr("required", "boolean", false)),
		),
		metaSchemaDoc(schemaSchema, "Schema", "Specifies the schema attribute definitions",
			roAttr("id", "string", false), roAttr("name", "string", false), roAttr("description", "string", false),
			roAttr("attributes", "complex", true, append(attrProps, roAttr("subAttributes", "complex", true, attrProps...))...),
		),
	}
}
