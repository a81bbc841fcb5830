package scim

// normalizeManager turns the shapes of the enterprise manager attribute
// (RFC 7643 §4.3) that Entra ID and Okta have sent into the one the schema
// defines, {"value", "$ref"?, "displayName"?}:
//
//   - a bare string, the manager's id: {"value": "…"};
//   - an object: kept (its sub-attributes are then checked by the schema);
//   - a legacy array of one such element, as SCIM 1.1 clients send it,
//     e.g. [{"value": "…", "$ref": "…"}]: its primary element, else its
//     first; an empty array clears the manager.
//
// Anything else is returned unchanged for the schema check to refuse.
func normalizeManager(v any) any {
	switch x := v.(type) {
	case string:
		return map[string]any{"value": x}
	case []any:
		if len(x) == 0 {
			return nil
		}
		pick := x[0]
		for _, el := range x {
			if isPrimary(el) {
				pick = el
				break
			}
		}
		if _, nested := pick.([]any); nested {
			return v
		}
		return normalizeManager(pick)
	}
	return v
}
